"""The ``hearth`` command: the studio when run alone, subcommands for the terminal.

Each subcommand is a module in this package with ``add_parser(commands)`` and
``run(args, paths) -> int``; ``COMMANDS`` lists them in the order ``--help`` shows.

Convention: ``--json`` prints exactly one JSON document on stdout and nothing else there;
progress and logs go to stderr. Failures exit non-zero with a one-line message.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from app import __version__
from app.core.common.errors import HearthError
from app.core.common.logs import setup_logging
from app.core.common.paths import default_paths

COMMANDS = (
    "setup",
    "ls",
    "run",
    "serve",
    "search",
    "quants",
    "pull",
    "rm",
    "hw",
    "fit",
    "compare",
    "bench",
)


def no_display(environ: dict[str, str] | None = None, platform: str = sys.platform) -> str:
    """One line saying why the studio cannot open a window here, or "" when it can try.

    On Linux without DISPLAY or WAYLAND_DISPLAY, Qt aborted (exit 134) with a message about
    the xcb-cursor0 library, which sent people installing packages they did not need.
    """
    env = os.environ if environ is None else environ
    if not platform.startswith("linux") or env.get("QT_QPA_PLATFORM"):
        return ""
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return ""
    return (
        "Error: no display found (neither DISPLAY nor WAYLAND_DISPLAY is set): open Hearth "
        "from a desktop session, or use its terminal commands ('hearth --help')."
    )


def build_parser(commands_wanted: tuple[str, ...] = COMMANDS) -> argparse.ArgumentParser:
    """The parser, with the subcommands in ``commands_wanted`` (all by default)."""
    parser = argparse.ArgumentParser(
        prog="hearth",
        description="Hearth: find, download, chat with and compare local language models.",
        epilog="Run 'hearth' with no command to open the studio. "
        "'hearth COMMAND --help' tells more about a command.",
    )
    parser.add_argument("--version", action="version", version=f"hearth {__version__}")
    parser.add_argument("--self-test", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--screenshot", help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", metavar="command", title="commands")
    for name in commands_wanted:
        module = importlib.import_module(f"app.cli.cmd_{name}")
        module.add_parser(commands).set_defaults(handler=module.run)
    return parser


def _child_process(argv: list[str]) -> int | None:
    """Run the child process ``argv`` asks for and return its exit code, or None when ``argv``
    is not a child's (the studio or a command)."""
    from app.core.inference.host import process
    from app.core.quants import quantize_worker

    if argv[0] == quantize_worker.FLAG:  # make_quant's child process: nothing else starts
        return quantize_worker.main(argv[1:])
    if argv[0] == process.FLAG:  # a model host: llama.cpp for one model, nothing else
        from app.core.inference.host import engine_host

        return engine_host.main(argv[1:])
    if argv[0] == "--measure-host":  # measuring quants, llama.cpp in its own process
        from app.core.measure import host

        return host.main(argv[1:])
    if argv[0] == "--bench-chat-child":  # one side of 'hearth bench chat'
        from app.bench import chat_child

        return chat_child.main(argv[1:])
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv:  # 'hearth' alone (the studio) skips these imports: ~10 ms of its start
        child = _child_process(argv)
        if child is not None:
            return child
    # 'hearth' alone opens the studio: importing the twelve subcommands first cost ~0.3 s of
    # its start (numpy and the measuring code came with 'compare'). They are loaded only when
    # a word that is not an option is given (a command, or a misspelt one) or help is asked.
    words = [a for a in argv if not a.startswith("-")]
    wanted = COMMANDS if words or {"-h", "--help"} & set(argv) else ()
    args = build_parser(wanted).parse_args(argv)
    paths = default_paths().ensure()
    # The studio opens its log file after its first paint (run_gui); a command at once.
    setup_logging(paths.log_file, file_later=args.command is None)
    if args.command is None:
        problem = no_display()
        if problem:
            print(problem, file=sys.stderr)
            return 1
        from app.ui.application import run_gui

        return run_gui(paths, self_test=args.self_test, screenshot=args.screenshot)
    try:
        return args.handler(args, paths)
    except HearthError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130

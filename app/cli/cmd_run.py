"""hearth run: chat with a model in the terminal, or answer one prompt and exit."""

from __future__ import annotations

import sys
import threading

from app.cli import load_flags
from app.core.common.paths import Paths, hf_hub_cache
from app.core.config import limits
from app.core.config.sampling import add_flags, from_flags
from app.core.config.settings import Settings
from app.core.inference.host.hosted_engine import HostedEngine
from app.core.inference.types import LoadOptions, SamplingOptions
from app.core.library import catalog


def add_parser(commands):
    parser = commands.add_parser(
        "run",
        help="Chat with a model in the terminal",
        description="Chat with a local model. With -p, answer one prompt and exit.",
    )
    parser.add_argument(
        "model", help="a model name from 'hearth ls' (or part of one), or a path to a .gguf file"
    )
    parser.add_argument("-p", "--prompt", help="answer this one prompt and exit")
    parser.add_argument("--system", type=limits.cli_prompt, help="system prompt")
    add_flags(parser)  # --temperature, --max-tokens...: the settings file's otherwise
    load_flags.add(parser)  # --draft, --lora, --lora-scale
    parser.add_argument(
        "--ctx", type=limits.cli_context, default=None, help="context length in tokens"
    )
    return parser


def run(args, paths: Paths) -> int:
    settings = Settings.load(paths.settings_file)
    model_path = catalog.resolve(args.model, catalog.list_models(paths.models_dir, hf_hub_cache()))
    sampling = SamplingOptions.of(from_flags(args, settings.sampling))
    engine = HostedEngine()  # llama.cpp in its own process: an abort is one line, not a core
    print(f"Loading {model_path.name}...", file=sys.stderr)
    engine.load(
        model_path,
        LoadOptions(
            n_ctx=args.ctx or settings.n_ctx,
            n_gpu_layers=settings.n_gpu_layers,
            n_threads=settings.n_threads,
            draft_tokens=args.draft,
            draft_model_path=args.draft_model,
            lora_path=args.lora,
            lora_scale=args.lora_scale,
        ),
    )
    system = args.system if args.system is not None else settings.system_prompt
    messages = [{"role": "system", "content": system}] if system else []
    try:
        if args.prompt is not None:
            _answer(engine, messages + [{"role": "user", "content": args.prompt}], sampling)
            return 0
        return _interactive(engine, messages, sampling)
    finally:
        engine.unload()


def _answer(engine: HostedEngine, messages: list[dict], sampling: SamplingOptions) -> str:
    parts: list[str] = []

    def on_token(text: str) -> None:
        parts.append(text)
        sys.stdout.write(text)
        sys.stdout.flush()

    stats = engine.chat(messages, sampling, on_token, threading.Event())
    sys.stdout.write("\n")
    sys.stdout.flush()
    print(
        f"[{stats.tokens} tokens, {stats.tokens_per_second:.1f} tok/s, stop: {stats.stop_reason}]",
        file=sys.stderr,
    )
    return "".join(parts)


def _interactive(engine: HostedEngine, messages: list[dict], sampling: SamplingOptions) -> int:
    print("Type a message; an empty line or Ctrl-D ends the chat.", file=sys.stderr)
    while True:
        try:
            text = input(">>> ")
        except EOFError:
            return 0
        if not text.strip():
            return 0
        messages.append({"role": "user", "content": text})
        reply = _answer(engine, messages, sampling)
        messages.append({"role": "assistant", "content": reply})

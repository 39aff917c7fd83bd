"""hearth serve: answer OpenAI-compatible API requests with a local model until Ctrl-C."""

from __future__ import annotations

import os
import signal
import sys
import threading

from app.cli import load_flags
from app.core.common.errors import ModelNotFound
from app.core.common.paths import Paths, hf_hub_cache
from app.core.config import limits
from app.core.config.sampling import add_flags, from_flags
from app.core.config.settings import Settings
from app.core.inference.host.hosted_engine import HostedEngine
from app.core.inference.queue import GenerationQueue
from app.core.inference.types import LoadOptions, SamplingOptions
from app.core.library import catalog, starter
from app.core.server.server import DEFAULT_HOST, DEFAULT_PORT, ApiServer


def add_parser(commands):
    parser = commands.add_parser(
        "serve",
        help="Serve a model over an OpenAI-compatible API",
        description="Serve a local model over an OpenAI-compatible HTTP API (/v1/models, "
        "/v1/chat/completions, and /v1/completions, which continues a prompt as "
        "it stands) until Ctrl-C. Requests are answered one at a time. A model loaded with "
        "its image projector (--mmproj) takes images as image_url parts (data URLs).",
        epilog="Example: hearth serve SmolLM2 --port 8080, then point any OpenAI client at "
        "http://127.0.0.1:8080/v1",
    )
    parser.add_argument(
        "model",
        nargs="?",
        help="a model name from 'hearth ls' (or part of "
        "one), or a path to a .gguf file (default: the starter model)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port to listen on (default {DEFAULT_PORT}; 0 picks a free one)",
    )
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help="address to listen on (default 127.0.0.1, this computer only; "
        "0.0.0.0 lets other devices on your network connect)",
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get("HEARTH_API_KEY", ""),
        help="require this key as 'Authorization: Bearer KEY' (default: the "
        "HEARTH_API_KEY environment variable; none)",
    )
    parser.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="URL",
        help="let web pages from this origin use the server from a browser (repeat for more; "
        "* for any page); pages on this computer (localhost) are always allowed",
    )
    parser.add_argument(
        "--ctx", type=limits.cli_context, default=None, help="context length in tokens"
    )
    add_flags(parser)  # the answers' defaults: a request's own fields win
    load_flags.add(parser)  # --draft, --lora, --lora-scale
    load_flags.add_projector(parser)  # --mmproj
    return parser


def run(args, paths: Paths) -> int:
    settings = Settings.load(paths.settings_file)
    model_path = _model_path(args.model, paths)
    engine = HostedEngine()  # llama.cpp in its own process: a crash fails one request only
    mmproj, found = load_flags.projector(args.mmproj, model_path)
    options = LoadOptions(
        n_ctx=args.ctx or settings.n_ctx,
        n_gpu_layers=settings.n_gpu_layers,
        n_threads=settings.n_threads,
        draft_tokens=args.draft,
        draft_model_path=args.draft_model,
        lora_path=args.lora,
        lora_scale=args.lora_scale,
        mmproj_path=mmproj,
    )
    print(f"Loading {model_path.name}{' ' + found if found else ''}...", file=sys.stderr)
    loaded = engine.load(model_path, options)
    queue = GenerationQueue(
        engine, name=model_path.stem, reload=lambda: engine.load(model_path, options)
    )
    # What a request leaves out: the flags given, else the settings file's.
    defaults = SamplingOptions.of(from_flags(args, settings.sampling))
    server = ApiServer(
        queue,
        args.host,
        args.port,
        args.api_key,
        defaults=defaults,
        allowed_origins=tuple(args.allow_origin),
    )
    try:
        server.start()  # warns (on stderr too) when listening beyond this computer
        reads = " (reads images)" if loaded.has_vision else ""
        print(f"Serving {queue.model_name()}{reads} on {server.url}", file=sys.stderr)
        print("Press Ctrl-C to stop", file=sys.stderr, flush=True)
        _wait_for_interrupt()
        print("Stopping...", file=sys.stderr)
    finally:
        server.stop()
        queue.close()
        engine.unload()
    return 0


def _model_path(spec: str | None, paths: Paths):
    if spec:
        return catalog.resolve(spec, catalog.list_models(paths.models_dir, hf_hub_cache()))
    if not starter.is_installed(paths.models_dir):
        raise ModelNotFound(
            "No model given and the starter model is not installed: run "
            "'hearth setup', or name a model from 'hearth ls'."
        )
    return starter.starter_path(paths.models_dir)


def _wait_for_interrupt() -> None:
    """Sleep until Ctrl-C (SIGINT) or SIGTERM."""
    stopped = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)

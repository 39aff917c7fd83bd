"""The quantizer's child process: ``hearth --quantize-worker SOURCE TARGET FTYPE THREADS REQUANT``.

``llama_model_quantize`` cannot be interrupted and reports no progress, so ``make_quant`` runs
it in a child process it can terminate. The child is Hearth's own entry point with a hidden
first argument, handled before anything else starts (no window, no logging setup), so it works
the same from a source checkout (``python -m app``) and from a PyInstaller bundle, where
``sys.executable`` is Hearth itself.
"""

from __future__ import annotations

import sys

FLAG = "--quantize-worker"


def command(*args: str) -> list[str]:
    """The command line that runs the worker with ``args``."""
    if getattr(sys, "frozen", False):  # a bundle: the executable is Hearth
        return [sys.executable, FLAG, *args]
    return [sys.executable, "-m", "app", FLAG, *args]


def main(argv: list[str]) -> int:
    """Quantize; exit 0 on success, 2 on bad arguments, 3 when llama.cpp fails."""
    if len(argv) != 5:
        print(f"usage: hearth {FLAG} SOURCE TARGET FTYPE THREADS REQUANT", file=sys.stderr)
        return 2
    source, target, ftype, threads, requant = argv
    from app.core.compat.llama_cpp import model_quantize

    code = model_quantize(source, target, int(ftype), int(threads), allow_requantize=requant == "1")
    if code != 0:
        print(f"error: llama_model_quantize failed with code {code}", file=sys.stderr)
    return 0 if code == 0 else 3

"""The fit estimator's accuracy benchmark: estimated memory against memory really used.

For each file and context length, a fresh Python process (``python -m app.bench.fit
--measure FILE N_CTX``) loads the model on the CPU exactly as Hearth does (``Engine.load``,
f16 KV cache, no flash attention, all layers on the CPU) and then fills the whole context with
prompt tokens in llama.cpp's 512-token micro-batches, so that the KV cache and the compute
buffers llama.cpp reserved are really written (a buffer reserved but never touched costs no
memory, and a context that is never filled would hide the attention buffers' cost).

Measured = the process's peak resident set (``VmHWM``, reset after the baseline) minus its
resident set just before the load, with llama-cpp-python, numpy and Hearth's modules already
imported. Resident set counts the model file's mmap'd pages (``RssFile``): llama.cpp maps
the weights with ``MAP_POPULATE``, so they are all resident after the load; ``mapped_bytes``
reports the model mapping's resident size to show it. Pages llama.cpp read to make repacked
copies stay mapped and count too, as the operating system counts them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from app.core.common.units import format_size

CONTEXTS = (512, 2048, 8192)


def run_fit_benchmark(
    files: Iterable[Path],
    contexts=CONTEXTS,
    progress: Callable[[str], None] | None = None,
    fill: bool = True,
) -> list[dict]:
    """Estimate and measure every file at every context; one row per pair (``quant`` and
    ``arch`` read from the file's header)."""
    from app.core.fit import estimate
    from app.core.hardware import backend

    features = frozenset(backend.detect().cpu_features)
    rows = []
    for path in files:
        shape = estimate.shape_from_file(path)
        for n_ctx in contexts:
            if progress:
                progress(f"{Path(path).name} at {n_ctx} tokens...")
            estimated = estimate.estimate(shape, n_ctx, "f16", 0, cpu_features=features).total_bytes
            measured = measure(Path(path), n_ctx, fill=fill)
            rows.append(
                {
                    "file": Path(path).name,
                    "arch": shape.architecture,
                    "quant": shape.quant,
                    "n_ctx": n_ctx,
                    "estimated_bytes": estimated,
                    "measured_bytes": measured["measured_bytes"],
                    "ratio": round(estimated / measured["measured_bytes"], 3),
                    "load_bytes": measured["load_bytes"],
                    "mapped_bytes": measured["mapped_bytes"],
                    "seconds": measured["seconds"],
                }
            )
    return rows


def measure(path: Path, n_ctx: int, fill: bool = True, timeout: float = 3600) -> dict:
    """Run one measurement in a fresh process; raises RuntimeError if it fails."""
    args = [sys.executable, "-m", "app.bench.fit", "--measure", str(path), str(n_ctx)]
    if not fill:
        args.append("--no-fill")
    result = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        cwd=_repo_root(),
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"Measuring {path.name} at {n_ctx} failed: " + " / ".join(tail))
    return json.loads(lines[-1])


def format_fit_table(rows: list[dict]) -> str:
    """The rows as a plain-text table, with the worst ratio at the end."""
    width = max([len(r["file"]) for r in rows] + [4])
    out = [
        f"{'FILE':<{width}}  {'ARCH':<13}  {'N_CTX':>6}  {'ESTIMATED':>10}  {'MEASURED':>10}  RATIO"
    ]
    for r in rows:
        out.append(
            f"{r['file']:<{width}}  {r['arch']:<13}  {r['n_ctx']:>6}  "
            f"{format_size(r['estimated_bytes']):>10}  "
            f"{format_size(r['measured_bytes']):>10}  {r['ratio']:.3f}"
        )
    if rows:
        worst = max(rows, key=lambda r: abs(r["ratio"] - 1))
        out.append(f"Worst ratio: {worst['ratio']:.3f} ({worst['file']} at {worst['n_ctx']})")
    return "\n".join(out)


# -- the measuring process -------------------------------------------------------------------


def _status() -> dict[str, int]:
    values = {}
    with open("/proc/self/status") as handle:
        for line in handle:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                values[key] = int(rest.split()[0]) * 1024
    return values


def _mapped_bytes(path: Path) -> int:
    """Resident bytes of the mappings of ``path`` (from /proc/self/smaps)."""
    total, inside = 0, False
    target = str(Path(path).resolve())
    with open("/proc/self/smaps") as handle:
        for line in handle:
            if line[0] in "0123456789abcdef" and "-" in line.split(" ", 1)[0]:
                inside = line.rstrip().endswith(target)
            elif inside and line.startswith("Rss:"):
                total += int(line.split()[1]) * 1024
    return total


def _measure_here(path: Path, n_ctx: int, fill: bool) -> dict:
    import numpy as np

    from app.core.inference.engine import Engine
    from app.core.inference.types import LoadOptions

    engine = Engine()
    base = _status()
    try:  # reset the peak RSS so VmHWM covers the load and the fill only
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass
    started = time.perf_counter()
    engine.load(path, LoadOptions(n_ctx=n_ctx, n_gpu_layers=0))
    loaded = _status()
    if fill:
        llm = engine._require()  # noqa: SLF001 - the engine's own Llama, filled as a long prompt would
        tokens = np.random.default_rng(0).integers(100, llm.n_vocab(), size=llm.n_ctx())
        llm.eval(tokens.tolist())
    end = _status()
    return {
        "file": path.name,
        "n_ctx": n_ctx,
        "base_rss": base["VmRSS"],
        "load_bytes": loaded["VmRSS"] - base["VmRSS"],
        "measured_bytes": max(end["VmHWM"], end["VmRSS"]) - base["VmRSS"],
        "anon_bytes": end["RssAnon"] - base["RssAnon"],
        "file_bytes": end["RssFile"] - base["RssFile"],
        "mapped_bytes": _mapped_bytes(path),
        "seconds": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3 or args[0] != "--measure":
        print("usage: python -m app.bench.fit --measure FILE N_CTX [--no-fill]", file=sys.stderr)
        return 2
    import llama_cpp  # noqa: F401 - loaded before the baseline, as in a running Hearth

    result = _measure_here(Path(args[1]), int(args[2]), fill="--no-fill" not in args)
    print(json.dumps(result), flush=True)
    return 0


def _repo_root() -> str:
    return str(Path(__file__).resolve().parents[2])


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())

"""Measure what each quant of one model costs and gives: quality, speed, load time, memory.

``measure(files, text)`` takes 2-8 local GGUF files of one model and, on one text (the bundled
``resources/data/measure_text.txt`` unless the user gives theirs; the Compare page calls it once
per text), reports for each file:

- perplexity of the text, and the mean KL divergence of its next-token distributions from the
  reference file's (F16/BF16/F32 if present, else the largest file) over the same positions,
  with the share of positions whose most likely token is the reference's ("same top %");
- prompt speed (tokens/s of the scoring pass, which also computes logits for every scored
  position), generation speed (a fixed greedy generation), load time and memory (what
  llama.cpp allocates for the file at the measuring context: weights, KV cache, compute and
  output buffers, as it reports them at load; see ``Evaluator.memory_bytes``).

How: the text's first ``settings.tokens`` tokens (768 by default: the whole starter ladder,
seven files, is measured in well under a minute on two idle cores; 1,024 took 52 s, too close
to the limit when another program takes a core) are cut into windows of ``n_ctx`` tokens,
each evaluated from an empty context in batches of ``n_batch``; every position after the first
``warmup`` of a window is scored (see ``app/core/measure/kld.py`` for the memory of the reference's
logits). Results are stored (``MeasureStore``) and reused: nothing is measured twice.

llama.cpp runs as the chat engine does (flash attention off), with as many threads as the
machine has idle cores when the call starts (the same for every file of the call, so speeds
compare; see ``llama_eval.idle_threads``) unless ``settings.threads`` says. The reference is
evaluated first; a file added to a stored comparison costs itself plus the reference again
(its logits are not kept between calls).

Plain functions for a Qt worker: ``progress(step, total, message)`` is called from the calling
thread; setting ``cancel`` stops inside the current ``llama_decode`` (llama.cpp's abort
callback) or between files, raising ``MeasureCancelled``; files finished before the cancel
stay stored.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from app.core.common.errors import MeasureCancelled, MeasureError
from app.core.common.resources import resource
from app.core.gguf import quant_types
from app.core.gguf.header import GgufHeader, read_local_header
from app.core.measure.file_pass import run_file, score_plan
from app.core.measure.kld import ReferenceLogits
from app.core.measure.llama_eval import idle_threads
from app.core.measure.store import MeasureStore, file_key

MIN_FILES, MAX_FILES = 2, 8
# Bump when the numbers a setting produces change meaning. 2: memory is llama.cpp's buffers
# for the file, not the measuring process's growth in resident memory.
METHOD_VERSION = 2
UNQUANTIZED = ("F32", "F16", "BF16")

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class MeasureSettings:
    tokens: int = 768  # text tokens evaluated at most (the text's start)
    n_ctx: int = 1024  # window length; longer texts are cut into windows
    n_batch: int = 256  # tokens per llama_decode
    warmup: int = 32  # first positions of each window: context only, not scored
    gen_prompt: int = 32  # generation speed: prompt tokens...
    gen_tokens: int = 16  # ...then this many greedy tokens, timed
    threads: int = 0  # 0 = the cores other processes leave idle, decided once per call

    def key(self) -> str:
        raw = json.dumps({"v": METHOD_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(raw.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class MeasureText:
    name: str  # "bundled" or the user's file name
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @classmethod
    def bundled(cls) -> MeasureText:
        return cls("bundled", resource("data", "measure_text.txt").read_text(encoding="utf-8"))

    @classmethod
    def from_file(cls, path: Path) -> MeasureText:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise MeasureError(f"The text file {path} cannot be read: {exc.strerror}.") from exc
        return cls(path.name, text)


@dataclass(frozen=True)
class FileMeasurement:
    file: str
    name: str
    quant: str | None
    size_bytes: int
    bits_per_weight: float  # from the real file size and parameter count
    reference: bool  # this file is the one the others are compared with
    reference_file: str
    text: str
    tokens: int  # positions scored
    ppl: float
    kld: float  # mean KL divergence from the reference (0 for itself)
    same_top_pct: float  # positions whose top token is the reference's
    prompt_tok_s: float
    tok_s: float  # generation
    load_s: float
    memory_bytes: int  # llama.cpp's buffers for it in this computer's memory, at the context
    threads: int = 0  # CPU threads the speeds were measured with
    cached: bool = False  # read from the store, not measured in this call

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any], **changes: Any) -> FileMeasurement:
        names = {f.name for f in fields(cls)}
        return cls(**{**{k: v for k, v in data.items() if k in names}, **changes})


@dataclass(frozen=True)
class Comparison:
    text: str
    text_sha256: str
    reference: str
    settings: MeasureSettings
    rows: tuple[FileMeasurement, ...]  # largest file first
    seconds: float
    evaluated: int  # files run through llama.cpp by this call (0 when all were stored)

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "text_sha256": self.text_sha256,
            "reference": self.reference,
            "settings": asdict(self.settings),
            "seconds": self.seconds,
            "evaluated": self.evaluated,
            "rows": [r.to_json() for r in self.rows],
        }


@dataclass(frozen=True)
class ModelFile:
    """What measuring needs to know of one file, from its header."""

    path: Path
    quant: str | None
    size_bytes: int
    architecture: str
    parameters: int
    vocab_size: int | None

    @classmethod
    def read(cls, path: Path) -> ModelFile:
        header: GgufHeader = read_local_header(path)
        quant = quant_types.quant_from_file_type(header.file_type) or quant_types.quant_from_name(
            Path(path).name
        )
        return cls(
            path=Path(path),
            quant=quant,
            size_bytes=Path(path).stat().st_size,
            architecture=header.architecture,
            parameters=header.parameters,
            vocab_size=header.vocab_size,
        )


def check_same_model(files: Sequence[Path]) -> list[ModelFile]:
    """Read each header; refuse too few or many files, duplicates, and different models."""
    paths = [Path(f) for f in files]
    if len(paths) < MIN_FILES:
        raise MeasureError(f"Compare needs at least {MIN_FILES} model files (got {len(paths)}).")
    if len(paths) > MAX_FILES:
        raise MeasureError(f"Compare takes at most {MAX_FILES} model files (got {len(paths)}).")
    if len({p.absolute() for p in paths}) != len(paths):
        raise MeasureError("The same file is given twice.")
    infos = [ModelFile.read(p) for p in paths]
    first = infos[0]
    for other in infos[1:]:
        if (other.architecture, other.parameters, other.vocab_size) != (
            first.architecture,
            first.parameters,
            first.vocab_size,
        ):
            raise MeasureError(
                f"{first.path.name} and {other.path.name} are not quants of the same model "
                f"({first.architecture}, {first.parameters:,} parameters vs "
                f"{other.architecture}, {other.parameters:,})."
            )
    return infos


def pick_reference(infos: Sequence[ModelFile]) -> ModelFile:
    """F32/F16/BF16 if present (the largest of them), else the largest file."""
    full = [i for i in infos if (i.quant or "").upper() in UNQUANTIZED]
    return max(full or infos, key=lambda i: i.size_bytes)


def measure(
    files: Sequence[Path],
    text: MeasureText | None = None,
    *,
    store: MeasureStore | None = None,
    settings: MeasureSettings = MeasureSettings(),
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    work_dir: Path | None = None,
) -> Comparison:
    """Measure ``files`` on ``text`` (bundled text when None). See the module docstring."""
    started = time.perf_counter()
    cancel = cancel or threading.Event()
    text = text or MeasureText.bundled()
    infos = check_same_model(files)
    ref = pick_reference(infos)
    ref_key, text_hash, settings_key = file_key(ref.path), text.sha256, settings.key()
    results: dict[Path, FileMeasurement] = {}
    if store is not None:
        for info in infos:
            stored = store.get(file_key(info.path), ref_key, text_hash, settings_key)
            if stored is not None:
                results[info.path] = FileMeasurement.from_json(stored, cached=True, text=text.name)
    todo = [i for i in infos if i.path not in results]
    evaluated = 0
    if todo:
        order = [ref] + [i for i in todo if i is not ref]
        plan = score_plan(ref.path, text.text, settings)
        threads = settings.threads or idle_threads()
        total = len(order) * plan.steps_per_file
        step = 0

        def report(message: str) -> None:
            nonlocal step
            step += 1
            if progress is not None:
                progress(step, total, message)

        if progress is not None:
            progress(0, total, f"Measuring {len(order)} files")

        with ReferenceLogits(plan.n_vocab, work_dir) as reference:
            for info in order:
                if cancel.is_set():
                    raise MeasureCancelled("The measurement was cancelled.")
                raw = run_file(
                    info.path,
                    plan,
                    reference,
                    record=info is ref,
                    threads=threads,
                    cancel=cancel,
                    report=report,
                )
                row = FileMeasurement(
                    file=str(info.path),
                    name=info.path.name,
                    quant=info.quant,
                    size_bytes=info.size_bytes,
                    bits_per_weight=round(info.size_bytes * 8 / max(info.parameters, 1), 3),
                    reference=info is ref,
                    reference_file=str(ref.path),
                    text=text.name,
                    threads=threads,
                    **raw,
                )
                results[info.path] = row
                evaluated += 1
                if store is not None:
                    store.put(file_key(info.path), ref_key, text_hash, settings_key, row.to_json())
                    depth = len(plan.gen_prompt) + plan.gen_tokens // 2
                    _record_speed(store, row, depth, plan.gen_tokens)
    rows = tuple(sorted((results[i.path] for i in infos), key=lambda r: -r.size_bytes))
    return Comparison(
        text=text.name,
        text_sha256=text_hash,
        reference=str(ref.path),
        settings=settings,
        rows=rows,
        seconds=time.perf_counter() - started,
        evaluated=evaluated,
    )


def _record_speed(store: MeasureStore, row: FileMeasurement, depth: int, tokens: int) -> None:
    """A measured generation speed calibrates the speed estimates, as a chat answer does (the
    speed log lives beside the measurements, in the data folder). Runs of too few tokens to
    time are left out."""
    from app.core.fit import speed_log
    from app.core.hardware import cpu_speed

    if row.tok_s <= 0 or tokens < speed_log.MIN_TOKENS:
        return
    run = speed_log.Run(
        machine=cpu_speed.this_machine(),
        path=row.file,
        name=row.name,
        size=row.size_bytes,
        quant=row.quant,
        depth=depth,
        gpu_layers=-1,  # llama.cpp's default model params: every layer on a GPU build's GPU
        threads=row.threads,
        tok_s=row.tok_s,
        tokens=tokens,
        when=time.time(),
    )
    speed_log.record(store.db_path.parent, run)


def stored_measurement(
    store: MeasureStore, path: Path, text: MeasureText | None = None
) -> FileMeasurement | None:
    """The newest stored measurement of ``path`` as it is now (on ``text`` if given), for
    showing "measured" quality beside a file; its ``reference_file`` says what KLD is against."""
    data = store.latest_for_path(path, text.sha256 if text else None)
    return FileMeasurement.from_json(data, cached=True) if data else None


def finite(value: float) -> float | None:
    """JSON has no NaN: None stands for a figure that could not be computed."""
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None

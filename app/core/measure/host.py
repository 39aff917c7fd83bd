"""Measuring in a host process (``hearth --measure-host``): a file that makes llama.cpp abort
fails the measurement with a sentence, never the studio or ``hearth compare``.

``measure_in_host`` sends one request (the files, the text, the settings, the store's path) and
reads progress frames until the ``done`` frame carries the ``Comparison``. Cancel kills the host:
files it finished are already in the store (each is written as it completes), so measuring
again skips them. The child runs ``app.core.measure.measurement.measure`` exactly as a caller in-process did.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from app.core.common import errors
from app.core.common.errors import MeasureCancelled, MeasureError
from app.core.inference.host import wire
from app.core.inference.host.process import HostProcess, command
from app.core.measure.measurement import (
    Comparison,
    FileMeasurement,
    MeasureSettings,
    MeasureText,
    Progress,
    measure,
)
from app.core.measure.store import MeasureStore

FLAG = "--measure-host"
POLL_S = 0.05


def measure_in_host(
    files: list[Path],
    text: MeasureText | None = None,
    *,
    store: MeasureStore | None = None,
    settings: MeasureSettings = MeasureSettings(),
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    work_dir: Path | None = None,
) -> Comparison:
    """``measure``'s result, computed in a host process."""
    text = text or MeasureText.bundled()
    host = HostProcess(command(FLAG))
    request = {
        "files": [str(f) for f in files],
        "text_name": text.name,
        "text": text.text,
        "settings": asdict(settings),
        "store": str(store.db_path) if store is not None else None,
        "work_dir": str(work_dir) if work_dir is not None else None,
    }
    doing = "starting"
    try:
        host.send(request)
        while True:
            if cancel is not None and cancel.is_set():
                host.kill()
                raise MeasureCancelled("The measurement was cancelled.")
            event = host.get(POLL_S)
            if event is None:
                continue
            kind = event.get("ev")
            if kind == "progress":
                doing = str(event["message"])
                if progress is not None:
                    progress(int(event["step"]), int(event["total"]), doing)
            elif kind == "done":
                return _comparison(event["comparison"])
            elif kind == "error":
                cls = getattr(errors, str(event.get("kind")), None)
                if not (isinstance(cls, type) and issubclass(cls, MeasureError)):
                    cls = MeasureError
                raise cls(str(event.get("message", "")))
            elif kind == "exit":
                if cancel is not None and cancel.is_set():
                    raise MeasureCancelled("The measurement was cancelled.")
                line = host.last_line()
                said = f" (\u201c{line}\u201d)" if line else ""
                raise MeasureError(
                    f"Measuring stopped after \u201c{doing}\u201d: {host.cause()}{said}. A file may "
                    "be damaged or not supported by this llama.cpp build; files measured before "
                    "it are kept."
                )
    finally:
        host.close(grace_s=0)


def _comparison(data: dict[str, Any]) -> Comparison:
    return Comparison(
        text=data["text"],
        text_sha256=data["text_sha256"],
        reference=data["reference"],
        settings=MeasureSettings(**data["settings"]),
        rows=tuple(FileMeasurement.from_json(row) for row in data["rows"]),
        seconds=data["seconds"],
        evaluated=data["evaluated"],
    )


def main(_argv: list[str]) -> int:
    """The child: one request from stdin, progress and the result as frames on stdout."""
    from app.core.inference.host.engine_host import quiet_process, take_stdout
    from app.core.measure.llama_eval import prefer_passive_wait

    outbox = take_stdout()
    quiet_process()
    prefer_passive_wait()  # steady speeds when other programs take a core (see llama_eval)
    request = wire.read(sys.stdin.buffer)
    if request is None:
        return 0

    def send(message: dict[str, Any]) -> None:
        wire.write(outbox, message)

    try:
        store = MeasureStore(Path(request["store"])) if request.get("store") else None
        comparison = measure(
            [Path(f) for f in request["files"]],
            MeasureText(request["text_name"], request["text"]),
            store=store,
            settings=MeasureSettings(**request["settings"]),
            progress=lambda step, total, message: send(
                {"ev": "progress", "step": step, "total": total, "message": message}
            ),
            work_dir=Path(request["work_dir"]) if request.get("work_dir") else None,
        )
    except errors.HearthError as exc:
        send({"ev": "error", "kind": type(exc).__name__, "message": str(exc)})
        return 0
    send({"ev": "done", "comparison": comparison.to_json()})
    return 0

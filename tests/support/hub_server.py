"""The tests' loopback Hub: Hearth's own :class:`app.bench.hub.BenchHub` (the one
``hearth bench download`` serves), with faults that make the network misbehave on cue.

    hub = LoopbackHub().start()           # or: with LoopbackHub() as hub: ...
    hub.add_repo("org/Model-GGUF", {"Model-Q4_K_M.gguf": path, "README.md": b"# Model"})
    hub.drop_after("Model-Q4_K_M.gguf", 4096)
    hf_hub_download("org/Model-GGUF", "Model-Q4_K_M.gguf", endpoint=hub.url, cache_dir=tmp_path)
    hub.stop()

Faults (``fail``, ``drop_after``, ``slow``, ``corrupt``, ``serve_raw``) are planned in a
:class:`tests.support.hub_faults.FaultPlan`; the Hub asks for them through its two hooks,
``intercept`` (a whole answer instead of the route's) and ``body_plan`` (how a file body is sent).
Repos in the naming styles of real GGUF repos: see ``tests.support.hub_repos.add_gguf_family``;
``hub_fixtures`` gives tests the ``loopback_hub`` fixture.
"""

from __future__ import annotations

import json
import re

from app.bench.hub import Answer, BenchHub, BodyPlan
from app.bench.hub.repos import HubFile
from tests.support.hub_faults import Fault, FaultPlan


class LoopbackHub(BenchHub):
    """The Hub, plus a fault plan and a set of files served corrupted."""

    def __init__(self, **options: int) -> None:
        super().__init__(**options)
        self.faults = FaultPlan()
        self._corrupt: set[tuple[str, str]] = set()

    def fail(
        self,
        path: str | re.Pattern[str],
        status: int = 500,
        count: int | None = 1,
        headers: dict[str, str] | None = None,
        *,
        method: str | None = None,
    ) -> Fault:
        """Answer the next ``count`` matching requests with ``status`` (and ``headers``, e.g.
        Retry-After)."""
        return self.faults.add(
            Fault("fail", path, count, method, status=status, headers=dict(headers or {}))
        )

    def drop_after(self, path: str | re.Pattern[str], nbytes: int, count: int | None = 1) -> Fault:
        """Cut the connection after ``nbytes`` of body on the next ``count`` matching file GETs."""
        return self.faults.add(Fault("drop", path, count, "GET", nbytes=nbytes))

    def slow(
        self, path: str | re.Pattern[str], bytes_per_second: int, count: int | None = None
    ) -> Fault:
        """Throttle matching file bodies to ``bytes_per_second`` (every matching GET unless
        ``count``)."""
        if bytes_per_second < 1:
            raise ValueError("bytes_per_second must be positive")
        return self.faults.add(Fault("slow", path, count, "GET", bytes_per_second=bytes_per_second))

    def serve_raw(
        self,
        path: str | re.Pattern[str],
        body: bytes | str,
        status: int = 200,
        count: int | None = 1,
        headers: dict[str, str] | None = None,
        *,
        method: str | None = None,
        content_type: str = "application/json; charset=utf-8",
        skip: int = 0,
    ) -> Fault:
        """Answer the next ``count`` matching requests (after ``skip`` of them) with exactly
        ``body`` (malformed JSON, a listing with missing fields, a file list with hostile
        names, an HTML error page...) and ``status``."""
        raw = body.encode() if isinstance(body, str) else body
        return self.faults.add(
            Fault(
                "raw",
                path,
                count,
                method,
                status=status,
                headers=dict(headers or {}),
                body=raw,
                content_type=content_type,
                skip=skip,
            )
        )

    def corrupt(self, repo_id: str, filename: str) -> None:
        """Serve ``filename`` with its middle byte flipped: same size, advertised sha256 no
        longer matches."""
        self._corrupt.add((repo_id, filename))

    def clear_faults(self) -> None:
        self.faults.clear()
        self._corrupt.clear()

    def intercept(self, method: str, target: str) -> Answer | None:
        """A ``raw`` fault's answer, or a ``fail`` fault's error in the Hub's shape."""
        if raw := self.faults.take("raw", method, target):
            return Answer(raw.status, raw.body, raw.content_type, raw.headers)
        if fault := self.faults.take("fail", method, target):
            message = f"Injected failure ({fault.status})"
            return Answer(
                fault.status,
                json.dumps({"error": message}).encode(),
                headers={**fault.headers, "X-Error-Message": message},
            )
        return None

    def body_plan(self, target: str, repo_id: str, entry: HubFile) -> BodyPlan:
        """A ``drop`` fault cuts the body, a ``slow`` one throttles it, ``corrupt`` flips a byte."""
        drop = self.faults.take("drop", "GET", target)
        slow = self.faults.take("slow", "GET", target)
        return BodyPlan(
            cut_after=drop.nbytes if drop else None,
            bytes_per_second=slow.bytes_per_second if slow else 0,
            flip_at=entry.size // 2 if (repo_id, entry.name) in self._corrupt else -1,
        )

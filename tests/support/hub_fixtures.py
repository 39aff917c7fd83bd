"""Pytest plugin: the ``loopback_hub`` fixture (load with ``pytest_plugins = ["tests.support.hub_fixtures"]``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.hub_server import LoopbackHub


@pytest.fixture
def loopback_hub() -> Iterator[LoopbackHub]:
    """A started :class:`LoopbackHub` with no repos; stopped (threads joined) after the test.

    It sets nothing global: pass ``endpoint=loopback_hub.url`` to the client. The test fails if the
    server itself raised (``server_errors``), so a bug in the emulation cannot pass as a client bug.
    """
    hub = LoopbackHub().start()
    try:
        yield hub
    finally:
        hub.stop()
    assert not hub.server_errors, "LoopbackHub raised:\n" + "\n".join(hub.server_errors)

"""The Hardware page's memory speed: the real CPU probe, measured once, stored, measured again
from the button."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt, QThreadPool

from app.core.hardware import cpu_speed
from app.ui.hardware.page import HardwarePage
from tests.support.screenshots import screenshot

WAIT_MS = 30_000


def test_the_probe_is_shown_stored_and_measured_again(qtbot, hearth_home):
    page = HardwarePage(hearth_home)
    qtbot.addWidget(page)
    page.resize(760, 560)
    try:
        with qtbot.waitSignal(page.speed_row.measured, timeout=WAIT_MS) as first:
            page.show()
        text = page.speed_row.text.text()
        assert "GB/s one core · " in text and text.endswith(" GFLOP/s per core")
        assert " Measured on 20" in page.speed_row.text.toolTip()
        stored = json.loads((hearth_home.data_dir / cpu_speed.FILE_NAME).read_text())
        assert stored["identity"] == cpu_speed.this_machine()
        assert stored["bandwidth_one"] == first.args[0].bandwidth_one
        screenshot(page, "hardware_memory_speed.png")
        with qtbot.waitSignal(page.speed_row.measured, timeout=WAIT_MS) as again:
            qtbot.mouseClick(page.speed_row.button, Qt.LeftButton)
        assert again.args[0].measured_at > first.args[0].measured_at
        assert page.speed_row.button.isEnabled()
    finally:
        page.timer.stop()
        QThreadPool.globalInstance().waitForDone(WAIT_MS)

"""The conversation view while an answer streams: what the GUI thread does per frame."""

import json
import os
import subprocess
import sys

ENV = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}

# A fresh interpreter: markdown-it must not be imported yet, as in a studio just started.
CHILD = """
import json, sys
from PySide6.QtCore import QThreadPool
from PySide6.QtWidgets import QApplication
from app.ui.chat.transcript import ShownMessage, Transcript

app = QApplication([])
view = Transcript()
view.resize(600, 400)
view.show()
view.show_messages([ShownMessage(1, "user", "Write a loop")])
before_answer = "markdown_it" in sys.modules
view.begin_answer(2)  # the warm-up starts now if its timer has not fired yet
QThreadPool.globalInstance().waitForDone()  # the prompt is being read meanwhile
loaded = set(sys.modules)
view.append_to_answer("Here is *one*:\\n\\n```python\\nfor i in range(3):\\n    print(i)\\n```\\n\\nDone")
view._render_tail()  # the next frame's render, now
print(json.dumps({
    "before_answer": before_answer,
    "imported_by_render": sorted(set(sys.modules) - loaded),
    "shown": view.toPlainText(),
}))
"""


def test_the_first_render_of_an_answer_imports_nothing_on_the_gui_thread():
    """markdown-it and Pygments are imported on the thread pool before the first answer's
    first frame: imported by that frame, they stalled the window 61 ms (130 ms on a busy
    machine) as the first words came."""
    result = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120, env=ENV
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["before_answer"] is False  # not on the start path either
    assert report["imported_by_render"] == []
    assert "Here is one:" in report["shown"]
    assert "print(i)" in report["shown"]

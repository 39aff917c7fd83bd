"""The one "Show the figures" switch of the Compare tables: a plain verdict leads, and the raw
figures (KL divergence, perplexity, same-top share, ...) stay one click away (issue 19)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QPushButton, QTableView, QTableWidget

FIGURES_TIP = (
    "KL divergence: how far a file's predictions are from the original's (lower is closer). "
    "Perplexity: how surprised the model is by the text (lower is better). Same top: how "
    "often its most likely next word is the original's."
)


def figures_toggle(
    table: QTableView | QTableWidget, columns: Callable[[], list[int]]
) -> QPushButton:
    """A button that shows ``columns()`` of ``table`` while pressed in; they start hidden. A
    button, not a check box: Hearth's themes draw buttons clearly in light and dark."""
    box = QPushButton("Show the figures", objectName="small", checkable=True)
    box.setToolTip(FIGURES_TIP)

    def show(shown: bool) -> None:
        box.setText("Hide the figures" if shown else "Show the figures")
        for column in columns():
            table.setColumnHidden(column, not shown)

    box.toggled.connect(show)
    show(False)
    return box

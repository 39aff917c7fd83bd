"""Render resources/icons/hearth.svg to the icon files each platform wants (PNG, ICO, ICNS)."""

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QImage, QPainter  # noqa: E402
from PySide6.QtSvg import QSvgRenderer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def render(size: int) -> QImage:
    image = QImage(size, size, QImage.Format_ARGB32)
    image.fill(Qt.transparent)
    painter = QPainter(image)
    QSvgRenderer(str(ROOT / "resources" / "icons" / "hearth.svg")).render(painter)
    painter.end()
    return image


def main(out: Path) -> None:
    app = QGuiApplication([])  # noqa: F841 - Qt needs it for painting
    out.mkdir(parents=True, exist_ok=True)
    render(256).save(str(out / "hearth.png"))
    for fmt in ("ico", "icns"):  # written where this Qt has the image plugin
        if not render(256).save(str(out / f"hearth.{fmt}")):
            print(f"note: this Qt cannot write .{fmt}; build that icon on its platform",
                  file=sys.stderr)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "build" / "icons")

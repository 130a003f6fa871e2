#!/usr/bin/env python3
"""Full-page PNG screenshot of a report.html in a headless Chromium (Qt WebEngine), for reviewing a study.

Usage (a scratch environment; these wheels are not culturalign dependencies):
    python -m venv /tmp/shot && /tmp/shot/bin/pip install PyQt6 PyQt6-WebEngine pillow
    /tmp/shot/bin/python tools/screenshot_report.py results/local-models/report.html shot.png [--width 1280]

Offscreen Qt WebEngine paints only what is in the viewport, so the page is shot in viewport-sized tiles
while scrolling and the tiles are stitched. Local files only; nothing is fetched.
"""

import argparse
import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # no display needed
os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")  # Chromium's sandbox refuses to run as root
os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--disable-gpu --disable-logging --log-level=3")
os.environ.setdefault("QT_LOGGING_RULES", "*.warning=false")

from PIL import Image  # noqa: E402
from PyQt6.QtCore import QTimer, QUrl  # noqa: E402
from PyQt6.QtWebEngineCore import QWebEngineSettings  # noqa: E402
from PyQt6.QtWebEngineWidgets import QWebEngineView  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

TILE = 900  # viewport height (px)
SETTLE_MS = 400  # after each scroll, for the page to repaint


def shoot(page: str, width: int, tiles_dir: str) -> tuple[list[str], int]:
    app = QApplication(["screenshot_report"])  # Chromium needs a program name
    view = QWebEngineView()
    view.settings().setAttribute(QWebEngineSettings.WebAttribute.ShowScrollBars, False)
    view.resize(width, TILE)
    view.show()
    state = {"tiles": [], "height": 0}

    def grab():
        path = os.path.join(tiles_dir, f"tile{len(state['tiles']):03d}.png")
        view.grab().save(path, "PNG")
        state["tiles"].append(path)
        y = len(state["tiles"]) * TILE
        if y >= state["height"]:
            app.quit()
        else:
            view.page().runJavaScript(f"window.scrollTo(0, {y})", lambda _: QTimer.singleShot(SETTLE_MS, grab))

    def measured(height):
        state["height"] = int(height)
        QTimer.singleShot(2 * SETTLE_MS, grab)

    view.loadFinished.connect(lambda ok: view.page().runJavaScript("document.documentElement.scrollHeight", measured))
    view.load(QUrl.fromLocalFile(os.path.abspath(page)))
    QTimer.singleShot(180_000, app.quit)  # never hang a review on a broken page
    app.exec()
    return state["tiles"], state["height"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("page")
    ap.add_argument("out")
    ap.add_argument("--width", type=int, default=1280)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tiles, height = shoot(args.page, args.width, tmp)
        if not tiles:
            raise SystemExit(f"{args.page}: the page did not load")
        first = Image.open(tiles[0])
        page = Image.new("RGB", (first.width, height), "white")
        for i, tile in enumerate(tiles):
            # the browser stops scrolling at the bottom: the last tile is aligned to the page's end
            page.paste(Image.open(tile), (0, min(i * first.height, height - first.height)))
        page.save(args.out)
    print(f"wrote {args.out} ({page.width}x{page.height}, {len(tiles)} tiles)")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Open report pages in headless Chromium (Debian's chromium + chromium-driver, driven by Selenium) as a reader
would: list what is wrong with a page, and shoot its first screen.

    python tools/browser_check.py results/*/report.html            # check each page; exit 1 on a problem
    python tools/browser_check.py --screenshots results/*/report.html  # also write report-screenshot.png beside it

A problem is a console error, a table or figure wider than the viewport (1280 px), a page that scrolls
sideways, or an image that did not load. Collapsed <details> are opened first so their tables are measured.
Local files only: Chromium runs with its background networking off (the machine may have no network).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
WIDTH, HEIGHT = 1280, 900  # the viewport a reader gets; the screenshot is its first screen

# Whatever the page does, the report must fit this: every table, figure and the page itself.
_MEASURE = r"""
document.querySelectorAll('details').forEach(d => d.open = true);
const width = document.documentElement.clientWidth, problems = [];
const name = e => (e.alt || e.textContent || e.tagName).replace(/\s+/g, ' ').trim().slice(0, 60);
for (const e of document.querySelectorAll('table, img, svg, pre')) {
  const r = e.getBoundingClientRect();
  if (r.width > 0 && (r.right > width + 1 || r.left < -1))
    problems.push(`${e.tagName.toLowerCase()} "${name(e)}" is ${Math.round(r.width)} px wide and ends at `
                  + `${Math.round(r.right)} px, past the ${width} px viewport`);
}
for (const img of document.images)
  if (!img.complete || img.naturalWidth === 0) problems.push(`image "${name(img)}" did not load`);
if (document.documentElement.scrollWidth > width + 1)
  problems.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} px for ${width} px`);
return problems;
"""


def chromedriver() -> str | None:
    return shutil.which("chromedriver") or next(
        (p for p in ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver") if Path(p).is_file()), None
    )


def missing() -> str | None:
    """Why no browser can run here (None when it can)."""
    if not Path(CHROMIUM).is_file():
        return f"{CHROMIUM} is absent (apt-get install chromium chromium-driver)"
    if chromedriver() is None:
        return "chromedriver is absent (apt-get install chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    return None


@contextmanager
def browser(width: int = WIDTH, height: int = HEIGHT):
    """A headless Chromium at ``width`` x ``height`` CSS px, logging the console, in a fresh profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="culturalign-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        # root needs --no-sandbox; the rest keep an offline machine quiet (no update, sync or QUIC probes)
        for flag in (
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            f"--window-size={width},{height}",
            f"--user-data-dir={profile}",
        ):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(options=options, service=Service(chromedriver()))
        try:
            driver.set_page_load_timeout(120)
            # the window size includes no chrome in headless mode, but make the viewport exact anyway
            inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
            driver.set_window_size(2 * width - inner[0], 2 * height - inner[1])
            yield driver
        finally:
            driver.quit()


def problems(driver, page) -> list[str]:
    """What a reader of ``page`` (a path or URL) would hit: console errors, overflow, missing figures."""
    url = page if "://" in str(page) else Path(page).resolve().as_uri()
    driver.get(url)
    found = [
        f"console {e['level'].lower()}: {e['message']}" for e in driver.get_log("browser") if e["level"] == "SEVERE"
    ]
    return found + driver.execute_script(_MEASURE)


def screenshot(driver, page, out) -> Path:
    """The first screen of ``page`` (details left as the page has them) as a PNG."""
    url = page if "://" in str(page) else Path(page).resolve().as_uri()
    driver.get(url)
    driver.save_screenshot(str(out))
    return Path(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pages", nargs="+")
    ap.add_argument("--screenshots", action="store_true", help="write report-screenshot.png beside each page")
    args = ap.parse_args(argv)
    if why := missing():
        print(f"cannot check: {why}", file=sys.stderr)
        return 2
    bad = 0
    with browser() as driver:
        for page in args.pages:
            if args.screenshots:
                print(f"wrote {screenshot(driver, page, Path(page).with_name('report-screenshot.png'))}")
            found = problems(driver, page)
            bad += bool(found)
            print(f"{page}: " + ("ok" if not found else "\n  " + "\n  ".join(found)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

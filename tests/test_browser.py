"""Every committed report, and an interactive map, opened in headless Chromium as a reader would: no console
error, no table or figure wider than a 1280 px viewport, no figure that failed to load (tools/browser_check.py).
Skipped, with the reason, where Debian's chromium and chromium-driver are not installed."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("browser_check", ROOT / "tools" / "browser_check.py")
check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check)

pytestmark = [pytest.mark.browser, pytest.mark.skipif(check.missing() is not None, reason=str(check.missing()))]
PAGES = sorted(ROOT.glob("results/*/report.html")) + sorted(ROOT.glob("results/*/distribution_report.html"))
PNG = (ROOT / "results" / "qwen-1.5b" / "figures" / "skill.png").as_uri()


@pytest.fixture(scope="module")
def driver():
    with check.browser() as d:
        yield d


def test_there_are_reports_to_check():
    assert len(PAGES) >= 4


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_committed_report_reads_in_a_browser(driver, page):
    assert check.problems(driver, page) == []


def test_an_interactive_map_reads_in_a_browser(driver, tmp_path):
    from culturalign.map.plot import save_map

    points = {"name": ["model"], "x": [0.2], "y": [0.4], "group": ["no persona"]}
    page = save_map(tmp_path / "map.html", points, highlight=["Japan", "Brazil"])
    assert check.problems(driver, page) == []


def test_the_checker_catches_what_a_reader_would_hit(driver, tmp_path):
    """A table too wide, a figure that is missing, one that did not load, a script error: each is reported."""
    page = tmp_path / "broken.html"
    page.write_text(
        "<!doctype html><meta charset=utf-8><body style='max-width:1200px'>"
        f"<img alt=fine src='{PNG}' style='max-width:100%'>"
        "<details><summary>wide</summary><table><tr>"
        + "".join(f"<td>column_{i}_with_a_long_name</td>" for i in range(40))
        + "</tr></table></details>"
        "<img alt='dropped figure' src='figures/gone.png'>"
        "<script>undefinedFunction()</script></body>"
    )
    found = check.problems(driver, page)
    assert any(p.startswith("table") and "past the 1280 px viewport" in p for p in found), found
    assert any("dropped figure" in p and "did not load" in p for p in found), found
    assert any(p.startswith("console") and "undefinedFunction" in p for p in found), found
    assert any(p.startswith("the page scrolls sideways") for p in found), found
    assert not any('"fine"' in p for p in found), found


def test_a_clean_page_has_no_problems(driver, tmp_path):
    page = tmp_path / "fine.html"
    page.write_text(f"<!doctype html><meta charset=utf-8><table><tr><td>1</td></tr></table><img alt=f src='{PNG}'>")
    assert check.problems(driver, page) == []


def test_an_audit_map_in_the_browser_shows_no_two_overlapping_names(driver, tmp_path):
    """The interactive map places its names in the page (the PNG's placement is matplotlib's): measured as the
    browser drew them, no two visible names overlap, and the targets and points keep theirs."""
    from culturalign.map.plot import save_map

    from test_report_figures import AUDIT_POINTS, TARGETS

    page = save_map(tmp_path / "map.html", AUDIT_POINTS, highlight=TARGETS)
    driver.get(page.as_uri())
    boxes = driver.execute_script(
        "return [...document.querySelectorAll('text.label')].filter(t => t.style.display !== 'none')"
        ".map(t => { const b = t.getBoundingClientRect(); return [t.textContent, b.left, b.top, b.right, b.bottom]; });"
    )
    overlaps = [
        (a[0], b[0])
        for i, a in enumerate(boxes)
        for b in boxes[i + 1 :]
        if min(a[3], b[3]) - max(a[1], b[1]) > 0.5 and min(a[4], b[4]) - max(a[2], b[2]) > 0.5
    ]
    assert overlaps == []
    names = {b[0] for b in boxes}
    assert {"m (no_persona)", *TARGETS} <= names and len(names) >= 80

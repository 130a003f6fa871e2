"""The report's figures read at 100% zoom: every text at least 9 pt at a size the page shows unscaled, and the
report map's labels never overlap one another (measured with matplotlib's own text extents)."""

from itertools import combinations
from pathlib import Path

import pytest
from matplotlib.text import Text

from culturalign.map.plot import map_figure
from culturalign.report import distribution_report as dr
from culturalign.report import report
from culturalign.report.first_screen import short_names

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "results" / "local-models"


@pytest.fixture(scope="module")
def table():
    distances = report.with_reference_rows(report.load_distances(STUDY), 0)
    return report.per_country(distances)


def _texts(fig):
    fig.canvas.draw()
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def _readable(fig):
    assert fig.get_figwidth() * report.DPI <= 1200  # the page column: the browser never scales it down
    small = [(t.get_text(), t.get_fontsize()) for t in _texts(fig) if t.get_fontsize() < report.FONT]
    assert small == []


def test_the_comparison_figures_have_no_text_under_9_pt(table):
    names = short_names(table.condition)
    held = report.held_out_summary(table)
    regions, scope = report._comparable_regions(report.region_table(table))
    for fig in (
        report.skill_fig(held, names),
        report.distance_fig(table, names),
        report.region_fig(regions, scope, names),
        report.steering_fig(table, names),
    ):
        _readable(fig)


def test_the_distribution_figures_have_no_text_under_9_pt():
    cells = dr.read_cells(ROOT / "results" / "evidence", {"model": "text"})
    _readable(dr.theme_fig(cells))
    _readable(dr.question_fig(cells))


def test_the_report_map_labels_its_targets_without_overlaps(table):
    model = "qwen2.5-coder-0.5b"
    points, arrows = report.map_layers(table, model, short_names(table.condition))
    targets = sorted(set(table[table.held_out].country))
    fig = map_figure(points, arrows, highlight=targets, label=targets, figsize=(report.WIDTH, 8.5))
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    labels = [t for t in ax.texts if t.get_text()]
    boxes = [t.get_window_extent(renderer) for t in labels]
    overlaps = [(a.get_text(), b.get_text()) for (a, p), (b, q) in combinations(zip(labels, boxes), 2) if p.overlaps(q)]
    assert overlaps == []
    shown = {t.get_text() for t in labels}
    assert len(shown & set(points.name)) >= len(targets)  # most of what the map is about still has its name
    assert min(t.get_fontsize() for t in labels) >= 9


# the layers of a default audit: the unprompted model, eight engineered points crowded near it, their targets
TARGETS = ["Sweden", "Japan", "Nigeria", "Brazil", "India", "Russia", "Spain", "United States"]
AUDIT_POINTS = {
    "name": ["m (no_persona)", *(f"{t} (engineered)" for t in TARGETS), "SWE", "SWE", "SWE"],
    "x": [0.16, 0.27, 0.30, 0.21, 0.25, 0.33, 0.29, 0.22, 0.24, -0.15, 1.9, 1.97],
    "y": [2.06, 1.92, 1.87, 1.95, 1.90, 1.93, 1.88, 1.91, 1.96, -0.27, 0.37, 0.29],
    "group": ["no_persona", *["engineered"] * 8, "centroid", "region lookup", "neighbours"],
}


def _overlapping_labels(fig) -> list[tuple[str, str]]:
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    labels = [t for t in fig.axes[0].texts if t.get_visible() and t.get_text().strip()]
    boxes = [t.get_window_extent(renderer) for t in labels]
    return [(a.get_text(), b.get_text()) for (a, p), (b, q) in combinations(zip(labels, boxes), 2) if p.overlaps(q)]


def test_an_audit_map_names_its_points_and_targets_and_no_two_labels_overlap():
    """An audit's map.png and map.html (the same figure): every country it can name without covering another
    name, every model and model-free point, and the target countries always."""
    import pandas as pd

    from culturalign.map import plot, reference

    points = pd.DataFrame(AUDIT_POINTS)
    fig = plot._figure(points, None, title="an audit", highlight=TARGETS, halo=True)
    assert _overlapping_labels(fig) == []
    named = {t.get_text() for t in fig.axes[0].texts}
    assert {"m (no_persona)", *TARGETS} <= named  # a lone point and the targets always keep their names
    assert len(named & set(reference.countries().country)) >= 80  # most of the 107 keep theirs

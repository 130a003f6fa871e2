"""Cultural-map rendering: formats, self-contained HTML, input errors, atomic writes (fast, offline)."""

import json
import re
import struct

import pandas as pd
import pytest

from culturalign import fileio
from culturalign.errors import CulturalignError
from culturalign.map import plot, reference

POINTS = pd.DataFrame(
    {
        "name": ["model (no persona)", "model (Swedish persona)"],
        "x": [-0.2, 2.1],
        "y": [0.3, 0.8],
        "group": ["baseline", "persona"],
    }
)
ARROWS = pd.DataFrame(
    {"x0": [-0.2, -0.2], "y0": [0.3, 0.3], "x1": [2.1, -1.0], "y1": [0.8, -1.1], "group": ["persona", "persona"]}
)


def _html_data(text: str) -> dict:
    match = re.search(r'<script type="application/json" id="map-data">(.*?)</script>', text, re.S)
    assert match, "embedded map data missing"
    return json.loads(match.group(1))


def test_png_is_a_real_image_of_useful_size(tmp_path):
    out = plot.save_map(tmp_path / "map.png", POINTS, ARROWS, highlight=["Sweden"])
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # IHDR
    assert width >= 1800 and height >= 1200  # large enough for 107 legible labels
    assert 50_000 < len(data) < 5_000_000


def test_svg_keeps_country_names_as_text(tmp_path):
    text = plot.save_map(tmp_path / "map.svg", POINTS).read_text(encoding="utf-8")
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    for name in ("Sweden", "Nigeria", "model (no persona)"):
        assert name in text


def test_html_is_self_contained_and_complete(tmp_path):
    text = plot.save_map(tmp_path / "map.html", POINTS, ARROWS, title="Test map").read_text(encoding="utf-8")
    # no external resources of any kind
    assert not re.search(r"""<(script|link|img|iframe)[^>]*\b(src|href)\s*=""", text, re.I)
    assert "http://" not in text and "https://" not in text
    assert "@import" not in text and "url(http" not in text
    data = _html_data(text)
    assert len(data["countries"]) == 107
    assert {c["name"] for c in data["countries"]} == set(reference.countries()["country"])
    assert {c["region"] for c in data["countries"]} == set(reference.REGIONS)
    assert [p["name"] for p in data["points"]] == list(POINTS["name"])
    assert len(data["arrows"]) == 2
    assert data["title"] == "Test map" and "<title>Test map</title>" in text
    x_label, y_label = plot.axis_labels()
    assert data["xlabel"] == x_label and data["ylabel"] == y_label


def test_html_data_cannot_break_out_of_its_script_tag(tmp_path):
    points = pd.DataFrame({"name": ["</script><script>alert(1)</script>"], "x": [0.0], "y": [0.0]})
    text = plot.save_map(tmp_path / "map.html", points, title="<b>%DATA%</b>").read_text(encoding="utf-8")
    assert text.count("</script>") == 2  # the data block and the program, nothing injected
    assert _html_data(text)["points"][0]["name"] == "</script><script>alert(1)</script>"
    assert "<title>&lt;b&gt;%DATA%&lt;/b&gt;</title>" in text


def test_map_figure_without_extras():
    fig = plot.map_figure()
    ax = fig.axes[0]
    texts = {t.get_text() for t in ax.texts}
    assert {"Sweden", "Nigeria", "Japan"} <= texts
    x_label, y_label = plot.axis_labels()
    assert ax.get_xlabel() == x_label and ax.get_ylabel() == y_label
    xs, ys = reference.countries()["x"], reference.countries()["y"]
    assert ax.get_xlim()[0] < xs.min() and ax.get_xlim()[1] > xs.max()
    assert ax.get_ylim()[0] < ys.min() and ax.get_ylim()[1] > ys.max()


def test_limits_cover_far_extra_points():
    points = pd.DataFrame({"name": ["far"], "x": [4.5], "y": [-3.0]})
    ax = plot.map_figure(points).axes[0]
    assert ax.get_xlim()[1] > 4.5 and ax.get_ylim()[0] < -3.0


def test_long_group_names_wrap_inside_the_figure():
    long = "program:respondent-mipro-light-qwen2.5-coder-0.5b"
    points = pd.DataFrame({"name": ["A", "B"], "x": [0.1, 0.2], "y": [0.3, 0.4], "group": [long, long]})
    arrows = pd.DataFrame({"x0": [0.0], "y0": [0.0], "x1": [0.1], "y1": [0.3], "group": [long]})
    fig = plot.map_figure(points, arrows)
    fig.canvas.draw()
    legend = fig.axes[0].get_legend()  # the legend of the added points and arrows
    assert any("mipro" in t.get_text() for t in legend.get_texts())
    assert legend.get_window_extent().x1 <= fig.bbox.x1  # nothing runs off the right edge


def test_unknown_suffix_names_the_allowed_ones(tmp_path):
    with pytest.raises(CulturalignError, match=r"\.png.*\.svg.*\.html"):
        plot.save_map(tmp_path / "map.jpg")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "bad, needed",
    [
        (pd.DataFrame({"label": ["a"], "x": [0.0], "y": [0.0]}), "name"),
        (pd.DataFrame({"name": ["a"], "x": [0.0]}), "y"),
    ],
)
def test_bad_points_say_which_columns_are_needed(tmp_path, bad, needed):
    with pytest.raises(CulturalignError, match=rf"name, x, y.*missing {needed}"):
        plot.save_map(tmp_path / "map.png", bad)
    with pytest.raises(CulturalignError, match="name, x, y"):
        plot.save_map(tmp_path / "map.html", bad)
    assert list(tmp_path.iterdir()) == []


def test_bad_arrows_and_coordinates_are_rejected():
    with pytest.raises(CulturalignError, match="x0, y0, x1, y1"):
        plot.map_figure(arrows=pd.DataFrame({"x0": [0], "y0": [0]}))
    with pytest.raises(CulturalignError, match="finite numbers"):
        plot.map_figure(pd.DataFrame({"name": ["a"], "x": ["left"], "y": [0.0]}))


def test_unknown_highlight_is_an_error():
    with pytest.raises(CulturalignError, match="unknown country"):
        plot.map_figure(highlight=["Atlantis"])


def test_saving_is_atomic(tmp_path, monkeypatch):
    target = tmp_path / "map.html"
    plot.save_map(target)
    plot.save_map(target, POINTS)  # overwrite in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.html"]
    before = target.read_bytes()

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(plot, "map_html", lambda *a, **k: "x" * 10)  # writes, then fails on rename
    monkeypatch.setattr(fileio.os, "replace", broken)
    with pytest.raises(RuntimeError):
        plot.save_map(target)
    assert target.read_bytes() == before  # the old map is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.html"]  # and no temp file is left


def test_save_creates_missing_directories(tmp_path):
    out = plot.save_map(tmp_path / "a" / "b" / "map.svg")
    assert out.exists() and out.parent.name == "b"

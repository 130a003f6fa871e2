"""The one Registry: lazy targets imported on first use, one rule for a taken name, clear errors (fast)."""

import sys

import pytest

from culturalign.errors import CulturalignError
from culturalign.registry import Registry


def test_a_lazy_target_is_imported_only_when_it_is_looked_up():
    sys.modules.pop("colorsys", None)
    reg = Registry("colour space", {"hls": "colorsys:rgb_to_hls"})
    assert reg.names() == ["hls"] and "colorsys" not in sys.modules  # listing imports nothing
    assert reg.get("hls")(1.0, 0.0, 0.0) == (0.0, 0.5, 1.0)


def test_a_taken_name_is_refused_unless_replacing_is_asked_for_and_unknown_names_list_the_known_ones():
    reg = Registry("objective", {"distance": "math:dist"})
    with pytest.raises(CulturalignError, match=r"an objective named 'distance' is already registered \(math:dist\)"):
        reg.register("distance", len)
    reg.register("distance", len, replace=True)
    assert reg.get("distance") is len
    reg.register("distance", len)  # the same entry again is no conflict
    with pytest.raises(CulturalignError, match="unknown objective 'closeness'; registered: distance"):
        reg.get("closeness")
    assert ["a list"] not in reg and {"a": 1} not in reg  # hostile names are simply unknown
    reg.unregister("distance")
    assert reg.names() == []


@pytest.mark.parametrize("name", ["", " padded ", None, 3])
def test_a_name_is_plain_text(name):
    with pytest.raises(CulturalignError, match="must be non-empty text"):
        Registry("program").register(name, len)


def test_a_lazy_target_names_a_module_and_an_attribute():
    with pytest.raises(CulturalignError, match="'package.module:attribute'"):
        Registry("program").register("mine", "mine.module.Class")


def test_a_registered_report_figure_is_drawn_and_a_replaced_built_in_one_takes_its_place(tmp_path):
    import shutil
    from pathlib import Path

    from matplotlib.figure import Figure

    from culturalign.extend import register_figure
    from culturalign.report.figures import FIGURES, ReportFigure
    from culturalign.report.report import write_report

    study = shutil.copytree(Path(__file__).resolve().parents[1] / "results" / "qwen-1.5b", tmp_path / "study")
    seen = []

    def mine(s):
        seen.append(sorted(s.names))
        fig = Figure()
        fig.subplots().plot(s.judged.mean_distance.to_numpy())
        return fig

    built_in = FIGURES.get("skill")
    register_figure("mine", ReportFigure("My figure", mine))
    register_figure("nothing here", ReportFigure("Never shown", lambda s: None))
    try:
        with pytest.raises(CulturalignError, match="a report figure named 'skill' is already registered"):
            register_figure("skill", ReportFigure("Mine instead", mine))
        register_figure("skill", ReportFigure("Mine instead", lambda s: None), replace=True)
        page = write_report(study).read_text()
    finally:
        FIGURES.unregister("mine")
        FIGURES.unregister("nothing here")
        register_figure("skill", built_in, replace=True)
    assert "<h3>My figure</h3>" in page and "Never shown" not in page and seen
    assert "skill bar chart" not in page  # the replacement drew nothing in the skill section
    assert not (study / "figures" / "nothing here.png").exists()

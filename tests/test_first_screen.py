"""The report's first screen: numbers rounded to their intervals, conditions sorted by skill with the yardsticks
marked, long names keyed, and a verdict that states the closest condition, its skill against the centroid and
whether its lead over the shuffled control excludes 0."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from culturalign.report.first_screen import answer_table, decimals, key_text, short_names, verdict, with_interval

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "low, high, places", [(0.0, 0.4, 2), (2.3, 2.8, 2), (-4.0, -0.5, 1), (-0.033, 0.007, 3), (1.0, 31.0, 0)]
)
def test_decimals_follow_the_interval(low, high, places):
    assert decimals(low, high) == places


def test_a_value_and_its_interval_round_alike():
    assert with_interval(0.14562, -0.1497, 0.4594) == "0.15 [−0.15, 0.46]"
    assert with_interval(-1.7010, -4.0002, -0.5168) == "−1.7 [−4.0, −0.5]"
    assert with_interval(np.nan, 0, 1) == "–"
    assert with_interval(0.5, np.nan, np.nan) == "0.50"


def test_long_names_get_a_key_and_controls_follow_their_condition():
    names = short_names(["engineered", "program:a-very-long-program-name", "compiled:another/long/one", "x:shuffled"])
    assert names["program:a-very-long-program-name"] == "P1" and names["compiled:another/long/one"] == "C1"
    assert (
        short_names(["compiled:another/long/one", "compiled:another/long/one:shuffled"])[
            "compiled:another/long/one:shuffled"
        ]
        == "C1:shuffled"
    )
    assert names["engineered"] == "engineered"
    assert key_text(names) == "P1 = program:a-very-long-program-name; C1 = compiled:another/long/one"


def _row(condition, kind, skill, low, high, lead=np.nan, lead_low=np.nan, lead_high=np.nan):
    return dict(
        model="m", condition=condition, kind=kind, countries=21, mean_distance=1.0, ci95_low=0.9, ci95_high=1.1,
        skill=skill, skill_ci95_low=low, skill_ci95_high=high, steerability_x=0.1, steerability_y=0.2,
        lead_over_shuffled=lead, lead_ci95_low=lead_low, lead_ci95_high=lead_high,
    )  # fmt: skip


def test_the_verdict_states_the_closest_condition_its_skill_and_its_lead():
    summary = pd.DataFrame(
        [
            _row("engineered", "baseline", -2.0, -3.0, -1.0, 0.01, -0.01, 0.03),
            _row("program:the-best-one-by-a-long-name", "program", 0.3, 0.1, 0.5, 0.2, 0.05, 0.35),
            _row("centroid", "reference", 0.0, 0.0, 0.0),
            _row("region_centroid", "reference", 0.7, 0.5, 0.8),
        ]
    )
    said = verdict(summary, short_names(summary.condition))
    assert "closest condition is <b>P1</b> (program:the-best-one-by-a-long-name)" in said
    assert "beats the centroid (skill 0.30 [0.10, 0.50])" in said
    assert "nothing the model does beats the model-free region_centroid" in said
    assert "lead over the shuffled control, 0.20 [0.05, 0.35], excludes 0" in said
    table = answer_table(summary, short_names(summary.condition))
    assert table.condition.tolist() == ["region_centroid", "P1", "centroid", "engineered"]  # by skill
    assert table.yardstick.tolist() == [True, False, True, False]


def test_a_lead_that_straddles_zero_is_no_evidence():
    summary = pd.DataFrame([_row("engineered", "baseline", -0.4, -1.4, 0.1, -0.014, -0.048, 0.023)])
    said = verdict(summary)
    assert "not distinguishable from the centroid (skill −0.4 [−1.4, 0.1])" in said
    assert "−0.014 [−0.048, 0.023], does not exclude 0" in said


@pytest.mark.parametrize("study", ["local-models", "steering", "evidence", "qwen-1.5b"])
def test_each_committed_report_answers_on_its_first_screen(study):
    """The page opens with the verdict: which condition is closest, its skill with interval, the shuffled lead."""
    page = (ROOT / "results" / study / "report.html").read_text()
    first = page[: page.index("<img")]  # everything before the first figure
    assert "The closest condition is <b>" in first and "skill " in first and " [" in first
    assert re.search(r"excludes? 0|no shuffled control", first)
    assert "<details>" not in first  # the full tables come after

"""Objectives for compiling programs, on hand-built cases; and the region-stratified country splits."""

import pandas as pd
import pytest

from culturalign.instrument.survey import load_survey
from culturalign.map import cultmap, reference
from culturalign.map.splits import country_splits, split_countries
from culturalign.optimization.metrics import METRIC_THRESHOLD, score_country, similarity

SURVEY = load_survey()


def _exact_vector(country):
    """An answer vector that projects exactly onto the country's point: its WVS-7 means, with Y002 solved."""
    proj = cultmap.load_projection()
    iso2 = reference.countries().set_index("country").loc[country, "iso2"]
    values = cultmap.wvs7_item_means(SURVEY).loc[iso2].to_dict()
    values["Y002"] = proj.mean[proj.items.index("Y002")]
    x, y = proj.project_one(values)
    ref = reference.countries().set_index("country").loc[country]
    return values, (ref.x - x, ref.y - y)


def test_similarity_is_bounded_and_monotone():
    assert similarity(0) == 1.0
    assert 0 < similarity(5) < similarity(1) < similarity(0.5) < 1
    assert similarity(1.0) == pytest.approx(METRIC_THRESHOLD)


def test_reference_point_scores_best_and_moving_an_item_moves_the_score():
    values, _ = _exact_vector("Germany")
    base = score_country(values, "Germany", survey=SURVEY)
    # nudge F063 (importance of God) up: more traditional, so Germany (secular) should get further away
    worse = score_country({**values, "F063": values["F063"] + 3}, "Germany", survey=SURVEY)
    assert worse.distance > base.distance and worse.score < base.score
    assert worse.gaps.iloc[0]["item"] == "F063"  # the item that pulls the point away is named first
    assert "F063" in worse.feedback and "Importance of God" in worse.feedback
    assert worse.objective_scores["y"] < base.objective_scores["y"]  # the error is on the traditional axis


def test_a_perfect_point_scores_one():
    proj = cultmap.load_projection()
    sweden = reference.countries().set_index("country").loc["Sweden"]
    # solve for an answer vector on Sweden's point: move F118 and F063 from the pooled mean
    values = dict(zip(proj.items, proj.mean))
    x0, y0 = proj.project_one(values)
    import numpy as np

    i, j = proj.items.index("F118"), proj.items.index("F063")
    jac = np.array([[proj.weights[k, a] * proj.scale[a] / proj.sd[k] for k in (i, j)] for a in (0, 1)])
    step = np.linalg.solve(jac, [sweden.x - x0, sweden.y - y0])
    values["F118"] += step[0]
    values["F063"] += step[1]
    perfect = score_country(values, "Sweden", survey=SURVEY)
    assert perfect.distance == pytest.approx(0, abs=1e-9) and perfect.score == pytest.approx(1.0)
    assert all(s == pytest.approx(1.0) for s in perfect.objective_scores.values())


def test_feedback_works_without_wave7_data():
    values = dict(zip(cultmap.load_projection().items, cultmap.load_projection().mean))
    s = score_country(values, "Haiti", survey=SURVEY)  # not in the WVS-7 extraction
    assert "no WVS-7 mean" in s.feedback or "No single item" in s.feedback
    assert s.gaps.country_mean.isna().all()


def test_splits_are_stratified_fixed_and_disjoint():
    a, b = country_splits(seed=0), country_splits(seed=0)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 107 and a.country.is_unique
    assert set(a.split) == {"train", "val", "test"}
    per_region = a.groupby(["region", "split"]).size().unstack(fill_value=0)
    assert (per_region["test"] >= 1).all() and (per_region["val"] >= 1).all()
    assert split_countries("test", seed=1) != split_countries("test", seed=0)
    with pytest.raises(Exception, match="unknown split"):
        split_countries("holdout")

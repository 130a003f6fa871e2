"""The model-free yardsticks: reference predictors, skill against the centroid, and the shuffled control (fast)."""

import csv
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from culturalign.errors import CulturalignError
from culturalign.instrument.survey import load_survey
from culturalign.map.splits import country_splits
from culturalign.map.yardsticks import (
    ShuffledCountries,
    condition_stats,
    derangement,
    reference_predictions,
    skill,
    summarize_conditions,
)
from culturalign.models.cache import AnswerCache
from culturalign.programs.programs import baseline, program_answers

from fakes import FakeSession


def reference_points() -> dict:
    """country -> (x, y, region), read straight from the shipped CSV (independently of culturalign.map.reference)."""
    with resources.files("culturalign.surveys.reference").joinpath("countries.csv").open() as fh:
        return {r["country"]: (float(r["x"]), float(r["y"]), r["region"]) for r in csv.DictReader(fh)}


REF = reference_points()
SPLIT = country_splits(0)
TRAIN = SPLIT[SPLIT.split == "train"].country.tolist()
TEST = SPLIT[SPLIT.split == "test"].country.tolist()


def at(points: dict, countries) -> pd.DataFrame:
    """A condition's table: each country answered at the given point, with its true distance."""
    rows = [{"country": c, "x": points[c][0], "y": points[c][1]} for c in countries]
    table = pd.DataFrame(rows)
    table["distance"] = [np.hypot(r.x - REF[r.country][0], r.y - REF[r.country][1]) for r in table.itertuples()]
    return table


def test_centroid_of_the_test_split_is_the_mean_of_the_training_countries():
    pred = reference_predictions(TEST, known=TRAIN)
    centroid = pred[pred.condition == "centroid"]
    mean_x = sum(REF[c][0] for c in TRAIN) / len(TRAIN)
    mean_y = sum(REF[c][1] for c in TRAIN) / len(TRAIN)
    assert len(TRAIN) == 65 and len(TEST) == 21
    assert centroid.x.to_numpy() == pytest.approx(mean_x) and centroid.y.to_numpy() == pytest.approx(mean_y)
    assert (mean_x, mean_y) == pytest.approx((-0.157, -0.259), abs=5e-4)  # the figure quoted in the study


def test_leave_one_out_never_includes_the_target_and_regions_fall_back():
    everyone = list(REF)
    pred = reference_predictions(everyone).set_index(["condition", "country"])
    for country in ("Sweden", "Nigeria", "Japan"):
        others = [c for c in everyone if c != country]
        assert pred.loc[("centroid", country), "x"] == pytest.approx(np.mean([REF[c][0] for c in others]))
        region = [c for c in others if REF[c][2] == REF[country][2]]
        assert pred.loc[("region_centroid", country), "y"] == pytest.approx(np.mean([REF[c][1] for c in region]))
    # a region none of whose countries is known falls back to the centroid, and says so
    no_confucian = [c for c in TRAIN if REF[c][2] != "Confucian"]
    pred = reference_predictions(["Japan", "Sweden"], known=no_confucian).set_index(["condition", "country"])
    assert (
        pred.loc[("region_centroid", "Japan"), ["x", "y"]].tolist()
        == pred.loc[("centroid", "Japan"), ["x", "y"]].tolist()
    )
    assert pred.loc[("region_centroid", "Japan"), "region_fallback"]
    assert not pred.loc[("region_centroid", "Sweden"), "region_fallback"]
    # a target in the known list is still left out of its own prediction
    inside = reference_predictions(["Sweden"], known=TRAIN + ["Sweden"]).set_index("condition")
    assert inside.at["centroid", "x"] == pytest.approx(np.mean([REF[c][0] for c in TRAIN if c != "Sweden"]))


def test_skill_is_zero_for_the_centroid_one_for_a_perfect_respondent_and_negative_when_shuffled():
    centroid = reference_predictions(TEST, known=TRAIN).query("condition == 'centroid'")
    own = skill(centroid, centroid)
    assert own["skill"] == 0.0 and own["skill_x"] == 0.0 and own["skill_y"] == 0.0
    assert own["closer_than_centroid"] == 0.0
    perfect = at(REF, TEST)
    s = skill(perfect, centroid)
    assert s["skill"] == pytest.approx(1.0) and s["skill_x"] == pytest.approx(1) and s["closer_than_centroid"] == 1
    assert s["skill_ci95"] == pytest.approx([1.0, 1.0])
    # the perfect respondent asked about the wrong countries: answers someone else's point
    asked = derangement(TEST)
    shuffled = at({c: REF[asked[c]] for c in TEST}, TEST)
    stats = condition_stats(perfect, centroid, shuffled)
    assert stats["shuffled_control"]["skill"] < -0.5
    assert stats["shuffled_control"]["gap"] > 1 and stats["shuffled_control"]["carries_country_information"]
    # skill's interval brackets a noisy respondent's estimate
    rng = np.random.default_rng(1)
    noisy = at({c: (REF[c][0] + rng.normal(0, 0.8), REF[c][1] + rng.normal(0, 0.8)) for c in TEST}, TEST)
    n = skill(noisy, centroid)
    assert n["skill_ci95"][0] < n["skill"] < n["skill_ci95"][1]


def test_a_constant_point_elsewhere_has_no_country_information():
    centroid = reference_predictions(TEST, known=TRAIN).query("condition == 'centroid'")
    constant = at({c: (1.0, 1.0) for c in TEST}, TEST)
    asked = derangement(TEST)
    stats = condition_stats(constant, centroid, at({c: (1.0, 1.0) for c in asked}, TEST))
    assert stats["skill"] < 0 and stats["shuffled_control"]["gap"] == 0
    assert not stats["shuffled_control"]["carries_country_information"]


def test_derangement_moves_every_country_is_seeded_and_ignores_order():
    d = derangement(TEST)
    assert sorted(d) == sorted(d.values()) == sorted(TEST) and all(k != v for k, v in d.items())
    assert derangement(list(reversed(TEST))) == d and derangement(TEST, seed=1) != d
    with pytest.raises(CulturalignError, match="at least two"):
        derangement(["Japan"])


def test_summaries_put_each_control_inside_its_condition(tmp_path):
    centroid = reference_predictions(TEST, known=TRAIN)
    table = pd.concat(
        [
            centroid,
            at(REF, TEST).assign(condition="perfect"),
            at({c: REF[derangement(TEST)[c]] for c in TEST}, TEST).assign(condition="perfect:shuffled"),
        ]
    )
    out = summarize_conditions(table)
    assert set(out) == {"centroid", "region_centroid", "neighbours", "perfect"}
    assert out["centroid"]["skill"] == 0 and out["region_centroid"]["skill"] > 0.5  # the region lookup is strong
    assert out["perfect"]["shuffled_control"]["skill"] < -0.5
    # a perfect condition leads the neighbours yardstick by its mean distance, an interval above 0
    lead = out["perfect"]["lead_over_neighbours"]
    assert lead["lead"] == pytest.approx(out["neighbours"]["mean_distance"]) and lead["beats_neighbours"]
    assert "lead_over_neighbours" not in out["centroid"]


def test_the_shuffled_respondent_asks_about_another_country_but_is_labelled_with_the_target(tmp_path):
    session = FakeSession(AnswerCache(tmp_path / "c.sqlite"))
    survey = load_survey()
    countries = ["Chile", "Japan", "Sweden"]
    shuffled = ShuffledCountries(baseline("engineered", 1), countries)
    assert shuffled.name == "engineered:shuffled"
    asked = {c: shuffled.contexts(c)[0].country for c in countries}
    assert asked == derangement(countries) and all(asked[c] != c for c in countries)
    out = program_answers(session, shuffled, countries, survey)
    assert out["values"].country.tolist() == countries


def test_the_audit_reports_skill_the_reference_predictors_and_the_shuffled_control(tmp_path):
    """Control flow with the scripted model (its answers ignore the prompt, so the control changes nothing);
    the real model runs it in tests/test_model_e2e.py."""
    import json

    from culturalign.runs.audit import run_audit
    from fakes import fake_model_session

    session = fake_model_session(AnswerCache(tmp_path / "a.sqlite"))
    result = run_audit(
        countries=["Japan", "Sweden", "Nigeria"], variants=1, progress=False, session=session, shuffled_control=True
    )
    y = result.summary()["yardsticks"]
    assert set(y) == {"no_persona", "engineered", "centroid", "region_centroid", "neighbours"}
    assert y["centroid"]["skill"] == 0 and y["engineered"]["shuffled_control"]["gap"] == 0
    assert "shuffled_control" not in y["no_persona"]
    asked = result.config["shuffled_control"]
    # the control asks the condition's own contexts for the other countries (asked once, no extra call) ...
    assert set(result.answers.condition) == {"no_persona", "engineered"}
    points = result.points.set_index(["condition", "country"])
    relabelled = result.points[result.points.condition == "engineered:shuffled"]
    assert set(relabelled.country) == set(asked)  # ... and is scored against the true ones
    for target, other in asked.items():
        assert points.loc[("engineered:shuffled", target), "x"] == points.loc[("engineered", other), "x"]
    # the leave-one-out centroid of Japan is the mean of the 106 other countries
    centroid = result.model_free.set_index(["condition", "country"]).loc[("centroid", "Japan")]
    assert centroid.x == pytest.approx(np.mean([REF[c][0] for c in REF if c != "Japan"]))
    out = result.save(tmp_path / "audit")
    saved = json.loads((out / "summary.json").read_text())
    assert saved["yardsticks"]["region_centroid"]["skill"] > 0
    points, _ = result.map_layers()
    assert {"centroid (model-free)", "region lookup (model-free)"} <= set(points.group)
    assert not points.group.str.endswith(":shuffled").any()

"""The projection and the statistics on the map, checked against published positions and official data."""

import numpy as np
import pandas as pd
import pytest

from culturalign.errors import CulturalignError
from culturalign.instrument.survey import load_survey
from culturalign.map import cultmap, reference


def test_reference_countries_sit_where_the_published_map_puts_them():
    c = reference.countries().set_index("country")
    assert len(c) == 107 and set(c.region) == set(reference.REGIONS)
    sweden, nigeria, pakistan = c.loc["Sweden"], c.loc["Nigeria"], c.loc["Pakistan"]
    assert sweden.x > 2 and sweden.y > 0.5  # self-expression and secular
    for low in (nigeria, pakistan):
        assert low.x < -0.5 and low.y < -0.5  # survival and traditional
    assert c.loc["Japan"].y > 1.2  # the most secular-rational society on the map
    assert c.x.idxmax() == "Sweden"


def test_a_hand_computed_answer_vector_projects_exactly():
    proj = cultmap.load_projection()
    answers = {
        "F063": 5,
        "Y003": 1,
        "F120": 6,
        "G006": 2,
        "E018": 2,
        "Y002": 2,
        "A008": 2,
        "F118": 7,
        "E025": 1,
        "A165": 1,
    }
    # Worked by hand from the shipped table: z = (v - mean) / sd, pc = z . W, rescale.
    mean = dict(zip(proj.items, proj.mean))
    sd = dict(zip(proj.items, proj.sd))
    w = dict(zip(proj.items, proj.weights))
    pc0 = sum((answers[i] - mean[i]) / sd[i] * w[i][0] for i in proj.items)
    pc1 = sum((answers[i] - mean[i]) / sd[i] * w[i][1] for i in proj.items)
    x, y = cultmap.project(answers).iloc[0]
    assert x == pytest.approx(1.81 * pc0 + 0.038, abs=1e-12)
    assert y == pytest.approx(1.61 * pc1 - 0.10, abs=1e-12)
    # and one fully explicit number: the pooled-mean respondent sits at the rescaling shift
    assert cultmap.project(mean).iloc[0].tolist() == pytest.approx([0.038, -0.10])


def test_projection_is_affine_so_distributions_project_exactly():
    rng = np.random.default_rng(1)
    survey = load_survey()
    rows = pd.DataFrame({i.code: rng.uniform(*i.range, size=50) for i in survey.items})
    mean_of_points = cultmap.project(rows).mean()
    point_of_mean = cultmap.project(rows.mean().to_dict()).iloc[0]
    assert mean_of_points.tolist() == pytest.approx(point_of_mean.tolist())


def test_wave7_country_means_reproduce_the_official_wvs_map():
    means = cultmap.wvs7_item_means(load_survey())
    complete = means.drop(columns="Y002").dropna()
    points = cultmap.project(complete, fill_mean=True)  # Y002 held at the pooled mean
    official = pd.read_csv(reference.data_file("wvs_official_surveys.csv"))
    latest = official[official.year >= 2017].sort_values("year").groupby("iso3").last()
    iso3 = reference.countries().set_index("iso2")["iso3"].to_dict()
    iso3.update({"TJ": "TJK"})
    points["iso3"] = [iso3.get(i) for i in points.index]
    joined = points.merge(latest[["x", "y"]], left_on="iso3", right_index=True, suffixes=("", "_official"))
    assert len(joined) >= 50
    assert np.corrcoef(joined.x, joined.x_official)[0, 1] >= 0.96
    assert np.corrcoef(joined.y, joined.y_official)[0, 1] >= 0.98


def test_distances_nearest_and_regions():
    sweden = reference.countries().set_index("country").loc["Sweden"]
    d = cultmap.distances(sweden.x, sweden.y)
    assert len(d) == 107 and d.iloc[0].country == "Sweden" and d.iloc[0].distance == 0
    assert d.distance.is_monotonic_increasing
    assert cultmap.nearest(sweden.x, sweden.y, 3).country.tolist()[0] == "Sweden"
    assert cultmap.distance_to(0, 0, "SWE") == pytest.approx(np.hypot(sweden.x, sweden.y))
    summary = cultmap.region_summary(d)
    assert summary.set_index("region").loc["Protestant Europe", "min"] == 0
    assert summary.n.sum() == 107


def test_improved_share_counts_countries_where_the_candidate_is_closer():
    a = pd.Series({"A": 1.0, "B": 2.0, "C": 3.0, "D": 1.0})
    b = pd.Series({"A": 0.5, "B": 2.5, "C": 1.0, "E": 0.0})
    assert cultmap.improved_share(a, b) == pytest.approx(2 / 3)
    with pytest.raises(CulturalignError):
        cultmap.improved_share(pd.Series({"A": 1.0}), pd.Series({"B": 1.0}))


def test_steerability_and_specificity():
    ref = reference.countries().set_index("country")
    exact = ref.loc[["Sweden", "Nigeria", "Japan", "Brazil"], ["x", "y"]].reset_index()
    assert cultmap.steerability(exact) == pytest.approx({"x": 1.0, "y": 1.0})
    assert cultmap.specificity(exact)["rank"].tolist() == [1, 1, 1, 1]
    shifted = exact.assign(x=0.3, y=0.2)  # every country lands on the same point
    # no correlation is defined for one point, even when float rounding gives its values a tiny std
    six = ref.loc[["Sweden", "Nigeria", "Japan", "Brazil", "India", "Germany"], ["x", "y"]].reset_index()
    same = six.assign(x=0.13072309275417643, y=1.3303546565860311)  # np.std of six copies of y is 4e-16
    assert np.isnan(list(cultmap.steerability(same).values())).all()
    ranks = cultmap.specificity(shifted)["rank"]
    assert ranks.max() > 10


def test_bootstrap_interval_contains_the_point_and_shrinks_with_more_data():
    rng = np.random.default_rng(0)
    survey = load_survey()

    def draws(n):
        return pd.DataFrame({i.code: rng.normal((i.range[0] + i.range[1]) / 2, 0.5, n) for i in survey.items})

    small = cultmap.bootstrap_point(draws(10), n_boot=500)
    large = cultmap.bootstrap_point(draws(400), n_boot=500)
    for ci in (small, large):
        assert (ci.low <= ci.estimate).all() and (ci.estimate <= ci.high).all()
    assert ((large.high - large.low) < (small.high - small.low)).all()
    with pytest.raises(CulturalignError):
        cultmap.bootstrap_point(draws(1))


def test_item_distances_against_wave7_distributions():
    dist = reference.wvs7_distributions()
    germany = dist[(dist.iso2 == "DE") & (dist.question == "Q46")].set_index("option")["share"].to_dict()
    perfect = cultmap.item_distances({"Q46": germany}, ["Germany"])
    assert perfect.js.iloc[0] == pytest.approx(0, abs=1e-6)
    off = cultmap.item_distances({"Q46": {4: 1.0}}, ["Germany"])
    assert off.js.iloc[0] > 0.5
    # countries without wave-7 data simply have no rows
    assert cultmap.item_distances({"Q46": {1: 1.0}}, ["Haiti"]).empty


def test_known_defects_are_excluded_and_documented():
    dist = reference.wvs7_distributions()
    excl = reference.wvs7_exclusions()
    assert not ((dist.iso2 == "FR") & dist.question.isin(["Q182", "Q184"])).any()
    assert {"Q182", "Q184"} <= set(excl[excl.iso2 == "FR"].question)
    assert dist[dist.question == "Q254"].option.max() == 4  # "I am not [nationality]" dropped
    shares = dist.groupby(["iso2", "question"]).share.sum()
    assert np.allclose(shares, 1, atol=1e-4)


def test_official_map_is_a_separate_reference():
    official = reference.official_map()
    assert len(official) == 110 and set(official.columns) >= {"iso3", "country", "x", "y"}


@pytest.mark.parametrize(
    "name, expected",
    [
        ("usa", "United States"),
        ("GB", "Great Britain"),
        ("kor", "South Korea"),
        ("Czech Republic", "Czechia"),
        ("  sweden ", "Sweden"),
        ("Türkiye", "Turkey"),
    ],
)
def test_country_names_resolve_by_name_alias_or_code(name, expected):
    assert reference.resolve_country(name) == expected


def test_unknown_country_suggests_close_matches():
    with pytest.raises(CulturalignError, match="Did you mean Sweden"):
        reference.resolve_country("Swedn")
    assert reference.resolve_countries("Confucian") == [
        "China",
        "Hong Kong SAR",
        "Japan",
        "Macau SAR",
        "Mongolia",
        "South Korea",
        "Taiwan ROC",
    ]
    assert len(reference.resolve_countries("all")) == 107

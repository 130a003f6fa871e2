"""Distributional metrics, yardsticks and the one scoring path's distributions, on hand-computed cases."""

import math

import numpy as np
import pandas as pd
import pytest

from culturalign.distribution.metrics import compare, noise_floor
from culturalign.distribution.scores import cells, floor_cells, summarize
from culturalign.distribution.yardsticks import distribution_respondents, predictions
from culturalign.elicitation.scoring import score
from culturalign.instrument.populations import question_keys, target_distributions
from culturalign.instrument.survey import load_survey
from culturalign.map.yardsticks import derangement

WVS7 = load_survey("wvs7").select("Q1,Q46,Q164,Q152")
COUNTRIES = ["Japan", "Nigeria", "Germany", "Brazil", "Tajikistan"]  # Tajikistan is off the map


def test_metrics_match_hand_computed_values():
    p, q = [0.5, 0.5, 0.0], [0.25, 0.25, 0.5]
    m = [(a + b) / 2 for a, b in zip(p, q)]

    def kl(a, b, log):
        return sum(x * log(x / y) for x, y in zip(a, b) if x > 0)

    js2 = (kl(p, m, math.log2) + kl(q, m, math.log2)) / 2
    jse = (kl(p, m, math.log) + kl(q, m, math.log)) / 2
    got = compare(p, q)
    assert got["one_minus_jsd"] == pytest.approx(1 - math.sqrt(js2))  # the distance, base 2
    assert got["one_minus_jsd_e"] == pytest.approx(1 - math.sqrt(jse))  # Cao et al.'s natural log
    assert got["tv"] == pytest.approx(0.5)
    assert got["emd"] == pytest.approx((0.25 + 0.5) / 2)  # |CDF differences| 0.25, 0.5 over k - 1 = 2
    assert math.isnan(compare(p, q, ordinal=False)["emd"])
    assert compare(q, q) == {
        "one_minus_jsd": pytest.approx(1),
        "one_minus_jsd_e": pytest.approx(1),
        "tv": pytest.approx(0),
        "emd": pytest.approx(0),
    }


def test_uniform_scores_the_hand_computed_one_minus_jsd():
    targets = target_distributions(WVS7)
    pred = predictions(WVS7, ["Japan"], names=("uniform",))
    table = cells(pred, targets, question_keys(WVS7))
    row = table[table.question == "Q46"].iloc[0]
    q = targets[(targets.question == "Q46") & (targets.country == "Japan")].sort_values("option").share.to_numpy()
    m = (q + 0.25) / 2
    js = (np.sum(np.where(q > 0, q * np.log2(q / m), 0)) + np.sum(0.25 * np.log2(0.25 / m))) / 2
    assert row.one_minus_jsd == pytest.approx(1 - math.sqrt(js))


def test_marginal_never_includes_the_target():
    targets = target_distributions(WVS7)
    pred = predictions(WVS7, ["Japan"], names=("marginal",))
    got = pred[pred.question == "Q46"].sort_values("option").p.to_numpy()
    others = targets[(targets.question == "Q46") & (targets.country != "Japan")]
    expected = others.pivot(index="country", columns="option", values="share").fillna(0).mean().to_numpy()
    assert got == pytest.approx(expected)
    # with a training list, only those societies (never the target even if listed)
    known = predictions(WVS7, ["Japan"], known=["Japan", "Nigeria"], names=("marginal",))
    nigeria = targets[(targets.question == "Q46") & (targets.country == "Nigeria")].sort_values("option").share
    assert known[known.question == "Q46"].sort_values("option").p.to_numpy() == pytest.approx(nigeria.to_numpy())


def test_region_marginal_falls_back_to_the_marginal_off_the_map():
    pred = predictions(WVS7, ["Tajikistan"], names=("marginal", "region_marginal"))
    wide = pred.pivot_table(index=["question", "option"], columns="condition", values="p")
    assert wide.marginal.to_numpy() == pytest.approx(wide.region_marginal.to_numpy())


class Oracle:
    """A model-free respondent that answers each society's own distribution (or, shuffled, another's)."""

    def __init__(self, asked=None):
        self.asked = asked or {}

    def distributions(self, survey, countries):
        t = target_distributions(survey)
        parts = [t[t.country == self.asked.get(c, c)].assign(country=c) for c in countries]
        return pd.concat(parts).rename(columns={"share": "p"})[["country", "item", "part", "question", "option", "p"]]


def test_a_perfect_respondent_scores_tv_zero_and_skill_one_and_its_shuffled_control_below_zero():
    respondents = [
        ("oracle", "program", Oracle()),
        ("oracle:shuffled", "shuffled", Oracle(derangement(COUNTRIES))),
        *distribution_respondents(),
    ]
    scored = score(None, respondents, COUNTRIES, WVS7)  # no model respondent: no model call
    assert scored.contexts == 0
    targets = target_distributions(WVS7)
    table = cells(scored.distributions, targets, question_keys(WVS7))
    summary = summarize(table, floor_cells(targets, COUNTRIES))
    oracle = summary["oracle"]
    assert oracle["tv"] == pytest.approx(0, abs=1e-9) and oracle["one_minus_jsd"] == pytest.approx(1)
    assert oracle["skill_tv"] == pytest.approx(1) and oracle["closer_than_marginal"] == 1
    assert oracle["shuffled_control"]["skill_tv"] < 0
    assert oracle["shuffled_control"]["carries_country_information"]
    assert summary["marginal"]["skill_tv"] == pytest.approx(0)
    assert summary["uniform"]["tv"] > summary["marginal"]["tv"]
    assert oracle["n_questions"] == 4 and oracle["n_countries"] == 5
    assert "oracle:shuffled" not in summary  # reported inside the condition it controls
    # the oracle leads the retrieved neighbours' own distributions by their whole tv
    assert oracle["lead_over_neighbours"]["tv"] == pytest.approx(summary["neighbours"]["tv"])
    assert oracle["lead_over_neighbours"]["beats_neighbours"] and "lead_over_neighbours" not in summary["marginal"]
    assert 0 < summary["noise_floor"]["tv"] < 0.05


def test_noise_floor_is_within_ten_percent_of_a_monte_carlo_estimate():
    rng = np.random.default_rng(12345)  # another seed and draw count than the module's
    for q in ([0.7, 0.2, 0.1], [0.25, 0.25, 0.25, 0.25], [0.05] * 10 + [0.5]):
        q = np.array(q) / np.sum(q)
        draws = rng.multinomial(1200, q, size=3000) / 1200
        tv = 0.5 * np.abs(draws - q).sum(axis=1).mean()
        floor = noise_floor(q)
        assert floor["tv"] == pytest.approx(tv, rel=0.10)
        m = (draws + q) / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            kl = lambda a, b: np.nansum(np.where(a > 0, a * np.log2(a / b), 0), axis=1)  # noqa: E731
            jsd = np.sqrt((kl(draws, m) + kl(np.broadcast_to(q, draws.shape), m)) / 2).mean()
        assert 1 - floor["one_minus_jsd"] == pytest.approx(jsd, rel=0.10)


def test_sample_mode_distributions_are_the_empirical_shares():
    from culturalign.elicitation.scoring import _context_distributions

    keys = question_keys(WVS7)
    answers = pd.DataFrame(
        {
            "context": [0] * 5,
            "item": ["Q46"] * 5,
            "question": [""] * 5,
            "sample": range(5),
            "text": list("11249"),
            "code": [1, 1, 2, 4, None],
            "status": ["ok"] * 4 + ["out_of_range"],
        }
    )
    got = _context_distributions(answers, keys, "sample").set_index("option")
    assert got.p.to_dict() == {1: 0.5, 2: 0.25, 3: 0.0, 4: 0.25}
    assert set(got.n) == {4} and set(got.valid_mass) == {0.8}


@pytest.mark.parametrize(
    "reply, expected",
    [
        ("1: 70%\n2: 30%", ({1: 0.7, 2: 0.3}, "ok")),
        (
            "1. Most people can be trusted: 68 %\n2. Need to be very careful: 30 %",
            ({1: 0.68 / 0.98, 2: 0.30 / 0.98}, "ok"),
        ),
        ("1: 50%\n2: 40%", (None, "bad_sum")),  # 90: outside 100 +- 5, never rescaled
        ("1: 100%", (None, "unparseable")),  # an option missing
        ("1: 60%\n1: 40%", (None, "unparseable")),  # an option twice
        ("1: 60%\n3: 40%", (None, "unparseable")),  # no such option
        ("Most people: 1: 60%\n2: 40%", (None, "unparseable")),  # a line that is not an option's share
        ("I cannot answer that.", (None, "unparseable")),
    ],
)
def test_a_verbalized_reply_is_parsed_strictly(reply, expected):
    from culturalign.elicitation.elicit import parse_distribution

    dist, status = parse_distribution(reply, (1, 2))
    assert status == expected[1]
    assert dist == (pytest.approx(expected[0]) if expected[0] else None)


def test_verbalized_mode_through_the_scoring_path_records_what_did_not_parse(tmp_path):
    from culturalign.elicitation.scoring import GenerationConfig
    from culturalign.models import MockClient, ModelSession
    from culturalign.models.cache import AnswerCache
    from culturalign.models.mock import openai_text
    from culturalign.programs.programs import baseline

    survey = load_survey("wvs7").select("Q46,Q57")

    def script(kind, prompt, settings):
        assert kind == "generate" and settings["temperature"] == 0
        asked = prompt.turns[-1][1]
        assert "What percentage of people like you would choose each option?" in asked
        if "trusted" in asked:
            return openai_text("1: 20%\n2: 80%")
        return openai_text("1: 50%\n2: 50%\n3: 50%\n4: 50%")  # adds up to 200: recorded, not coerced

    session = ModelSession(client=MockClient(script), cache=AnswerCache(tmp_path / "answers.sqlite"))
    scored = score(
        session,
        [("no_persona", "prompt", baseline("no_persona", 1))],
        ["Japan", "Nigeria"],
        survey,
        GenerationConfig(mode="verbalized"),
    )
    statuses = scored.answers.drop_duplicates("item").set_index("item").status
    assert statuses.to_dict() == {"Q46": "bad_sum", "Q57": "ok"}
    table = cells(scored.distributions, target_distributions(survey), question_keys(survey))
    got = summarize(table)["no_persona"]
    assert got["valid_mass"] == pytest.approx(0.5) and got["n_cells"] == 4 and got["n_scored"] == 2
    q57 = scored.distributions[scored.distributions.question == "Q57"].drop_duplicates("option")
    assert q57.set_index("option").p.to_dict() == {1: pytest.approx(0.2), 2: pytest.approx(0.8)}


def test_held_out_cells_split_countries_and_questions_and_score_each_against_the_marginal():
    from culturalign.distribution.scores import seen_unseen

    rows = []
    for country in ("A", "B", "C", "D"):
        for question in ("Q1", "Q2", "Q3"):
            for cond, tv in (("compiled", 0.1 if question == "Q1" else 0.3), ("marginal", 0.2)):
                rows.append(
                    {
                        "condition": cond,
                        "kind": "program" if cond == "compiled" else "reference",
                        "country": country,
                        "question": question,
                        "theme": "t",
                        "one_minus_jsd": 1 - tv,
                        "one_minus_jsd_e": 1 - tv,
                        "tv": tv,
                        "emd": tv,
                        "valid_mass": 1.0,
                    }
                )
    found = seen_unseen(pd.DataFrame(rows), seen_countries=["A", "B"], seen_questions=["Q1"])
    assert list(found) == [
        "seen countries, seen questions",
        "seen countries, unseen questions",
        "unseen countries, seen questions",
        "unseen countries, unseen questions",
    ]
    assert found["unseen countries, seen questions"]["compiled"]["skill_tv"] == pytest.approx(0.5)
    assert found["unseen countries, unseen questions"]["compiled"]["skill_tv"] == pytest.approx(-0.5)
    assert found["seen countries, unseen questions"]["compiled"]["n_questions"] == 2


def test_an_audit_folder_re_renders_its_distributional_figures_without_a_model(tmp_path):
    from culturalign.cli import main

    respondents = [("oracle", "program", Oracle()), *distribution_respondents()]
    scored = score(None, respondents, COUNTRIES, WVS7)
    targets = target_distributions(WVS7)
    cells(scored.distributions, targets, question_keys(WVS7)).to_csv(tmp_path / "distribution_scores.csv", index=False)
    floor_cells(targets, COUNTRIES).to_csv(tmp_path / "noise_floor.csv", index=False)
    main(["report", str(tmp_path)])
    assert (tmp_path / "figures" / "distribution_by_theme.png").stat().st_size > 10_000
    assert (tmp_path / "figures" / "distribution_by_question.png").stat().st_size > 10_000
    import json

    found = json.loads((tmp_path / "distribution_summary.json").read_text())
    assert found["oracle"]["skill_tv"] == pytest.approx(1) and found["noise_floor"]["tv"] > 0


def test_the_weighted_bootstrap_equals_resampling_the_cells():
    """The intervals weight rows and columns by how often each is drawn instead of copying resampled matrices:
    each resample's mean of finite cells is the one np.ix_ resampling gives, NaN where a resample has none."""
    import numpy as np

    from culturalign.distribution import scores

    rng = np.random.default_rng(3)
    m = rng.random((5, 7))
    m[rng.random((5, 7)) < 0.3] = np.nan
    m[:, 0] = np.nan  # a column with no data at all
    rows, cols = scores._boot(5, 7)
    means = scores._boot_means(m, (rows, cols))
    draw = np.random.default_rng(scores.BOOT_SEED)
    for b in range(scores.N_BOOT):
        r, c = draw.integers(0, 5, 5), draw.integers(0, 7, 7)
        assert np.array_equal(np.bincount(r, minlength=5), rows[b])
        assert np.array_equal(np.bincount(c, minlength=7), cols[b])
        sub = m[np.ix_(r, c)]
        expected = np.nanmean(sub) if np.isfinite(sub).any() else np.nan
        assert np.isclose(means[b], expected, equal_nan=True, rtol=1e-12)

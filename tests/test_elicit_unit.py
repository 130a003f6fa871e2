"""Elicitation logic with a scripted fake model (fast): exact option probabilities, parsing, control flow.
The same code paths run against the real embedded model in test_model_e2e.py."""

import math

import pytest

from culturalign.elicitation.conditions import (
    CULTURAL_PROMPT,
    DESCRIPTORS,
    NO_PERSONA,
    custom_condition,
    resolve_condition,
)
from culturalign.elicitation.elicit import Context, elicit, logprob_prompts, option_distribution, parse_answer
from culturalign.errors import CulturalignError
from culturalign.instrument.questions import Part
from culturalign.instrument.survey import load_survey
from culturalign.models.cache import AnswerCache
from culturalign.models.clients import Prompt

from fakes import FakeSession

SURVEY = load_survey()
LN = math.log


def test_ten_point_scale_splits_the_shared_first_digit():
    q = SURVEY.item("F063").questions()[0]
    prompts = logprob_prompts(Context(NO_PERSONA, "", DESCRIPTORS[0]), q)
    assert [p.prefill for p in prompts] == ["", "1"]  # one extra request: what follows a "1"
    first = [("1", LN(0.5)), ("5", LN(0.3)), (" 8", LN(0.1)), ("Based", LN(0.1))]
    after_one = [("0", LN(0.6)), ("", LN(0.3)), (".", LN(0.1))]
    dist, valid = option_distribution(q, [first, after_one])
    assert valid == pytest.approx(0.9)  # "Based" is no answer
    assert dist[10] == pytest.approx(0.5 * 0.6 / 0.9)
    assert dist[1] == pytest.approx(0.5 * 0.4 / 0.9)
    assert dist[5] == pytest.approx(0.3 / 0.9) and dist[8] == pytest.approx(0.1 / 0.9)
    assert sum(dist.values()) == pytest.approx(1.0)


def test_no_valid_option_gives_nan_not_a_guess():
    q = SURVEY.item("A165").questions()[0]
    dist, valid = option_distribution(q, [[("Yes", 0.0)]])
    assert valid == 0 and all(math.isnan(v) for v in dist.values())


def test_y002_asks_second_choice_given_each_first_choice():
    qs = SURVEY.item("Y002").questions()
    assert [str(q.part) for q in qs] == ["first", "second|1", "second|2", "second|3", "second|4"]  # answers.csv
    assert qs[2].part == Part("second", after=2)
    assert qs[2].codes == (1, 3, 4) and qs[2].turns[1] == ("assistant", "2")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("7", (7, "ok")),
        (" 10.", (10, "ok")),
        ("11", (None, "out_of_range")),
        ("I'm sorry, but as an AI I cannot answer.", (None, "refusal")),
        ("Hmm, difficult", (None, "unparseable")),
        ("Very important: 9", (None, "ambiguous")),
        ("Very important", (10, "ok")),
        ("My answer is 4", (4, "ok")),
    ],
)
def test_parse_sampled_answers(text, expected):
    q = SURVEY.item("F063").questions()[0]
    assert parse_answer(text, q.codes, q.labels) == expected


def test_parse_prefers_labels_and_rejects_contradictions():
    q = SURVEY.item("A008").questions()[0]
    assert parse_answer("Rather happy", q.codes, q.labels) == (2, "ok")
    y003 = SURVEY.item("Y003").questions()[0]
    assert parse_answer("1. No, not mentioned", y003.codes, y003.labels) == (None, "ambiguous")


def test_conditions_and_templates():
    assert len(NO_PERSONA.variants) == 10 and not NO_PERSONA.needs_country
    assert CULTURAL_PROMPT.system("Chile", "a person") == (
        "You are a person born in Chile and living in Chile responding to the following survey question."
    )
    mine = resolve_condition("local=You live in {country}.")
    assert mine.name == "local" and mine.variants == ("",)
    with pytest.raises(CulturalignError, match="must contain {country}"):
        custom_condition("You are a person.")
    with pytest.raises(CulturalignError, match="unknown field"):
        custom_condition("You are from {country} and {city}.")
    with pytest.raises(CulturalignError, match="unknown condition"):
        resolve_condition("tao")


def test_completion_prompt_for_base_models_ends_before_the_answer():
    p = Prompt("You are a person.", (("user", "Q?"),), prefill="1")
    assert p.completion_text() == "You are a person.\n\nQuestion: Q?\nAnswer: 1"


def test_elicit_logprob_control_flow_and_cache(tmp_path):
    cache = AnswerCache(tmp_path / "a.sqlite")
    assert len(cache) == 0  # an empty cache is still a cache (it must not be replaced by a default)
    session = FakeSession(cache)
    contexts = [Context(CULTURAL_PROMPT, c, v) for c in ("Chile", "Japan") for v in DESCRIPTORS[:2]]
    out = elicit(session, SURVEY, contexts, progress=False)
    values = out["values"]
    assert len(values) == 4 * 10 and (values.status == "ok").all()
    f063 = values[values.item == "F063"].value.iloc[0]
    assert f063 == pytest.approx(1 * 0.3 + 10 * 0.3 + 2 * 0.4)  # "1" splits 50/50 into 1 and 10
    sums = out["answers"].groupby(["country", "variant", "item", "question"]).probability.sum()
    assert sums.to_numpy() == pytest.approx(1.0)
    calls = session.calls
    assert calls == 4 * 20  # 20 requests per context
    elicit(session, SURVEY, contexts, progress=False)
    assert session.calls == calls  # everything came from the cache


def test_elicit_sample_mode_records_refusals(tmp_path):
    session = FakeSession(AnswerCache(tmp_path / "b.sqlite"))
    out = elicit(session, SURVEY, [Context(NO_PERSONA, "", DESCRIPTORS[0])], mode="sample", samples=3, progress=False)
    answers, values = out["answers"], out["values"]
    assert set(answers.status) == {"ok", "refusal"}
    assert len(answers[answers.item == "Y002"]) == 2 + 2 + 1  # no second question after a refused first
    assert (values[values["sample"] == 2].status == "refusal").all()
    assert values[values["sample"] == 2].value.isna().all()  # never coerced into a number
    y002 = values[values.item == "Y002"].set_index("sample").value
    assert y002[0] == 1 and y002[1] == 2  # order then prices: materialist; more say then prices: mixed
    with pytest.raises(CulturalignError, match="unknown mode"):
        elicit(session, SURVEY, [], mode="guess")


def test_the_cultural_prompt_has_one_name_everywhere():
    """Tao et al.'s cultural prompt is `engineered` in audits, evaluations and comparisons alike; the audit's
    earlier name still resolves to it."""
    assert CULTURAL_PROMPT.name == "engineered"
    assert resolve_condition("cultural_prompt") is resolve_condition("engineered") is CULTURAL_PROMPT

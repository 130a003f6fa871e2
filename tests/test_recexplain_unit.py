"""The faithfulness gate, masking, corpus checks and scoring of recommendation explanations (no model,
except a scripted reader for control flow; the real reader runs in tests/test_recexplain_e2e.py)."""

import math

import pandas as pd
import pytest

from culturalign.instrument.survey import load_survey
from culturalign.models.cache import AnswerCache
from culturalign.programs.programs import make_program
from culturalign.recsys.fit import mask
from culturalign.recsys.gate import check, display_title
from culturalign.recsys.metric import combined_score, corpus_checks, score_explanations, summarize

from fakes import FakeSession

TOY = {
    "title": "Toy Story",
    "year": 1995,
    "genres": ("Animation", "Children's", "Comedy"),
    "countries": ("United States",),
    "languages": ("English",),
}
HISTORY = [
    {
        "title": "Aladdin",
        "year": 1992,
        "genres": ("Animation", "Children's", "Comedy", "Musical"),
        "countries": (),
        "languages": (),
    },
    {"title": "Star Wars", "year": 1977, "genres": ("Action", "Adventure", "Sci-Fi"), "countries": (), "languages": ()},
]
TITLES = ["Toy Story", "Aladdin", "Star Wars", "Lion King, The", "Pulp Fiction"]
GOOD = (
    "Since you loved Aladdin, Toy Story is a warm 1995 animated comedy about friendship and loyalty that "
    "families in Nigeria often share together."
)


def gate(text, country="Nigeria"):
    return check(text, TOY, HISTORY, country, TITLES)


def test_gate_accepts_a_correct_explanation_and_names_the_facts_it_uses():
    result = gate(GOOD)
    assert result.passed, result.reasons
    assert result.history_named == ["Aladdin"] and {"title", "year", "genre"} <= set(result.facts_used)


@pytest.mark.parametrize(
    "text, reason",
    [
        (GOOD.replace("1995", "1998"), "year 1998 is not the film's"),
        (GOOD.replace("animated comedy", "horror film"), "calls it Horror"),
        (GOOD.replace("1995 ", "").replace("warm", "warm 1980s"), "the 1980s is not the film's decade"),
        (GOOD.replace("Since you loved Aladdin, ", ""), "no grounded link"),
        (GOOD.replace("animated", "French animated"), "'french' attributes a country or language"),
        (GOOD.replace("Nigeria", "Nigeria and Japan"), "names Japan"),
        (GOOD + " It is as gripping as Pulp Fiction.", "names the film 'Pulp Fiction'"),
        ("Aladdin fans: Toy Story.", "length"),
    ],
)
def test_gate_rejects_each_kind_of_false_claim(text, reason):
    result = gate(text)
    assert not result.passed and any(reason in r for r in result.reasons), result.reasons


def test_gate_allows_history_facts_in_a_sentence_that_names_that_film_and_the_viewers_country():
    text = (
        "You enjoyed Star Wars, the 1977 science fiction adventure. Toy Story, an animated comedy, brings the "
        "same sense of wonder to Nigerian families."
    )
    assert gate(text).passed, gate(text).reasons
    assert display_title("Postino, Il (1994)") == "Il Postino"


def test_masking_hides_countries_nationalities_and_survey_topics():
    masked = mask("A Nigerian story of faith and family that makes viewers in Nigeria and the United States proud.")
    assert "Nigeria" not in masked and "United States" not in masked and "faith" not in masked
    assert "proud" not in masked and masked.count("[country]") == 3 and "family" in masked


def test_corpus_checks_catch_template_collapse():
    tasks = pd.DataFrame([{"facts": TOY, "history": HISTORY}] * 3)
    same = ["Because you liked Aladdin, you will like Toy Story. It is great."] * 3
    varied = [
        "Because you liked Aladdin, you will like Toy Story. It is great.",
        "Aladdin's humour returns in Toy Story, a 1995 comedy.",
        "Toy Story shares Aladdin's warmth; its toys come alive.",
    ]
    collapsed, healthy = corpus_checks(same, tasks), corpus_checks(varied, tasks)
    assert collapsed["unique_sentence_ratio"] == pytest.approx(2 / 6)
    assert healthy["unique_sentence_ratio"] == 1.0 and healthy["distinct_2"] > collapsed["distinct_2"]


def test_combined_score_is_gated_and_monotone_in_gain():
    assert combined_score(False, 2.0) == 0.0 and combined_score(True, math.nan) == 0.0
    assert combined_score(True, 0.0) == 0.5 and combined_score(True, 0.5) > combined_score(True, 0.1) > 0.5


def test_scoring_control_flow_with_a_scripted_reader(tmp_path):
    session = FakeSession(AnswerCache(tmp_path / "r.sqlite"))
    tasks = pd.DataFrame(
        [
            {"user": 1, "item": 1, "country": "Nigeria", "facts": TOY, "history": HISTORY},
            {"user": 2, "item": 1, "country": "Japan", "facts": TOY, "history": HISTORY},
        ]
    )
    japan = GOOD.replace("Nigeria", "Japan")  # naming another country than the viewer's fails the gate
    texts = {"plain": [GOOD, japan], "compiled": [GOOD, japan.replace("1995", "1998")]}
    table = score_explanations(session, load_survey(), tasks, texts, TITLES)
    assert list(table.gate) == [True, True, True, False]
    assert set(table.shuffled_country) == {"Nigeria", "Japan"}
    assert (table.shuffled_country != table.country).all()  # every task is scored against another target
    assert (table.gain == 0).all()  # the scripted reader ignores its context
    single = score_explanations(session, load_survey(), tasks.iloc[:1], {k: v[:1] for k, v in texts.items()}, TITLES)
    assert single.gain_shuffled.isna().all()  # one task: no other target to shuffle to
    summary = summarize(table, texts, tasks).set_index("condition")
    assert summary.loc["compiled", "faithfulness_pass_rate"] == 0.5 and summary.loc["compiled", "mean_score"] == 0.25


def test_explainers_are_registered_programs_with_one_interface():
    for name in ("recexplain", "recexplain_plain", "recexplain_handwritten"):
        program = make_program(name)
        assert program.name == name and getattr(program, "task") == "recexplain"
    assert "without naming the country" in make_program("recexplain_handwritten").explain.signature.instructions
    assert "country" not in make_program("recexplain_plain").explain.signature.input_fields


def test_titles_are_not_read_as_claims():
    patient = {
        "title": "English Patient, The (1996)",
        "year": 1996,
        "genres": ("Drama", "Romance", "War"),
        "countries": (),
        "languages": (),
    }
    odyssey = {
        "title": "2001: A Space Odyssey (1968)",
        "year": 1968,
        "genres": ("Drama", "Mystery", "Sci-Fi"),
        "countries": (),
        "languages": (),
    }
    text = "You liked The English Patient, so try 2001: A Space Odyssey, a 1968 sci-fi mystery."
    assert check(text, odyssey, [patient], "Japan").passed, check(text, odyssey, [patient], "Japan").reasons
    # the same words outside a title are still claims
    assert not check(text + " It is an English comedy.", odyssey, [patient], "Japan").passed


def test_a_claim_is_about_the_film_named_just_before_it():
    # Musical is Aladdin's genre, not Toy Story's: after "Toy Story" the claim is about Toy Story.
    wrong = gate("Because Aladdin stayed with you, try Toy Story, a musical comedy from 1995.")
    assert not wrong.passed and any("Musical" in r for r in wrong.reasons)
    assert gate("Aladdin, a 1992 musical, stayed with you, so try Toy Story, a 1995 comedy.").passed
    assert not gate("Aladdin stayed with you, so try Toy Story, from 1992.").passed


def test_a_title_without_its_article_must_still_be_distinctive():
    from culturalign.recsys.gate import title_keys

    assert title_keys("Die Hard (1988)") == {"die hard"}  # not every "hard"
    assert title_keys("Godfather, The (1972)") == {"the godfather", "godfather"}

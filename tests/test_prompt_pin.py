"""Every model-facing text of the shipped survey is pinned: a refactor that changes one prompt, one answer code, one
question label in answers.csv or one cache key fails here (the hashes were taken before the item types became
classes). Change a pin only with a deliberate change of wording, and say so in the commit."""

import hashlib
import json

from culturalign.elicitation.conditions import CULTURAL_PROMPT, DESCRIPTORS, NO_PERSONA
from culturalign.elicitation.elicit import Context, elicit, logprob_prompts
from culturalign.instrument.survey import load_survey
from culturalign.models.cache import AnswerCache

from fakes import FakeSession

SURVEY = load_survey()
QUESTIONS_SHA = "39f1986eabc7a116db8b55dedf6b41756aadd45b65e5fe53068788be1f2f7286"
PROMPTS_SHA = "644ff0e6a2f9cdee829a6bd8570f1f12d77a2c7bbbf9308d6732602dc2d9d1bc"


def _sha(obj) -> str:
    return hashlib.sha256(json.dumps(obj, ensure_ascii=False).encode()).hexdigest()


def test_model_facing_questions_are_pinned():
    pinned = [
        {
            "item": item.code,
            "question": str(q.part),
            "turns": [list(t) for t in q.turns],
            "codes": list(q.codes),
            "labels": [list(lab) for lab in q.labels],
            "one_text": q.text,
        }
        for item in SURVEY.items
        for q in item.questions()
    ]
    assert len(pinned) == 8 + 4 + 5  # scales, Y003's four components, Y002's first and four second choices
    assert _sha(pinned) == QUESTIONS_SHA


def test_requests_and_cache_keys_are_pinned():
    contexts = [Context(NO_PERSONA, "", DESCRIPTORS[0]), Context(CULTURAL_PROMPT, "Chile", DESCRIPTORS[3])]
    prompts = [
        p for ctx in contexts for item in SURVEY.items for q in item.questions() for p in logprob_prompts(ctx, q)
    ]
    keys = [[p.key("chat"), p.key("completion")] for p in prompts]
    assert len(prompts) == 2 * 20
    assert _sha(keys) == PROMPTS_SHA


def test_answer_table_question_labels_are_pinned(tmp_path):
    session = FakeSession(AnswerCache(tmp_path / "a.sqlite"))
    ctx = [Context(NO_PERSONA, "", DESCRIPTORS[0])]
    logprob = elicit(session, SURVEY, ctx, progress=False)["answers"]
    assert list(dict.fromkeys(logprob.question)) == [
        "",
        "Independence",
        "Determination, perseverance",
        "Religious faith",
        "Obedience",
        "first",
        "second|1",
        "second|2",
        "second|3",
        "second|4",
    ]
    sample = elicit(session, SURVEY, ctx, mode="sample", samples=2, progress=False)["answers"]
    y002 = sample[sample["item"] == "Y002"]
    assert list(y002.question) == ["first", "second", "first", "second"]  # sample mode: the asked second choice


NUMBERS_SHA = "6887b8798bd83d4491985ad67da7a2423b8f8e79839b4f751bd5fa9898d8dc63"


def _rounded(obj):
    if isinstance(obj, float):
        return None if obj != obj else round(obj, 12)
    if isinstance(obj, dict):
        return [[str(k), _rounded(v)] for k, v in obj.items()]
    if isinstance(obj, (list, tuple)):
        return [_rounded(v) for v in obj]
    return obj


def test_item_coding_numbers_are_pinned(tmp_path):
    """Expected values, sampled values, WVS-7 item means and labelled demos."""
    from culturalign.map import cultmap
    from culturalign.programs.demos import labelled_demos

    session = FakeSession(AnswerCache(tmp_path / "n.sqlite"))
    ctx = [Context(CULTURAL_PROMPT, "Japan", DESCRIPTORS[1])]
    logprob = elicit(session, SURVEY, ctx, progress=False)
    sample = elicit(session, SURVEY, ctx, mode="sample", samples=3, progress=False)["values"]
    means = cultmap.wvs7_item_means(SURVEY)
    numbers = {
        "expected": [float(v) for v in logprob["values"].value],
        "sampled": [float(v) for v in sample.value] + list(sample.status),
        "means": [list(means.index), [[float(v) for v in row] for row in means.to_numpy()]],
        "demos": [
            [{k: d[k] for k in ("question", "answer")} for d in labelled_demos(c, SURVEY, 3)]
            for c in ("Japan", "Chile", "Nigeria", "Sweden")
        ],  # what a demo shows (not its item key)
    }
    assert _sha(_rounded(numbers)) == NUMBERS_SHA

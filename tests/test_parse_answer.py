"""The sample-mode answer parser codes a reply the way a survey coder would (fast, no model).

Replies as small chat models write them at 8 tokens: the answer first, the scale restated before the answer,
hedges, and refusals in English, Spanish, French, German and Chinese. A refusal that mentions a number, and a
reply that restates the scale's bounds, must never become an answer."""

import pytest

from culturalign.elicitation.elicit import parse_answer
from culturalign.instrument.survey import load_survey

SURVEY = load_survey()

REPLIES = [
    # ok: the answer first, or clearly marked as the answer
    ("F120", "7", (7, "ok")),
    ("F120", " 10\n", (10, "ok")),
    ("F120", "**7**", (7, "ok")),
    ("F120", "7/10", (7, "ok")),
    ("F120", "I'd say 7", (7, "ok")),
    ("F120", "My answer: 7", (7, "ok")),
    ("F120", "Rating: 8", (8, "ok")),
    ("F120", "On a scale of 1 to 10, I'd say 7", (7, "ok")),
    ("F120", "On a scale from 1 to 10, I would choose 6.", (6, "ok")),
    ("F120", "1 = never justifiable, 10 = always justifiable. My answer: 9", (9, "ok")),
    ("F120", "10 being always justifiable, I'd say 8", (8, "ok")),
    ("F120", "The answer is 3 out of 10.", (3, "ok")),
    ("F120", "Never justifiable", (1, "ok")),
    ("F120", "Always justifiable (10)", (10, "ok")),
    ("A008", "2. Rather happy", (2, "ok")),
    ("A008", "Rather happy", (2, "ok")),
    ("A008", "Not very happy", (3, "ok")),
    ("A008", "Between 1 and 4, I'd choose 2", (2, "ok")),
    ("G006", "4 - Not at all proud", (4, "ok")),
    ("E018", "Don't mind", (2, "ok")),
    ("Y003", "Yes, mentioned", (1, "ok")),
    ("Y002", "Option 3", (3, "ok")),
    # out_of_range: a number that is the answer, but not an answer code
    ("F120", "11", (None, "out_of_range")),
    ("F120", "0", (None, "out_of_range")),
    ("F120", "-3", (None, "out_of_range")),
    ("F120", "7.5", (None, "out_of_range")),
    ("F120", "I'd say 12", (None, "out_of_range")),
    ("A008", "5. Extremely happy", (None, "out_of_range")),
    # ambiguous: two answers, or a number that contradicts the label given with it
    ("F120", "3 or 4", (None, "ambiguous")),
    ("F120", "Somewhere between 6 and 7", (None, "ambiguous")),
    ("F120", "Never justifiable - 10", (None, "ambiguous")),
    ("A008", "2. Not very happy", (None, "ambiguous")),
    ("Y003", "1. No, not mentioned", (None, "ambiguous")),
    ("F120", "5-6", (None, "ambiguous")),
    # refusal: whatever numbers they mention, in English and elsewhere
    ("F120", "I cannot choose between 1 and 10", (None, "refusal")),
    ("F120", "As an AI language model, I don't have personal opinions.", (None, "refusal")),
    ("A008", "I'm sorry, but I can't answer that.", (None, "refusal")),
    ("F120", "Lo siento, no puedo responder a esa pregunta.", (None, "refusal")),
    ("F120", "Como IA, no tengo opiniones personales sobre la escala de 1 a 10.", (None, "refusal")),
    ("F120", "Je ne peux pas répondre à cette question.", (None, "refusal")),
    ("F120", "En tant qu'IA, je n'ai pas d'opinion.", (None, "refusal")),
    ("F120", "Ich kann diese Frage nicht beantworten.", (None, "refusal")),
    ("F120", "Als KI habe ich keine persönliche Meinung.", (None, "refusal")),
    ("F120", "我不能回答这个问题。", (None, "refusal")),
    ("F120", "抱歉，我无法在1到10之间选择。", (None, "refusal")),
    # unparseable: no answer in it
    ("F120", "", (None, "unparseable")),
    ("F120", "It depends on the situation.", (None, "unparseable")),
    ("F120", "1 = never justifiable, 10 = always justifiable", (None, "unparseable")),
    ("F120", "On a scale of 1 to 10", (None, "unparseable")),
    ("Y003", "Hmm, let me think about which qualities", (None, "unparseable")),
]
REPLIES += [
    ("F120", "1 and 10 are both extremes; I can't pick one.", (None, "refusal")),
    ("F120", "Lo siento, no puedo elegir entre 1 y 10.", (None, "refusal")),
    ("F120", "Je suis désolé, 5 ou 6 peut-être", (None, "refusal")),
    ("G006", "Quite proud, 2", (2, "ok")),
    # declining in words no phrase list holds, then mentioning a number: not an answer
    ("F120", "Hard to tell. 3", (None, "unparseable")),
    ("F120", "That depends on the person; 7", (None, "unparseable")),
    ("F120", "It is hard to say, 6", (None, "unparseable")),
    ("A008", "Honestly I would rather skip this one, 2", (None, "unparseable")),
]


@pytest.mark.parametrize("item, reply, expected", REPLIES, ids=[f"{i}:{r[:40]}" for i, r, _ in REPLIES])
def test_replies_are_coded_as_a_survey_coder_would(item, reply, expected):
    q = SURVEY.item(item).questions()[0]
    assert parse_answer(reply, q.codes, q.labels) == expected


def test_the_table_covers_every_status():
    statuses = [status for *_, (_, status) in REPLIES]
    assert {
        s: statuses.count(s) >= 4 for s in ("ok", "out_of_range", "ambiguous", "refusal", "unparseable")
    } == dict.fromkeys(("ok", "out_of_range", "ambiguous", "refusal", "unparseable"), True)


def test_a_second_choice_is_parsed_against_the_remaining_codes():
    second = SURVEY.item("Y002").questions()[2]  # after a first choice of 2: codes 1, 3, 4
    assert parse_answer("2", second.codes, second.labels) == (None, "out_of_range")
    assert parse_answer("Between 1 and 4, I'd say 3", second.codes, second.labels) == (3, "ok")

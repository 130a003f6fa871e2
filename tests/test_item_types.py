"""A new kind of survey item is one class, defined and registered here alone: survey files can then name it, and the
elicitation engine asks it and codes its answers (logprob and sample mode) without any change to the package."""
import math
from dataclasses import dataclass
from typing import ClassVar

import pytest
import yaml

from culturalign import cultmap
from culturalign.cache import AnswerCache
from culturalign.conditions import DESCRIPTORS, NO_PERSONA
from culturalign.demos import labelled_demos
from culturalign.elicit import Context, elicit
from culturalign.errors import SurveyError
from culturalign.items import ITEM_TYPES, Item, register_item_type
from culturalign.metrics import question_distributions
from culturalign.questions import Part, Question, listed_options
from culturalign.survey import load_survey

from fakes import FakeSession


@dataclass(frozen=True)
class YesNo(Item):
    """A yes/no question whose value is the probability of "yes" (1 = yes): its own key names the yes code."""

    type: ClassVar[str] = "yes_no"
    keys: ClassVar[frozenset] = frozenset({"yes"})

    yes: int = 1

    @classmethod
    def parse(cls, raw, common, where):
        yes = raw.get("yes", 1)
        if yes not in common["options"] or len(common["options"]) != 2:
            where.fail(f"a yes/no item has two options, 'yes' one of them; got yes = {yes!r}")
        return cls(**common, yes=yes)

    def questions(self):
        text = f"{self.text}\n{listed_options(self.options, self.answer_codes)}"
        return (Question.one_turn(self.code, Part(), text, self.answer_codes, self.labels),)

    def value_from_distributions(self, dists):
        return float(dists[Part()].get(self.yes, 0.0))

    def value_from_codes(self, codes):
        return float(codes[Part()] == self.yes)


@pytest.fixture
def yes_no():
    register_item_type(YesNo)
    yield YesNo
    del ITEM_TYPES["yes_no"]


SURVEY = {"survey": "mine", "items": [
    {"code": "PET", "name": "Has a pet", "type": "yes_no", "text": "Do you have a pet?",
     "options": {1: "Yes", 2: "No"}, "yes": 1, "range": [0, 1]},
    {"code": "G006", "name": "National pride", "type": "scale", "wvs7": "Q254", "text": "How proud are you?",
     "options": {1: "Very proud", 2: "Quite proud", 3: "Not very proud", 4: "Not at all proud"}, "range": [1, 4]},
]}


def _write(tmp_path, data):
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_registered_item_type_is_read_from_a_survey_file(yes_no, tmp_path):
    survey = load_survey(_write(tmp_path, SURVEY))
    pet = survey.item("PET")
    assert isinstance(pet, YesNo) and pet.type == "yes_no" and pet.yes == 1
    (q,) = pet.questions()
    assert q.turns == (("user", "Do you have a pet?\n1. Yes\n2. No\nAnswer with the number of your choice only."),)
    bad = {**SURVEY, "items": [{**SURVEY["items"][0], "yes": 3}]}
    with pytest.raises(SurveyError, match="mine.yaml: item PET: a yes/no item has two options"):
        load_survey(_write(tmp_path, bad))
    with pytest.raises(SurveyError, match="unknown key"):
        load_survey(_write(tmp_path, {**SURVEY, "items": [{**SURVEY["items"][1], "yes": 1}]}))  # not a scale's key


def test_an_unregistered_type_is_refused_naming_the_registered_ones(tmp_path):
    with pytest.raises(SurveyError, match="'type' must be one of scale, mention_index, ranked_pair, got 'yes_no'"):
        load_survey(_write(tmp_path, SURVEY))


def test_a_registered_item_type_is_elicited_end_to_end(yes_no, tmp_path):
    survey = load_survey(_write(tmp_path, SURVEY))
    session = FakeSession(AnswerCache(tmp_path / "a.sqlite"))  # prefers "1" (0.6) over "2" (0.4)
    ctx = [Context(NO_PERSONA, "", DESCRIPTORS[0])]

    out = elicit(session, survey, ctx, progress=False)
    values = out["values"].set_index("item")
    assert values.loc["PET", "value"] == pytest.approx(0.6)  # P(yes)
    assert values.loc["G006", "value"] == pytest.approx(1 * 0.6 + 2 * 0.4)
    assert (values.status == "ok").all()
    assert out["answers"].query("item == 'PET'").question.tolist() == ["", ""]

    sampled = elicit(session, survey, ctx, mode="sample", samples=3, progress=False)["values"]
    pet = sampled[sampled["item"] == "PET"].set_index("sample")
    assert pet.value[0] == 1.0 and pet.value[1] == 0.0  # "1" is yes, "2" is no
    assert pet.status[2] == "refusal" and math.isnan(pet.value[2])

    # without a WVS-7 mapping the type is simply absent from the distribution distances, means and demos
    assert set(question_distributions(survey, out["answers"])) == {"Q254"}
    assert cultmap.wvs7_item_means(survey)["PET"].isna().all()
    assert all("pet" not in d["question"] for d in labelled_demos("Japan", survey, 5))

"""A new kind of survey item is one class, defined and registered here alone: survey files can then name it, and
the one scoring path asks it, codes its answers (logprob and sample mode) and places them on the map, without any
change to the package."""

import math
from dataclasses import dataclass
from importlib import resources
from typing import ClassVar

import pytest
import yaml

from culturalign.elicitation.scoring import GenerationConfig, score
from culturalign.errors import SurveyError
from culturalign.instrument.items import ITEM_TYPES, Item, register_item_type
from culturalign.instrument.questions import Part, Question, listed_options
from culturalign.instrument.survey import load_survey
from culturalign.map import cultmap
from culturalign.models.cache import AnswerCache
from culturalign.programs.demos import labelled_demos
from culturalign.programs.programs import baseline

from fakes import FakeSession


@dataclass(frozen=True)
class YesNo(Item):
    """A yes/no question coded onto the item's own scale: its keys ``yes`` and ``no`` are the item values the two
    answers stand for (asking "need to be careful?" codes a yes as the trust item's 2)."""

    type: ClassVar[str] = "yes_no"
    keys: ClassVar[frozenset] = frozenset({"yes", "no"})

    yes: float = 1.0
    no: float = 0.0

    @classmethod
    def parse(cls, raw, common, where):
        if sorted(common["options"]) != [1, 2]:
            where.fail("a yes/no item has the options 1 (yes) and 2 (no)")
        return cls(**common, yes=where.number(raw.get("yes"), "yes"), no=where.number(raw.get("no"), "no"))

    def questions(self):
        text = f"{self.text}\n{listed_options(self.options, self.answer_codes)}"
        return (Question.one_turn(self.code, Part(), text, self.answer_codes, self.labels),)

    def value_from_distributions(self, dists):
        return self.yes * dists[Part()].get(1, 0.0) + self.no * dists[Part()].get(2, 0.0)

    def value_from_codes(self, codes):
        return self.yes if codes[Part()] == 1 else self.no


@pytest.fixture
def yes_no():
    register_item_type(YesNo)
    yield YesNo
    ITEM_TYPES.unregister("yes_no")


CAREFUL = {
    "code": "A165",
    "name": "Need to be careful",
    "type": "yes_no",
    "yes": 2,
    "no": 1,
    "range": [1, 2],
    "text": "Generally speaking, do you think you need to be very careful in dealing with people?",
    "options": {1: "Yes", 2: "No"},
}


def _survey_file(tmp_path, replace=CAREFUL):
    """The shipped survey with its trust item asked as the new type (so the new item moves the map point)."""
    data = yaml.safe_load(resources.files("culturalign.surveys").joinpath("ivs_iw10.yaml").read_text())
    data["survey"] = "mine"
    data["items"] = [replace if raw["code"] == replace["code"] else raw for raw in data["items"]]
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_registered_item_type_is_read_from_a_survey_file(yes_no, tmp_path):
    survey = load_survey(_survey_file(tmp_path))
    careful = survey.item("A165")
    assert isinstance(careful, YesNo) and careful.type == "yes_no" and (careful.yes, careful.no) == (2, 1)
    (q,) = careful.questions()
    assert q.turns == (("user", f"{CAREFUL['text']}\n1. Yes\n2. No\nAnswer with the number of your choice only."),)
    with pytest.raises(SurveyError, match="mine.yaml: item A165: a yes/no item has the options 1"):
        load_survey(_survey_file(tmp_path, {**CAREFUL, "options": {1: "Yes", 3: "No"}}))
    with pytest.raises(SurveyError, match="unknown key"):  # its keys are its own, not a scale's
        load_survey(_survey_file(tmp_path, {**CAREFUL, "type": "scale", "options": {1: "a", 2: "b"}}))


def test_an_unregistered_type_is_refused_naming_the_registered_ones(tmp_path):
    with pytest.raises(
        SurveyError, match="'type' must be one of scale, choice, mention_index, ranked_pair, got 'yes_no'"
    ):
        load_survey(_survey_file(tmp_path))


def test_a_registered_item_type_is_scored_end_to_end_to_a_map_point(yes_no, tmp_path):
    survey = load_survey(_survey_file(tmp_path))
    session = FakeSession(AnswerCache(tmp_path / "a.sqlite"))  # prefers "1" (0.6) over "2" (0.4)
    respondents = [("engineered", "prompt", baseline("engineered", variants=1))]

    scored = score(session, respondents, ["Japan"], survey)
    row = scored.table.iloc[0]
    assert row.item_A165 == pytest.approx(2 * 0.6 + 1 * 0.4)  # "yes, careful" is the trust item's 2
    items = {code: row[f"item_{code}"] for code in survey.codes}
    assert (row.x, row.y) == pytest.approx(tuple(survey.map.project(items).iloc[0]))
    assert row.distance == pytest.approx(cultmap.distance_to(row.x, row.y, "Japan"))
    as_scale = cultmap.project({**items, "A165": 1 * 0.6 + 2 * 0.4}).iloc[0]
    assert row.x != pytest.approx(as_scale.x)  # the new type's coding, not a scale's, moved the point

    sampled = score(session, respondents, ["Japan"], survey, GenerationConfig(mode="sample", samples=3))
    careful = sampled.values[sampled.values["item"] == "A165"].set_index("sample")
    assert careful.value[0] == 2 and careful.value[1] == 1  # "1" is yes (2), "2" is no (1)
    assert careful.status[2] == "refusal" and math.isnan(careful.value[2])
    assert sampled.table.iloc[0].item_A165 == 1.5 and math.isfinite(sampled.table.iloc[0].x)

    # without a WVS-7 mapping the type is simply absent from the WVS-7 means and the demos
    assert cultmap.wvs7_item_means(survey)["A165"].isna().all()
    assert all("careful" not in d["question"] for d in labelled_demos("Japan", survey, 10))

"""The survey instrument as data: schema validation and the exact coding rules of the indices."""

from dataclasses import replace

import numpy as np
import pytest
import yaml

from culturalign.elicitation.scoring import score
from culturalign.errors import SurveyError
from culturalign.instrument.survey import load_survey, parse_survey
from culturalign.map import cultmap
from culturalign.models.cache import AnswerCache
from culturalign.programs.programs import baseline

from fakes import FakeSession


def test_shipped_survey_has_the_ten_map_items():
    s = load_survey()
    assert s.codes == ["F063", "Y003", "F120", "G006", "E018", "Y002", "A008", "F118", "E025", "A165"]
    assert s.item("F063").answer_codes == tuple(range(1, 11))
    assert s.item("Y002").type == "ranked_pair" and s.item("Y003").type == "mention_index"
    assert {c.wvs7 for c in s.item("Y003").components} == {"Q8", "Q14", "Q15", "Q17"}


def test_scale_expected_value():
    item = load_survey().item("A008")
    assert item.expected_value({1: 0.5, 2: 0.5}) == pytest.approx(1.5)


def test_mention_index_is_signed_sum_of_mention_probabilities():
    y003 = load_survey().item("Y003")
    # independence 0.9, determination 0.5, faith 0.2, obedience 0.1 -> 0.9 + 0.5 - 0.2 - 0.1
    dists = [{1: p, 2: 1 - p} for p in (0.9, 0.5, 0.2, 0.1)]
    assert y003.expected_value(dists) == pytest.approx(1.1)
    assert y003.expected_value([{1: 1.0, 2: 0.0}] * 2 + [{1: 0.0, 2: 1.0}] * 2) == 2.0


def test_ranked_pair_follows_the_postmaterialist_coding():
    y002 = load_survey().item("Y002")
    assert y002.pair_value(1, 3) == 1 and y002.pair_value(3, 1) == 1  # order + prices: materialist
    assert y002.pair_value(2, 4) == 3 and y002.pair_value(4, 2) == 3  # say + speech: post-materialist
    assert y002.pair_value(1, 2) == 2 and y002.pair_value(4, 3) == 2  # mixed
    first = {1: 0.5, 2: 0.5, 3: 0.0, 4: 0.0}
    second = {
        1: {3: 1.0, 2: 0.0, 4: 0.0},
        2: {4: 0.25, 1: 0.75, 3: 0.0},
        3: {1: 1.0, 2: 0.0, 4: 0.0},
        4: {1: 1.0, 2: 0.0, 3: 0.0},
    }
    # 0.5 * 1 (1 then 3) + 0.5 * (0.25 * 3 + 0.75 * 2)
    assert y002.expected_value((first, second)) == pytest.approx(0.5 + 0.5 * (0.75 + 1.5))


def _survey(items):
    return {"survey": "test", "items": items}


def _scale(**extra):
    item = {"code": "Q1", "name": "n", "type": "scale", "text": "t?", "options": {1: "a", 5: "b"}, "range": [1, 5]}
    item.update(extra)
    return item


@pytest.mark.parametrize(
    "item, message",
    [
        ({"name": "n", "type": "scale"}, "missing 'code'"),
        (_scale(type="likert"), "'type' must be one of"),
        (_scale(colour="red"), "unknown key(s) 'colour'"),
        (_scale(options={1: "a", 9: "b"}), "outside range"),
        (_scale(range=[5, 1]), "must be below high"),
        (_scale(text=""), "missing 'text'"),
        (_scale(options={"one": "a"}), "must be an integer"),
    ],
)
def test_malformed_items_name_the_file_the_item_and_the_problem(item, message):
    with pytest.raises(SurveyError) as err:
        parse_survey(_survey([item]), "my_survey.yaml")
    assert "my_survey.yaml" in str(err.value) and message in str(err.value)


def test_ranked_pair_group_must_use_existing_options():
    item = {
        "code": "PM",
        "name": "n",
        "type": "ranked_pair",
        "text": "t",
        "second_text": "s",
        "options": {1: "a", 2: "b"},
        "groups": {1: [1, 7]},
        "mixed": 2,
        "range": [1, 3],
    }
    with pytest.raises(SurveyError, match="item PM: group 1 must be a list of option codes"):
        parse_survey(_survey([item]), "f.yaml")


def test_duplicate_codes_and_invalid_yaml(tmp_path):
    with pytest.raises(SurveyError, match="duplicate item code"):
        parse_survey(_survey([_scale(), _scale()]), "f.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("items: [unclosed")
    with pytest.raises(SurveyError, match="not valid YAML"):
        load_survey(bad)
    with pytest.raises(SurveyError, match="unknown survey"):
        load_survey("no-such-survey")


def test_a_new_survey_needs_no_code(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(
        yaml.safe_dump(
            _survey(
                [
                    _scale(code="TRUST", range=[1, 4], options={1: "full", 4: "none"}),
                    {
                        "code": "IDX",
                        "name": "i",
                        "type": "mention_index",
                        "text": "Pick.",
                        "list": ["A", "B"],
                        "ask": "Pick {quality}?",
                        "options": {1: "yes", 2: "no"},
                        "range": [-1, 1],
                        "components": [{"quality": "A", "weight": 1}, {"quality": "B", "weight": -1}],
                    },
                ]
            )
        )
    )
    s = load_survey(path)
    assert s.codes == ["TRUST", "IDX"]
    assert s.item("TRUST").answer_codes == (1, 2, 3, 4)
    assert s.item("IDX").expected_value([{1: 0.75}, {1: 0.25}]) == pytest.approx(0.5)


def test_a_survey_is_placed_on_the_map_with_its_own_projection(tmp_path, monkeypatch):
    assert load_survey().map is cultmap.load_projection("projection_ivs_2005_2022.yaml")
    with pytest.raises(SurveyError, match="'projection' 'mine.yaml' is not a shipped map projection"):
        parse_survey({**_survey([_scale()]), "projection": "mine.yaml"}, "f.yaml")
    with pytest.raises(SurveyError, match="places answers to F063, Y003, .* which the survey lacks"):
        parse_survey({**_survey([_scale()]), "projection": "projection_ivs_2005_2022.yaml"}, "f.yaml")

    # a survey declaring another projection is scored with it: here the IVS map moved one unit to the right
    ivs = cultmap.load_projection()
    moved = replace(ivs, shift=ivs.shift + np.array([1.0, 0.0]))
    monkeypatch.setattr(
        cultmap, "load_projection", lambda name=cultmap.DEFAULT_PROJECTION: moved if name == "moved.yaml" else ivs
    )
    respondent = [("no_persona", "prompt", baseline("no_persona"))]
    points = [
        score(FakeSession(AnswerCache(tmp_path / "a.sqlite")), respondent, ["Japan"], survey).table.iloc[0]
        for survey in (load_survey(), replace(load_survey(), projection="moved.yaml"))
    ]
    assert points[1].x == pytest.approx(points[0].x + 1) and points[1].y == pytest.approx(points[0].y)

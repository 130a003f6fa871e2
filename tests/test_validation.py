"""The declarative checks (culturalign.validation): each failure says what, where and what is allowed."""

import math

import pytest

from culturalign.errors import ModelError
from culturalign.validation import Bool, Fields, Keys, ListOf, Null, Number, OneOf, Place, Text, Whole

AT = Place("exp.yaml", ModelError)


@pytest.mark.parametrize(
    "rule, value, says",
    [
        (Whole(1, 10), "3", "'n' must be a whole number from 1 to 10, got '3'"),
        (Whole(1, 10), True, "'n' must be a whole number from 1 to 10, got True"),
        (Whole(1, 10), 2.0, "got 2.0"),
        (Whole(1, 10), 11, "from 1 to 10, got 11"),
        (Whole(0, 2**32 - 1), -1, "from 0 to 4,294,967,295"),
        (Number(), math.nan, "'n' must be a finite number, got nan"),
        (Number(), False, "must be a finite number"),
        (Number(0, 5), 6, "must be a number from 0 to 5, got 6"),
        (Number(-10, 10), 10**1000, "must be a number from -10 to 10, got 1000"),
        (Number(), 10**1000, "must be a finite number, got 1000"),
        (Text(), "  ", "'n' must be text, got '  '"),
        (Text(), 5, "must be text, got 5"),
        (Text(limit=3), "abcd", "'n' is 4 characters long; at most 3 are loaded"),
        (Text(pattern=r"[a-z]+", says="a lowercase word"), "A", "must be a lowercase word"),
        (OneOf(("chat", "completion")), "x", "'n' must be one of chat, completion, got 'x'"),
        (OneOf(("chat",)), ["chat"], "must be one of chat"),
        (OneOf((1, 2)), True, "must be one of 1, 2, got True"),
        (Bool(), 1, "'n' must be true or false, got 1"),
        (Text() | Null(), 3, "must be text or null, got 3"),
        (ListOf(Whole(), high=2), [1, 2, 3], "'n' holds 3 entries; at most 2 are loaded"),
        (ListOf(Whole(), says="a list of seeds"), [True], "must be a list of seeds, got [True]"),
        (ListOf(Whole(), says="a list of seeds"), 5, "must be a list of seeds, got 5"),
        (ListOf(Whole()), {"a": 1}, "'n' must be a list, got {'a': 1}"),
        (Keys(("a",)), [], "'n' must be a mapping with a, got []"),
        (Keys(("a",)), {}, "'n': missing a"),
        (
            Keys(allowed=("alpha", "b")),
            {"alpah": 1},
            "unknown key(s) 'alpah' (did you mean 'alpha'?); allowed: alpha, b",
        ),
    ],
)
def test_a_refused_value_names_where_what_and_what_is_allowed(rule, value, says):
    assert not rule.allows(value)
    with pytest.raises(ModelError) as exc:  # the caller's own error type
        AT.check(rule, value, "n")
    assert str(exc.value).startswith("exp.yaml: ") and says in str(exc.value)


@pytest.mark.parametrize(
    "rule, value",
    [
        (Whole(1, 10), 10),
        (Number(0, 5), 0.5),
        (Text(), "x"),
        (OneOf(("a",)), "a"),
        (Bool(), False),
        (Keys(("a",)), {"a": 1}),
    ],
)
def test_an_allowed_value_comes_back(rule, value):
    assert AT.check(rule, value, "n") is value


def test_get_fills_a_default_and_a_nested_value_is_named_by_its_path():
    assert AT.get({}, "seed", Whole(), 0) == 0
    rule = Fields({"model": Fields({"name": Text()}, ("name",))}, ("model",))
    with pytest.raises(ModelError, match="^exp.yaml: 'model.name' must be text, got 3$"):
        AT.check(rule, {"model": {"name": 3}})
    with pytest.raises(ModelError, match=r"^exp.yaml: demos\[1\]: must be a mapping, got 2$"):
        Place("exp.yaml", ModelError, "{}:").check(ListOf(Keys()), [{}, 2], "demos")


def test_each_value_unique_entries_keys_checked_elsewhere_and_errors_raised_at_a_place():
    hashes = Keys(says="a mapping of hashes", each=Text(4))
    with pytest.raises(ModelError, match=r"^exp.yaml: 'ref.b' is 5 characters long; at most 4 are loaded$"):
        AT.check(hashes, {"a": "ab", "b": "abcde"}, "ref")
    seeds = ListOf(Whole(), says="distinct seeds", unique=True)
    assert seeds.allows([1, 2]) and not seeds.allows([1, 1])
    with pytest.raises(ModelError, match=r"'n' must be a list of 1 or more entries, got \[\]"):
        AT.check(ListOf(Whole(), 1), [], "n")
    rule = Fields({"free": None, "n": Whole()})  # 'free' is allowed, with any value: its own code checks it
    assert AT.check(rule, {"free": object(), "n": 1})
    with pytest.raises(ModelError, match="unknown key"):
        AT.check(rule, {"other": 1})
    with pytest.raises(ModelError, match="^exp.yaml: survey: no such survey$"):
        with AT.about("survey: "):
            raise ModelError("no such survey")

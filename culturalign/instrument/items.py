"""Item types: each kind of survey item is one class that owns everything particular to it.

An item type parses its own keys of a survey file, builds its model-facing questions, turns the answer
distributions of those questions into the item's expected value (logprob mode) and sampled answer codes into a
value (sample mode), and says which WVS-7 published questions its questions ask. The shipped types:

``scale``          one question; the answer code is the item value.
``mention_index``  one yes/no "mentioned" question per component; value = sum(weight * P(mentioned)) (IVS Y003).
``ranked_pair``    a first and a second choice among options; value looked up from the pair (IVS Y002).
``choice``         one question among unordered options (scored by its answer distribution only).

A new type is a subclass of :class:`Item` passed to :func:`register_item_type`; survey files then name it as
``type:``. Nothing else needs to change (tests/test_item_types.py adds one).
"""

from __future__ import annotations

import math
import string
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Callable, ClassVar, Mapping

from ..errors import SurveyError
from ..fileio import shown
from ..registry import Registry
from ..validation import AnyOf, Fields, Keys, ListOf, Number, OneOf, Place, Text, Whole
from .questions import ANSWER_INSTRUCTION, Answer, Part, Question, listed_options, scale_ends

MAX_CODES = 100  # answer codes of one item: no survey scale comes near this
_TEXT = Text(100_000)  # a survey's texts: non-blank
_CODE = AnyOf((Whole(-(10**9), 10**9),), "an integer")
COMMON_KEYS = frozenset({"code", "name", "type", "text", "options", "range", "wvs7", "direction", "theme"})

Distributions = Mapping[Part, Mapping[int, float]]  # each question's answer distribution {code: p}, by part


class Where(Place):
    """A place in a survey file, for error messages: ``mine.yaml: item F063: <what is wrong>``."""

    def __init__(self, path: str, place: str):
        super().__init__(f"{path}: {place}", SurveyError)

    def number(self, value, key: str):
        """``value`` if it is a finite number (not a bool), else a SurveyError naming ``key``."""
        return self.check(Number(), value, key)

    def text(self, raw: Mapping, key: str, default=None) -> str:
        """``raw[key]`` if it is non-blank text, else a SurveyError."""
        return self.get(raw, key, _TEXT, default)


@dataclass(frozen=True)
class Item(ABC):
    """One survey item: the fields every type has, and what each type must say about its answers."""

    type: ClassVar[str] = ""  # the ``type:`` a survey file names it by
    keys: ClassVar[frozenset[str]] = frozenset()  # the type's own keys in a survey file, beside COMMON_KEYS

    code: str
    name: str
    text: str
    options: Mapping[int, str]
    range: tuple[float, float]
    wvs7: tuple[str, ...] = ()
    direction: str = ""
    theme: str = ""  # the questionnaire's topic (WVS-7: happiness, trust, ...), for --questions and per-theme scores
    ordinal: ClassVar[bool] = True  # options form an ordered scale, so the earth mover's distance applies

    @classmethod
    def parse(cls, raw: Mapping, common: dict, where: Where) -> "Item":
        """Build the item from its survey-file mapping ``raw``; ``common`` holds the common fields, already
        checked. Check the type's own keys here, failing through ``where``."""
        return cls(**common)

    @property
    def answer_codes(self) -> tuple[int, ...]:
        """Codes a respondent may answer to this item's question(s)."""
        return tuple(sorted(self.options))

    @property
    def labels(self) -> tuple[tuple[int, str], ...]:
        return tuple(sorted(self.options.items()))

    @abstractmethod
    def questions(self) -> tuple[Question, ...]:
        """The model-facing questions, in the order that shares prompt prefixes best."""

    @abstractmethod
    def value_from_distributions(self, dists: Distributions) -> float:
        """The exact expected item value from every question's answer distribution (logprob mode)."""

    @abstractmethod
    def value_from_codes(self, codes: Mapping[Part, int]) -> float:
        """The item value from one sample's answer codes, by part (sample mode); NaN when incomplete."""

    def sample(self, ask: Callable[[Question], Answer]) -> list[tuple[Part, Answer]]:
        """One sample: ask the questions (``ask`` returns the coded reply), each answer under its part label."""
        return [(q.part, ask(q)) for q in self.questions()]

    def wvs7_question(self, part: Part) -> str | None:
        """The WVS-7 question that the question ``part`` asks; None where the published shares cannot label it."""
        return None

    def wvs7_means(self, shares):
        """Per-country item means (a Series by iso2) from WVS-7 answer shares (columns iso2, question, option,
        share); None where the published marginals cannot give them."""
        return None


ITEM_TYPES: Registry[type[Item]] = Registry("item type", error=SurveyError)


def register_item_type(cls: type[Item], *, replace: bool = False) -> type[Item]:
    """Let survey files use ``type: <cls.type>`` (usable as a class decorator; ``culturalign.extend`` re-exports it)."""
    if not (isinstance(cls, type) and issubclass(cls, Item)) or not cls.type:
        raise SurveyError(f"an item type is a subclass of Item with a 'type' name, got {cls!r}")
    return ITEM_TYPES.register(cls.type, cls, replace=replace)


# ---------------------------------------------------------------- the shipped types


@register_item_type
@dataclass(frozen=True)
class Scale(Item):
    """One question; the answer code is the item value. Options may label every code or only the endpoints."""

    type: ClassVar[str] = "scale"

    @classmethod
    def parse(cls, raw, common, where):
        lo, hi = common["range"]
        if hi - lo >= MAX_CODES:
            where.fail(f"a scale's 'range' spans at most {MAX_CODES} answer codes, got [{lo}, {hi}]")
        bad = [c for c in common["options"] if not lo <= c <= hi]
        if bad:
            where.fail(f"option code(s) {bad} outside range [{lo}, {hi}]")
        return cls(**common)

    @property
    def answer_codes(self) -> tuple[int, ...]:
        return tuple(range(int(self.range[0]), int(self.range[1]) + 1))

    def questions(self) -> tuple[Question, ...]:
        codes = self.answer_codes
        block = (
            scale_ends(self.options, codes) if len(self.options) < len(codes) else listed_options(self.options, codes)
        )
        return (Question.one_turn(self.code, Part(), f"{self.text}\n{block}", codes, self.labels),)

    def expected_value(self, dist: Mapping[int, float]) -> float:
        """From the answer distribution {code: p}."""
        return float(sum(code * p for code, p in dist.items()))

    def value_from_distributions(self, dists):
        return self.expected_value(dists[Part()])

    def value_from_codes(self, codes):
        return float(codes[Part()])

    def wvs7_question(self, part):
        return self.wvs7[0] if self.wvs7 else None

    def wvs7_means(self, shares):
        if not self.wvs7:
            return None
        sub = shares[shares.question == self.wvs7[0]]
        return (sub.option * sub.share).groupby(sub.iso2).sum()


@register_item_type
@dataclass(frozen=True)
class Choice(Scale):
    """One question whose options have no order (a country's first aim, a preferred source of news): scored by
    its answer distribution only. Its mean code means nothing, so its value is NaN in logprob mode, and a
    sample's value is just the code chosen."""

    type: ClassVar[str] = "choice"
    ordinal: ClassVar[bool] = False

    def questions(self) -> tuple[Question, ...]:
        codes = self.answer_codes
        return (
            Question.one_turn(
                self.code, Part(), f"{self.text}\n{listed_options(self.options, codes)}", codes, self.labels
            ),
        )

    def value_from_distributions(self, dists):
        return math.nan

    def wvs7_means(self, shares):
        return None


@dataclass(frozen=True)
class Component:
    """One "mentioned or not" part of a mention index (e.g. Independence, weight +1)."""

    quality: str
    weight: float
    wvs7: str = ""


_COMPONENTS = ListOf(  # a mention index's components, each named by its index
    Fields({"quality": _TEXT, "weight": Number()}, ("quality", "weight"), "a mapping", closed=False),
    1,
    math.inf,  # as many as a survey lists
)


def _template(ask: str, where: Where) -> None:
    """The mention question: text with {quality} as its only field, without format spec or conversion."""
    try:
        fields = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(ask) if name is not None]
    except ValueError as exc:
        where.fail(f"'ask' is not a valid template ({exc}); write {{{{ and }}}} for literal braces")
    if not fields or any(f != ("quality", "", None) for f in fields):
        where.fail(
            "'ask' must contain {quality} and no other {field}, e.g. 'Would \"{quality}\" be one of your choices?'"
        )


@register_item_type
@dataclass(frozen=True)
class MentionIndex(Item):
    """A list of qualities; one yes/no "mentioned" question per component; value = signed sum of mentions."""

    type: ClassVar[str] = "mention_index"
    keys: ClassVar[frozenset[str]] = frozenset({"list", "ask", "mentioned", "components"})

    list: tuple[str, ...] = ()
    ask: str = ""
    mentioned: int = 1
    components: tuple[Component, ...] = ()

    @classmethod
    def parse(cls, raw, common, where):
        comps = where.get(raw, "components", _COMPONENTS)
        parsed = [Component(c["quality"], float(c["weight"]), str(c.get("wvs7", ""))) for c in comps]
        listed = where.check(ListOf(_TEXT, says="a list of the qualities' texts"), raw.get("list") or [], "list")
        missing = [c.quality for c in parsed if listed and c.quality not in listed]
        if missing:
            where.fail(f"component(s) {shown(missing)} are not in 'list'")
        ask = where.text(raw, "ask", "")
        _template(ask, where)
        mentioned = where.get(raw, "mentioned", OneOf(tuple(sorted(common["options"]))), 1)
        return cls(**common, list=tuple(listed), ask=ask, mentioned=mentioned, components=tuple(parsed))

    def questions(self) -> tuple[Question, ...]:
        listing = "\n".join(f"- {q}" for q in self.list)
        block = listed_options(self.options, self.answer_codes)
        return tuple(
            Question.one_turn(
                self.code,
                Part(c.quality),
                f"{self.text}\n{listing}\n{self.ask.format(quality=c.quality)}\n{block}",
                self.answer_codes,
                self.labels,
            )
            for c in self.components
        )

    def expected_value(self, dists: list[Mapping[int, float]]) -> float:
        """From the answer distributions of the components, in order."""
        return float(sum(c.weight * d.get(self.mentioned, 0.0) for c, d in zip(self.components, dists)))

    def value_from_distributions(self, dists):
        return self.expected_value([dists[Part(c.quality)] for c in self.components])

    def value_from_codes(self, codes):
        return sum(c.weight * (codes[Part(c.quality)] == self.mentioned) for c in self.components)

    def wvs7_question(self, part):
        return next((c.wvs7 for c in self.components if c.quality == part.name), None) or None

    def wvs7_means(self, shares):
        import pandas as pd

        parts = []
        for comp in self.components:
            sub = shares[(shares.question == comp.wvs7) & (shares.option == self.mentioned)]
            parts.append(sub.set_index("iso2")["share"] * comp.weight)
        return pd.concat(parts, axis=1, join="inner").sum(axis=1)


FIRST, SECOND = Part("first"), Part("second")  # a ranked pair's questions; ``Part("second", after=a)`` per first choice


@register_item_type
@dataclass(frozen=True)
class RankedPair(Item):
    """A first and a second choice among options; both in one group give that group's value, else ``mixed``."""

    type: ClassVar[str] = "ranked_pair"
    keys: ClassVar[frozenset[str]] = frozenset({"second_text", "groups", "mixed"})
    ordinal: ClassVar[bool] = False  # a choice among aims, in no order

    second_text: str = ""
    groups: Mapping[float, frozenset] = field(default_factory=dict)
    mixed: float = 0.0

    @classmethod
    def parse(cls, raw, common, where):
        options, (lo, hi) = common["options"], common["range"]
        if len(options) < 2:
            where.fail("a ranked_pair needs at least two options")
        if not isinstance(raw.get("second_text"), str):
            where.fail("missing 'second_text' (the question for the second choice)")
        groups = raw.get("groups")
        if not isinstance(groups, dict) or not groups:
            where.fail("'groups' must map a value to the option codes that give it")
        parsed_groups = {}
        codes = ListOf(OneOf(tuple(sorted(options))), says=f"a list of option codes from {sorted(options)}")
        for value, members in groups.items():
            where.check(Number(lo, hi), value, "group value")  # inside the item's range
            parsed_groups[value] = frozenset(where.check(codes, members, name=f"group {value}"))
        mixed = where.number(raw.get("mixed"), "mixed")
        return cls(**common, second_text=raw["second_text"].strip(), groups=parsed_groups, mixed=mixed)

    def questions(self) -> tuple[Question, ...]:
        codes = self.answer_codes
        first_text = f"{self.text}\n{listed_options(self.options, codes)}"
        follow = f"{self.second_text} {ANSWER_INSTRUCTION}"
        out = [Question.one_turn(self.code, FIRST, first_text, codes, self.labels)]
        for a in codes:
            # As in the interview, the list stays the same and only the question is new; a repeat of the
            # first choice is not a valid second choice and is renormalised away.
            turns = (("user", first_text), ("assistant", str(a)), ("user", follow))
            out.append(
                Question(
                    self.code,
                    Part(SECOND.name, after=a),
                    turns,
                    tuple(c for c in codes if c != a),
                    self.labels,
                    f"{first_text}\nYour first choice: {a}\n{follow}",
                )
            )
        return tuple(out)

    def pair_value(self, first: int, second: int) -> float:
        """Both choices inside one group give that group's value, else ``mixed``."""
        for value, members in self.groups.items():
            if first in members and second in members:
                return float(value)
        return float(self.mixed)

    def expected_value(self, dists) -> float:
        """From ``({a: p}, {a: {b: p(b | a)}})``: the first choice, and the second given each first."""
        first, second = dists
        return float(
            sum(pa * sum(pb * self.pair_value(a, b) for b, pb in second[a].items()) for a, pa in first.items())
        )

    def _seconds(self, dists):
        return {part.after: d for part, d in dists.items() if part.name == SECOND.name and part.after is not None}

    def value_from_distributions(self, dists):
        return self.expected_value((dists[FIRST], self._seconds(dists)))

    def sample(self, ask):
        """The second choice is asked after the sampled first one (and recorded as ``second``)."""
        first, *seconds = self.questions()
        answer = ask(first)
        rows = [(FIRST, answer)]
        if answer.code is not None:
            rows.append((SECOND, ask(next(q for q in seconds if q.part.after == answer.code))))
        return rows

    def wvs7_question(self, part):
        return self.wvs7[0] if self.wvs7 and part == FIRST else None  # the published first choice

    def value_from_codes(self, codes):
        if FIRST not in codes or SECOND not in codes:
            return math.nan
        return self.pair_value(codes[FIRST], codes[SECOND])


# ---------------------------------------------------------------- parsing an item of a survey file


def parse_options(raw, where: Where) -> dict[int, str]:
    if not isinstance(raw, dict) or not raw or len(raw) > MAX_CODES:
        where.fail(f"'options' must be a mapping of 1 to {MAX_CODES} integer codes -> label")
    for code, label in raw.items():
        where.check(_CODE, code, name="option code")
        where.check(_TEXT, label, name=f"option {code}'s label")
    return dict(raw)


def parse_item(raw, path, index: int) -> Item:
    """Check the keys every item has, then let the item's type build it."""
    where = Where(str(path), f"item #{index + 1}")
    if not isinstance(raw, dict):
        where.fail("must be a mapping with keys code, name, type, text, options, range")
    code = raw.get("code")
    if not isinstance(code, str) or not code.strip() or len(code) > 50:
        where.fail("missing 'code' (a short identifier such as F063)")
    where = Where(str(path), f"item {code}")
    cls = ITEM_TYPES.get(where.get(raw, "type", OneOf(tuple(ITEM_TYPES.names())), None))
    where.check(Keys(allowed=tuple(sorted(COMMON_KEYS | cls.keys))), raw)
    for key in ("name", "text"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            where.fail(f"missing '{key}' (text)")
    options = parse_options(raw.get("options"), where)
    lo, hi = where.get(raw, "range", ListOf(Number(), 2, 2, "[low, high], two finite numbers"), None)
    if lo >= hi:
        where.fail(f"'range' low {lo} must be below high {hi}")
    wvs7 = [raw["wvs7"]] if isinstance(raw.get("wvs7"), str) else raw.get("wvs7", [])
    where.check(ListOf(_TEXT, says="a variable name or a list of them"), wvs7, "wvs7")
    for key in ("direction", "theme"):
        where.get(raw, key, Text(blank=True), "")
    common = {k: raw.get(k, "") for k in ("name", "direction", "theme")}
    common.update(code=code, text=raw["text"].strip(), options=options, range=(lo, hi), wvs7=tuple(wvs7))
    return cls.parse(raw, common, where)

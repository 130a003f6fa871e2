"""Declarative checks of values read from files or passed to the API (in the style of scikit-learn's
``_param_validation``): a rule says in words what it allows, and a :class:`Place` raises its caller's error type
with a message that says what is wrong, where, and what is allowed::

    at = Place("exp.yaml", CulturalignError)
    at.get(raw, "variants", Whole(1, 10), default=10)  # exp.yaml: 'variants' must be a whole number from 1 to 10, got 0

Kept free of heavy imports: the light commands load it (tests/test_startup.py).
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from typing import NoReturn

from .errors import CulturalignError
from .fileio import shown


class Rule:
    """What a value may be. ``says`` names it for messages; ``problem`` is None for an allowed value."""

    says = ""

    def allows(self, value) -> bool:
        raise NotImplementedError

    def problem(self, value) -> str | None:
        return None if self.allows(value) else f"must be {self.says}, got {shown(value)}"

    def __or__(self, other: Rule) -> Rule:
        return AnyOf((self, other))


def is_whole(value) -> bool:
    """An int that is not a bool (YAML's true is an int to Python)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value) -> bool:
    """A finite int or float that is not a bool."""
    return (is_whole(value) or isinstance(value, float)) and math.isfinite(value)


@dataclass(frozen=True)
class Whole(Rule):
    low: int = 0
    high: int = 2**32 - 1

    def allows(self, value) -> bool:
        return is_whole(value) and self.low <= value <= self.high

    @property
    def says(self) -> str:
        return f"a whole number from {self.low:,} to {self.high:,}"


@dataclass(frozen=True)
class Number(Rule):
    """A finite number (an int or a float, never a bool), within [low, high] where given."""

    low: float = -math.inf
    high: float = math.inf

    def allows(self, value) -> bool:
        return is_number(value) and self.low <= value <= self.high

    @property
    def says(self) -> str:
        return (
            "a finite number"
            if math.isinf(self.low) and math.isinf(self.high)
            else f"a number from {self.low:g} to {self.high:g}"
        )


@dataclass(frozen=True)
class Text(Rule):
    """A string: non-blank unless ``blank``, at most ``limit`` characters, matching ``pattern`` where given."""

    limit: int = 1000
    blank: bool = False
    pattern: str = ""
    says: str = "text"

    def allows(self, value) -> bool:
        return (
            isinstance(value, str)
            and len(value) <= self.limit
            and (self.blank or bool(value.strip()))
            and "\x00" not in value
            and (not self.pattern or re.fullmatch(self.pattern, value) is not None)
        )

    def problem(self, value) -> str | None:
        if isinstance(value, str) and len(value) > self.limit:
            return f"is {len(value):,} characters long; at most {self.limit:,} are loaded"
        return super().problem(value)


@dataclass(frozen=True)
class OneOf(Rule):
    choices: tuple

    def allows(self, value) -> bool:
        try:
            return value in self.choices and type(value) in {type(c) for c in self.choices}
        except TypeError:  # an unhashable value: a hostile file's list
            return False

    @property
    def says(self) -> str:
        return "one of " + ", ".join(map(str, self.choices))


class Bool(Rule):
    says = "true or false"

    def allows(self, value) -> bool:
        return isinstance(value, bool)


class Null(Rule):
    says = "null"

    def allows(self, value) -> bool:
        return value is None


class AnyOf(Rule):
    """Any of ``rules``; ``says`` words them together where " or " would not read well."""

    def __init__(self, rules: tuple, says: str = ""):
        self.rules, self.says = rules, says or " or ".join(r.says for r in rules)

    def allows(self, value) -> bool:
        return any(r.allows(value) for r in self.rules)


@dataclass(frozen=True)
class ListOf(Rule):
    """A list of at most ``high`` (at least ``low``) entries, each allowed by ``item`` (any entry if None)."""

    item: Rule | None = None
    low: int = 0
    high: int = 1000
    says: str = "a list"

    def allows(self, value) -> bool:
        return (
            isinstance(value, list)
            and self.low <= len(value) <= self.high
            and (self.item is None or all(self.item.allows(v) for v in value))
        )

    def problem(self, value) -> str | None:
        if isinstance(value, list) and len(value) > self.high:
            return f"holds {len(value):,} entries; at most {self.high:,} are loaded"
        return super().problem(value)


@dataclass(frozen=True)
class Keys(Rule):
    """A mapping with every ``required`` key and no key outside ``allowed`` (any key if None)."""

    required: tuple = ()
    allowed: tuple | None = None
    says: str = "a mapping"
    missing: str = "missing "  # how a message introduces the missing keys

    def allows(self, value) -> bool:
        return self.problem(value) is None

    def problem(self, value) -> str | None:
        if not isinstance(value, dict):
            keys = self.required or self.allowed or ()
            with_keys = f" with {'' if self.required else 'keys from '}{', '.join(keys)}" if keys else ""
            return f"must be {self.says}{with_keys}, got {shown(value)}"
        unknown = sorted((k for k in value if k not in self.allowed), key=str) if self.allowed is not None else []
        if unknown:  # before the missing ones: a misspelt key is why one is missing
            named = ", ".join(shown(k) + suggestion(k, self.allowed) for k in unknown)
            return f"unknown key(s) {named}; allowed: {', '.join(self.allowed)}"
        missing = [k for k in self.required if k not in value]
        return self.missing + ", ".join(missing) if missing else None


def suggestion(word, allowed) -> str:
    """`` (did you mean 'x'?)`` for a close allowed word, else ''."""
    close = difflib.get_close_matches(str(word), [str(a) for a in allowed], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


_ABSENT = object()


@dataclass(frozen=True)
class Place:
    """Where a value comes from (``mine.yaml: item F063``), and the error type its caller raises."""

    prefix: str = ""
    error: type[Exception] = CulturalignError

    def fail(self, what: str) -> NoReturn:
        raise self.error(f"{self.prefix}: {what}" if self.prefix else what)

    def check(self, rule: Rule, value, name: str = ""):
        """``value`` if ``rule`` allows it; else fail naming it ``name`` ('seed' or split.seed:)."""
        problem = rule.problem(value)
        if problem is not None and name:  # 'seed' must be ..., 'source': unknown key(s) ...
            sentence = name.endswith(":") or problem.startswith(("must ", "is ", "holds "))
            self.fail(f"{name}{' ' if sentence else ': '}{problem}")
        if problem is not None:
            self.fail(problem)
        return value

    def get(self, raw: dict, key: str, rule: Rule, default=_ABSENT):
        """``raw[key]`` (``default`` where absent and given) checked by ``rule``; messages name it 'key'."""
        if key not in raw and default is _ABSENT:
            self.fail(f"missing {key!r}")
        return self.check(rule, raw.get(key, default), f"{key!r}")

    def at(self, place: str) -> Place:
        """A place inside this one."""
        return Place(f"{self.prefix}: {place}" if self.prefix else place, self.error)

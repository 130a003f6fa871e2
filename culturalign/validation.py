"""Declarative checks of values read from files or passed to the API: a rule says in words what it allows, and a
:class:`Place` raises its caller's error saying what is wrong, where, and what is allowed::

    Place("exp.yaml").get(raw, "variants", Whole(1, 10), 10)  # exp.yaml: 'variants' must be a whole number ...

Kept free of heavy imports: the light commands load it (tests/test_startup.py).
"""

from __future__ import annotations

import difflib
import math
import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NoReturn

from .errors import CulturalignError
from .fileio import shown


class Rule:
    """What a value may be: ``says`` words it for messages; ``parts`` are nested values checked after it."""

    says = ""

    def allows(self, value) -> bool:
        return self.problem(value) is None

    def problem(self, value) -> str | None:
        return None if self.allows(value) else f"must be {self.says}, got {shown(value)}"

    def parts(self, value) -> list:
        return []  # (path suffix, rule, value)

    def __or__(self, other: Rule) -> Rule:
        return AnyOf((self, other))


def is_number(value) -> bool:
    """A finite int or float, never a bool (YAML's true is an int to Python)."""
    try:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    except OverflowError:  # an int of a thousand digits is no float
        return False


@dataclass
class Whole(Rule):
    low: int = 0
    high: int = 2**32 - 1

    def allows(self, value) -> bool:
        return is_number(value) and isinstance(value, int) and self.low <= value <= self.high

    @property
    def says(self) -> str:
        return f"a whole number from {self.low:,} to {self.high:,}"


@dataclass
class Number(Rule):
    low: float = -math.inf
    high: float = math.inf

    def allows(self, value) -> bool:
        return is_number(value) and self.low <= value <= self.high

    @property
    def says(self) -> str:
        bounded = math.isfinite(self.low) or math.isfinite(self.high)
        return f"a number from {self.low:g} to {self.high:g}" if bounded else "a finite number"


@dataclass
class Text(Rule):
    """A string without NUL of at most ``limit`` characters: non-blank unless ``blank``, matching ``pattern``."""

    limit: int = 1000
    blank: bool = False
    pattern: str = ""
    says: str = "text"

    def problem(self, value) -> str | None:
        if isinstance(value, str) and len(value) > self.limit:
            return f"is {len(value):,} characters long; at most {self.limit:,} are loaded"
        fits = isinstance(value, str) and "\x00" not in value and (self.blank or value.strip())
        fits = fits and re.fullmatch(self.pattern or "(?s).*", value)
        return None if fits else f"must be {self.says}, got {shown(value)}"


@dataclass
class OneOf(Rule):
    choices: tuple

    def allows(self, value) -> bool:  # of the choices' type: True is not 1
        return value in self.choices and type(value) in {type(c) for c in self.choices}

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
    def __init__(self, rules: tuple, says: str = ""):
        self.rules, self.says = rules, says or " or ".join(r.says for r in rules)

    def allows(self, value) -> bool:
        return any(r.allows(value) for r in self.rules)

    def parts(self, value) -> list:
        return next((r.parts(value) for r in self.rules if r.allows(value)), [])


@dataclass
class ListOf(Rule):
    """A list of ``low`` to ``high`` entries (``unique``: none twice). With ``says``, one message for the whole
    list; without, each entry is checked by ``item`` and named by its index (``demos[3]``)."""

    item: Rule | None = None
    low: int = 0
    high: int = 1000
    says: str = ""
    unique: bool = False

    def problem(self, value) -> str | None:
        if isinstance(value, list) and len(value) > self.high and not self.says:
            return f"holds {len(value):,} entries; at most {self.high:,} are loaded"
        fits = isinstance(value, list) and self.low <= len(value) <= self.high
        fits = fits and not (self.unique and any(v in value[:i] for i, v in enumerate(value)))
        if fits and self.says and self.item is not None:  # one message for the whole list
            fits = all(self.item.allows(v) for v in value)
        wanted = self.says or ("a list" if not self.low else f"a list of {self.low:,} or more entries")
        return None if fits else f"must be {wanted}, got {shown(value)}"

    def parts(self, value) -> list:
        return [(f"[{i}]", self.item, v) for i, v in enumerate(value)] if self.item and not self.says else []


@dataclass
class Keys(Rule):
    """A mapping with every ``required`` key and no key outside ``allowed`` (any key if None); ``each`` checks
    every value, named by its path (``reference.survey``)."""

    required: tuple = ()
    allowed: tuple | None = None
    says: str = "a mapping"
    missing: str = "missing "  # how a message introduces the missing keys
    each: Rule | None = None

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

    def parts(self, value) -> list:
        return [(f".{k}", self.each, v) for k, v in value.items()] if self.each else []


class Fields(Keys):
    """A mapping whose keys each have a rule (None: any value), checked in turn and named by their path
    (``model.name``); ``closed``: no other key."""

    def __init__(self, rules: dict, required=(), says="a mapping", closed=True, missing="missing "):
        super().__init__(tuple(required), tuple(rules) if closed else None, says, missing)
        self.rules = rules

    def parts(self, value) -> list:
        return [(f".{k}", rule, value[k]) for k, rule in self.rules.items() if k in value and rule is not None]


def suggestion(word, allowed) -> str:
    """`` (did you mean 'x'?)`` for a close allowed word, else ''."""
    close = difflib.get_close_matches(str(word), [str(a) for a in allowed], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclass(frozen=True)
class Place:
    """Where values come from (``mine.yaml: item F063``), the error its caller raises, and how a message names a
    value by its path: ``'seed' must be ...`` (``"'{}'"``) or ``split.seed: must be ...`` (``"{}:"``)."""

    prefix: str = ""
    error: type[Exception] = CulturalignError
    names: str = "'{}'"

    def fail(self, what: str) -> NoReturn:
        raise self.error(f"{self.prefix}: {what}" if self.prefix else what)

    def check(self, rule: Rule, value, path: str = "", *, name: str | None = None):
        """``value`` if ``rule`` and the rules of its parts allow it; else fail naming it (by ``name``, else by
        its ``path``)."""
        name = name if name is not None else self.names.format(path) if path else ""
        problem = rule.problem(value)
        if problem is not None:  # 'seed' must be ..., 'source': unknown key(s) ...
            sentence = name.endswith(":") or problem.startswith(("must ", "is ", "holds "))
            self.fail(f"{name}{' ' if sentence else ': '}{problem}" if name else problem)
        for suffix, part, v in rule.parts(value):
            self.check(part, v, (path + suffix).lstrip("."))
        return value

    def get(self, raw: dict, key: str, rule: Rule, default=None):
        """``raw.get(key, default)`` checked by ``rule``."""
        return self.check(rule, raw.get(key, default), key)

    @contextmanager
    def about(self, what: str = "", errors=CulturalignError):
        """Inside the block, an error of type ``errors`` is raised as this place's (its message after ``what``)."""
        try:
            yield
        except errors as exc:
            self.fail(f"{what}{exc}")

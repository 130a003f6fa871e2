"""Model-facing questions: one request's turns, the answer codes it accepts, and which part of its item it asks.

An item (see :mod:`culturalign.instrument.items`) is asked as one or more questions: a scale as one, a mention
index as one per component, a ranked pair as a first choice and a second choice after each possible first one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, NamedTuple

ANSWER_INSTRUCTION = "Answer with the number of your choice only."


@dataclass(frozen=True)
class Part:
    """Which question of its item a question is: ``Part()`` for a one-question item, ``Part("Independence")``
    for a mention component, ``Part("first")`` and ``Part("second", after=3)`` (the second choice after a
    first choice of 3) for a ranked pair. ``str(part)`` is its label in the ``question`` column of answers.csv:
    "", "Independence", "first", "second|3"."""

    name: str = ""
    after: int | None = None

    def __str__(self) -> str:
        return self.name if self.after is None else f"{self.name}|{self.after}"


@dataclass(frozen=True)
class Question:
    """One model-facing question. ``turns`` are the chat turns asked; ``text`` is the same question as one text,
    for respondents that take the question as one input field (a follow-up carries the answer it follows)."""

    item: str
    part: Part
    turns: tuple[tuple[str, str], ...]
    codes: tuple[int, ...]
    labels: tuple[tuple[int, str], ...]
    text: str

    @classmethod
    def one_turn(cls, item: str, part: Part, text: str, codes, labels) -> "Question":
        return cls(item, part, (("user", text),), tuple(codes), tuple(labels), text)


class Answer(NamedTuple):
    """A sampled reply to a question, coded: ``code`` is None unless ``status`` is "ok"."""

    text: str
    code: int | None
    status: str


def listed_options(options: Mapping[int, str], codes) -> str:
    """Every option on its own line, then the answer instruction."""
    lines = "\n".join(f"{c}. {options[c]}" for c in codes)
    return f"{lines}\n{ANSWER_INSTRUCTION}"


def scale_ends(options: Mapping[int, str], codes) -> str:
    """A numeric scale with labelled endpoints only (1-10 scales)."""
    ends = ", ".join(f"{c} = {options[c]}" for c in sorted(options))
    return f"({ends})\nAnswer with a number from {codes[0]} to {codes[-1]} only."

"""Cultural fit of an explanation, measured by a frozen reader model on the cultural map.

The reader answers the survey's items with the explanation as context, as the person it was written for;
expected answers come from token probabilities (the audit's engine, cached) and are projected onto the
map. Country names, nationalities and the survey's own topics are masked first, so that an explanation
cannot move the reader by naming the country or quoting the questionnaire. The gain of an explanation is
how much closer to the target country's point it moves the reader than the plain explanation does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

from ..elicitation.elicit import elicit
from ..instrument.questions import Question
from ..map import reference
from ..models.clients import Prompt
from .gate import NATIONALITIES

SURVEY_TOPICS = (
    "god",
    "gods",
    "religion",
    "religions",
    "religious",
    "faith",
    "church",
    "churches",
    "pray",
    "prayer",
    "worship",
    "abortion",
    "abortions",
    "homosexual",
    "homosexuality",
    "gay",
    "gays",
    "lesbian",
    "authority",
    "authorities",
    "obedience",
    "obedient",
    "obey",
    "independence",
    "independent",
    "determination",
    "perseverance",
    "petition",
    "petitions",
    "happy",
    "happiness",
    "unhappy",
    "trust",
    "trusted",
    "trusting",
    "proud",
    "pride",
    "nationality",
    "patriotic",
    "patriotism",
    "materialist",
    "materialism",
    "imagination",
    "tolerance",
    "thrift",
    "unselfish",
)
READER_SYSTEM = (
    'You have just been sent this message, written for you:\n\n"{text}"\n\n'
    "Answer the survey questions that follow as the person this message was written for."
)


@lru_cache(maxsize=None)  # masking runs for every explanation the reader scores
def _mask_words() -> tuple[str, ...]:
    names = []
    for row in reference.countries().itertuples():
        names += [row.country, *[a for a in str(row.aliases).split(";") if a]]
    return tuple(sorted({n.lower() for n in names} | set(NATIONALITIES), key=len, reverse=True))


def mask(text: str) -> str:
    """Country names and nationalities -> [country]; the survey's topic words -> [topic]."""
    for word in _mask_words():
        text = re.sub(rf"(?<![\w]){re.escape(word)}(?![\w])", "[country]", text, flags=re.I)
    topics = "|".join(SURVEY_TOPICS)
    return re.sub(rf"(?<![\w])({topics})(?![\w])", "[topic]", text, flags=re.I)


@dataclass(frozen=True)
class ReaderContext:
    """One explanation as the reader's context (a :class:`culturalign.elicitation.respondent.RespondentContext`)."""

    text: str  # already masked
    country: str = ""  # the reader never sees a country
    variant: str = ""

    @property
    def condition_name(self) -> str:
        return "reader"

    def prompt(self, q: Question, prefix: str = "") -> Prompt:
        return Prompt(READER_SYSTEM.format(text=self.text), q.turns, prefill=prefix)


def reader_points(session, survey, texts: list[str], *, progress: bool = False) -> pd.DataFrame:
    """The reader's map point for each explanation text (masked here): columns text, x, y."""
    unique = list(dict.fromkeys(texts))
    contexts = list(dict.fromkeys(ReaderContext(mask(t)) for t in unique))  # texts that mask alike: asked once
    out = elicit(session, survey, contexts, progress=progress)
    values = out["values"].pivot_table(index="context", columns="item", values="value")
    points = survey.map.project(values[survey.codes])
    position = {c: i for i, c in enumerate(contexts)}
    rows = []
    for t in unique:
        i = position[ReaderContext(mask(t))]
        rows.append({"text": t, "x": float(points.loc[i, "x"]), "y": float(points.loc[i, "y"])})
    return pd.DataFrame(rows)

"""What a respondent is: anything that, for a target country, gives the contexts a model answers the survey in.

Every condition culturalign scores is a respondent — the hand-written baselines (no persona, Tao et al.'s
cultural prompt, your templates), the compiled DSPy programs, the shuffled-country control of any of them,
the recommendation explainers' reader — and so are the model-free reference predictors, which place a
country on the map without any model (:class:`ModelFree`). :func:`culturalign.scoring.score` scores any
mix of them in one elicitation.
"""
from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

from .models.clients import Prompt


class RespondentContext(Protocol):
    """Who answers one run of the survey: hashable, so that equal contexts of several respondents (a
    shuffled control asks the same contexts as its condition) are asked once."""

    country: str
    variant: str

    @property
    def condition_name(self) -> str: ...

    def prompt(self, q, prefix: str = "") -> Prompt:
        """The request for model-facing question ``q``; ``prefix`` is the start of the answer ("1" before "10")."""


@runtime_checkable
class Respondent(Protocol):
    name: str

    def contexts(self, country: str) -> Sequence[RespondentContext]:
        """The contexts whose answers, averaged, are this respondent's answers for ``country``."""


@runtime_checkable
class ModelFree(Protocol):
    """A respondent that needs no model: it predicts the country's map point directly."""

    name: str

    def point(self, country: str) -> tuple[float, float]: ...

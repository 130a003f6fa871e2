"""What a respondent is: anything that, for a target country, gives the contexts a model answers the survey in.

Every condition culturalign scores is a respondent — the hand-written baselines (no persona, Tao et al.'s
cultural prompt, your templates), the compiled DSPy programs, the shuffled-country control of any of them,
the recommendation explainers' reader — and so are the model-free reference predictors, which place a
country on the map without any model (:class:`ModelFree`). :func:`culturalign.elicitation.scoring.score` scores
any mix of them in one elicitation.

A program answers through the model session of the run it is in (:class:`using_session`), which lives in DSPy's
thread-local settings: two runs in two threads never see each other's session.
"""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import dspy

from ..errors import CulturalignError
from ..models.clients import Prompt


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


# ---------------------------------------------------------------- the running model session

_RUN = "culturalign_run"  # the key under which a run's session lives in DSPy's thread-local settings


class using_session:
    """Make ``program(country=...)`` answer through this model session. DSPy optimizers call programs without
    passing one, so the session travels in DSPy's own thread-local context (``dspy.context``): it reaches
    the worker threads of DSPy's parallel executor, and two runs in two threads never see each other's."""

    def __init__(self, session, survey, on_country=None):
        self.session, self.survey, self.on_country = session, survey, on_country

    def __enter__(self):
        outer = _run_state() or {}
        state = {**outer, "session": self.session, "survey": self.survey}
        if self.on_country is not None:  # called after each country a program answers (progress display)
            state["on_country"] = self.on_country
        self._context = dspy.context(**{_RUN: state})
        self._context.__enter__()
        return self.session

    def __exit__(self, *exc):
        return self._context.__exit__(*exc)


def _run_state() -> dict | None:
    try:
        return dspy.settings[_RUN]
    except AttributeError:
        return None


def report_progress(label: str) -> None:
    """Tell the running compile's progress display that one more country (or example) is done."""
    state = _run_state()
    if state and "on_country" in state:
        state["on_country"](label)


def active_session():
    """The running ``(session, survey)``; an error outside :class:`using_session`."""
    state = _run_state()
    if not state:
        raise CulturalignError("no active model session: run programs inside `with using_session(session, survey):`")
    return state["session"], state["survey"]


def active_survey():
    """The survey of the running session; an error outside one (no code path falls back to a default survey)."""
    return active_session()[1]

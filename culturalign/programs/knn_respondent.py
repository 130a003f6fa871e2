"""``respondent_knn``: a respondent shown how people in culturally similar *training* countries answered.

Per target country, labelled demos (WVS wave-7 answers of training countries, as :mod:`culturalign.programs.demos`
builds them: each neighbour's most distinctive answers) are retrieved from the ``k`` training countries
nearest to the target. Similarity must not use the target's survey data, which a held-out country does not
have: the target is placed at the mean reference point of the training countries of its cultural region
(the ``region_centroid`` yardstick's prediction, leave-one-out) and its neighbours are the training countries
with WVS-7 answers nearest that point. Retrieval never returns the target, and its pool holds only the
training countries the program was compiled on (saved with the program), never validation or test ones.

The answering predictor's instructions and its own demos stay tunable, and answers are still read exactly
from log-probabilities. The region-anchored lookup is a plain nearest-neighbour search on two numbers; DSPy's
``dspy.KNN`` scores one shared embedding by dot product and does not fit a query (a region's centroid) that
lives in another space than its candidates (countries' points).
"""
from __future__ import annotations

import dspy
import numpy as np

from ..elicitation.respondent import active_survey
from ..errors import CulturalignError
from ..map import reference
from .demos import labelled_demos
from .programs import Demo, ProgramContext, Respondent, demo_fields


class NeighbourAnswer(dspy.Signature):
    """Answer the survey question as a typical person born in and living in the given country would answer
    it. The examples show how people in culturally similar countries typically answered such questions."""

    country: str = dspy.InputField(desc="the country whose people you speak for")
    question: str = dspy.InputField(desc="a survey question with its numbered answer options")
    answer: str = dspy.OutputField(desc="the number of the chosen option only")


def region_anchor(target: str, pool) -> tuple[float, float]:
    """Where the target is placed without its survey data: the mean point of the pool's countries of its
    region (the target itself left out), or of the whole pool when the region has none."""
    ref = reference.countries().set_index("country")
    known = ref.loc[[c for c in pool if c != target]]
    if known.empty:
        raise CulturalignError(f"no known country to place {target!r} by")
    same = known[known.region == ref.at[target, "region"]]
    chosen = same if len(same) else known
    return float(chosen.x.mean()), float(chosen.y.mean())


def nearest_countries(target: str, pool, k: int, eligible=None) -> list[str]:
    """The ``k`` pool countries (those in ``eligible``, when given) nearest the target's region anchor,
    nearest first; never the target. Ties go to the alphabetically first, so the result is reproducible."""
    target = reference.resolve_country(target)
    candidates = sorted(c for c in set(pool) if c != target and (eligible is None or c in eligible))
    if not candidates:
        return []
    ref = reference.countries().set_index("country")
    ax, ay = region_anchor(target, pool)
    d = np.hypot(ref.loc[candidates, "x"].to_numpy() - ax, ref.loc[candidates, "y"].to_numpy() - ay)
    return [candidates[i] for i in np.argsort(d, kind="stable")[:k]]


class NeighbourRespondent(Respondent):
    """Answers with the labelled answers of the ``k`` nearest training countries in its prompt
    (``per_neighbour`` most distinctive answers each), after the demos an optimizer chose."""

    name = "respondent_knn"

    def __init__(self, k: int = 3, per_neighbour: int = 2):
        dspy.Module.__init__(self)
        self.respond = dspy.Predict(NeighbourAnswer)
        self.k, self.per_neighbour = k, per_neighbour
        self.fit_countries(())

    def fit_countries(self, train) -> "NeighbourRespondent":
        """The countries retrieval may draw on: the training split, never validation or test countries."""
        self.pool = tuple(sorted({reference.resolve_country(c) for c in train}))
        self._retrieved, self._labelled = {}, None
        return self

    def neighbours(self, country: str) -> list[str]:
        if not self.pool:
            raise CulturalignError(f"{self.name} has no training countries to retrieve from: compile it, or "
                                   "call fit_countries(train) first")
        if self._labelled is None:  # the pool countries WVS-7 surveyed: only they have answers to show
            survey = active_survey()
            self._labelled = frozenset(c for c in self.pool if labelled_demos(c, survey, 1))
        return nearest_countries(country, self.pool, self.k, eligible=self._labelled)

    def retrieved_demos(self, country: str) -> tuple[Demo, ...]:
        """The neighbours' labelled answers, farthest neighbour first, so the nearest stands by the question."""
        if country not in self._retrieved:
            survey, signature = active_survey(), self.respond.signature
            demos = [demo_fields({"country": n, **d}, signature)
                     for n in reversed(self.neighbours(country)) for d in labelled_demos(n, survey, self.per_neighbour)]
            self._retrieved[country] = tuple(d for d in demos if d)
        return self._retrieved[country]

    def contexts(self, country: str) -> list[ProgramContext]:
        return [ProgramContext(self.name, self.respond.signature.instructions,
                               self.own_demos() + self.retrieved_demos(country), country,
                               signature=self.respond.signature)]

    # The retrieval pool and settings travel in the saved JSON beside the predictor's state, checked on load.
    @staticmethod
    def _check_retrieval(value) -> None:
        if not isinstance(value, dict) or set(value) - {"pool", "k", "per_neighbour"}:
            raise ValueError("must be a mapping with pool, k and per_neighbour")
        for key, high in (("k", 20), ("per_neighbour", 10)):
            v = value.get(key, 1)
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= high:
                raise ValueError(f"{key} must be a whole number from 1 to {high}, got {v!r}")
        pool = value.get("pool", [])
        if not isinstance(pool, list) or len(pool) > 500 or not all(isinstance(c, str) for c in pool):
            raise ValueError("pool must be a list of country names")
        for c in pool:
            try:
                reference.resolve_country(c)
            except CulturalignError:
                raise ValueError(f"pool names an unknown country {c[:60]!r}") from None

    extra_state = {"retrieval": _check_retrieval}

    def dump_state(self, json_mode=True):
        return {**super().dump_state(json_mode=json_mode),
                "retrieval": {"pool": list(self.pool), "k": self.k, "per_neighbour": self.per_neighbour}}

    def load_state(self, state, **kwargs):
        super().load_state(state, **kwargs)
        retrieval = state.get("retrieval") or {}
        self.k = int(retrieval.get("k", self.k))
        self.per_neighbour = int(retrieval.get("per_neighbour", self.per_neighbour))
        return self.fit_countries(retrieval.get("pool", []))

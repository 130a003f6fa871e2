"""What an optimizer maximises when it compiles a respondent: one training example is one country.

* ``distance`` — exp(-d) of the map distance between the program's point for a country and the country's
  reference point. Averaged over countries it is maximised by one point near the middle of the map: a
  program that moves every country to the same place scores well without steering at all.
* ``contrastive`` — how well the program's point identifies its target among the candidate countries: the
  softmax over candidates k of -d(p, k)² / 2τ², taken at the target. A point at the centroid gives every
  country about the chance share 1/N, so a constant loses; a point at the target scores far above it.

Both give DSPy a bounded score (GEPA also feedback text and ``objective_scores`` for both objectives), and
both say which threshold bootstrap-style optimizers use to keep a demo (see :meth:`Objective.threshold`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import CulturalignError
from ..map import reference
from . import OBJECTIVES
from .metrics import score_country, similarity

DEFAULT_TAU = 0.5  # map units; about three times the median distance between neighbouring countries (0.15)
CHANCE_MULTIPLE = 2.0  # contrastive bootstrap threshold: the target at least twice as likely as chance


@lru_cache(maxsize=None)
def _points(candidates: tuple[str, ...] | None) -> tuple[tuple[str, ...], np.ndarray]:
    ref = reference.countries().set_index("country")
    names = tuple(ref.index) if candidates is None else tuple(sorted(set(candidates)))
    return names, ref.loc[list(names), ["x", "y"]].to_numpy(float)


def identification(
    x: float, y: float, candidates: tuple[str, ...] | None = None, tau: float = DEFAULT_TAU
) -> dict[str, float]:
    """P(country | point): the softmax over candidate countries (all reference countries by default) of
    -d² / 2τ². Computed in log space, so it is finite for every point; independent of the candidates' order."""
    names, pts = _points(None if candidates is None else tuple(candidates))
    logits = -((pts[:, 0] - x) ** 2 + (pts[:, 1] - y) ** 2) / (2 * tau * tau)
    logits -= logits.max()
    weights = np.exp(logits)
    return dict(zip(names, weights / weights.sum()))


def contrastive_score(x: float, y: float, country: str, candidates=None, tau: float = DEFAULT_TAU) -> float:
    """The identification probability of ``country`` at (x, y); the target always counts as a candidate."""
    country = reference.resolve_country(country)
    return float(identification(x, y, _with_target(candidates, country), tau)[country])


def _with_target(candidates, country: str) -> tuple[str, ...] | None:
    return None if candidates is None else tuple(sorted({reference.resolve_country(c) for c in candidates} | {country}))


@dataclass(frozen=True)
class Objective:
    """Base: the DSPy metric, GEPA's feedback metric and the bootstrap threshold of one objective.
    ``candidates``: the countries the optimizer may know (None = every reference country); ``tau``: the
    contrastive score's width, also used for the contrastive side score GEPA sees under either objective."""

    candidates: tuple[str, ...] | None = None
    tau: float = DEFAULT_TAU

    name = "objective"

    def score(self, values: dict, country: str) -> float:
        """The objective for one country's answers (item -> expected value)."""
        s = score_country(values, country)
        return self.score_point(s.x, s.y, s.country)

    def score_point(self, x: float, y: float, country: str) -> float:
        raise NotImplementedError

    def metric(self, example, pred, trace=None) -> float:
        """DSPy metric in (0, 1]. It stays a number when ``trace`` is set: bootstrap-style optimizers treat
        any truthy value as a pass, so they get :meth:`threshold` as ``metric_threshold``."""
        return self.score(pred.item_values, example.country)

    def feedback(self, gold, pred, trace=None, pred_name=None, pred_trace=None):
        """GEPA metric: the score, feedback text, and the score under every registered objective."""
        import dspy

        s = score_country(pred.item_values, gold.country)
        scores = {
            name: OBJECTIVES.get(name)(candidates=self.candidates, tau=self.tau).score_point(s.x, s.y, s.country)
            for name in OBJECTIVES.names()
        }
        return dspy.Prediction(
            score=self.score_point(s.x, s.y, s.country), feedback=self.feedback_text(s), objective_scores=scores
        )

    def feedback_text(self, s) -> str:
        return s.feedback

    def threshold(self, preset_threshold: float | None) -> float | None:
        return preset_threshold

    def record(self) -> dict:
        raise NotImplementedError


@dataclass(frozen=True)
class DistanceObjective(Objective):
    scale: float = 1.0

    name = "distance"

    def score_point(self, x, y, country):
        ref = reference.countries().set_index("country").loc[reference.resolve_country(country)]
        return similarity(math.hypot(x - ref.x, y - ref.y), self.scale)

    def record(self) -> dict:
        return {"name": self.name, "similarity": f"exp(-distance / {self.scale})"}


@dataclass(frozen=True)
class ContrastiveObjective(Objective):
    name = "contrastive"

    def score_point(self, x, y, country):
        return contrastive_score(x, y, country, self.candidates, self.tau)

    def feedback_text(self, s) -> str:
        probs = identification(s.x, s.y, _with_target(self.candidates, s.country), self.tau)
        ranked = sorted(probs.items(), key=lambda kv: -kv[1])
        rank = [c for c, _ in ranked].index(s.country) + 1
        mistaken = ", ".join(f"{c} ({p:.0%})" for c, p in ranked[:3] if c != s.country)
        head = (
            f"These answers identify {s.country} with probability {probs[s.country]:.1%} (rank {rank} of "
            f"{len(ranked)}; chance is {1 / len(ranked):.1%}). They read as the answers of {mistaken}."
        )
        return head + "\n" + s.feedback

    def chance(self) -> float:
        return 1 / (len(self.candidates) if self.candidates is not None else len(reference.countries()))

    def threshold(self, preset_threshold):
        """A bootstrapped demo is kept when its country's answers make it :data:`CHANCE_MULTIPLE` times as
        likely as chance (1/N): the preset's threshold is in distance units and does not carry over."""
        return CHANCE_MULTIPLE * self.chance()

    def record(self) -> dict:
        return {
            "name": self.name,
            "tau": self.tau,
            "candidates": len(self.candidates or reference.countries()),
            "score": "softmax over candidate countries of -d^2 / (2 tau^2), at the target",
        }


def make_objective(name: str = "distance", *, tau: float | None = None, candidates=None) -> Objective:
    """An objective by name. ``candidates``: the countries a contrastive score may compare against (a
    compile passes its training and validation countries, so no test country shapes the objective)."""
    cls = OBJECTIVES.get(name)
    tau = DEFAULT_TAU if tau is None else tau
    if isinstance(tau, bool) or not isinstance(tau, (int, float)) or not math.isfinite(tau) or not 0.05 <= tau <= 5:
        raise CulturalignError(f"tau must be a number of map units from 0.05 to 5, got {tau!r}")
    pool = None if candidates is None else tuple(sorted({reference.resolve_country(c) for c in candidates}))
    return cls(candidates=pool, tau=float(tau))

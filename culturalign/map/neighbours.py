"""Retrieval: the culturally similar countries a program may show, found without the target's survey data.

A held-out country has no survey data to be compared by, so it is placed at its *region anchor*: the mean
reference point of the pool's countries of its cultural region (the target left out; the whole pool where the
region has none), which is the ``region_centroid`` yardstick's prediction. Its neighbours are the ``k`` pool
countries WVS wave 7 surveyed (only they have answers to show) nearest that point, found with scikit-learn's
``NearestNeighbors``. Retrieval never returns the target, and the pool is whatever the caller may know (the
training split), so no validation or test country is ever retrieved.

The same retrieval with no model is the ``neighbours`` yardstick (:mod:`culturalign.map.yardsticks`, and
:mod:`culturalign.distribution.yardsticks` for answer distributions): what a retrieving program must beat to
claim the language model adds anything to the evidence it is shown.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

from ..errors import CulturalignError
from . import reference

WEIGHTINGS = ("uniform", "distance")  # as scikit-learn's KNeighborsRegressor(weights=...)
MAX_K = 20


@dataclass(frozen=True)
class Retrieval:
    """How neighbours are found and pooled: ``k`` of them, weighted equally or by inverse distance to the anchor."""

    k: int = 3
    weighting: str = "uniform"

    def __post_init__(self):
        if isinstance(self.k, bool) or not isinstance(self.k, int) or not 1 <= self.k <= MAX_K:
            raise CulturalignError(f"retrieval k must be a whole number from 1 to {MAX_K}, got {self.k!r}")
        if self.weighting not in WEIGHTINGS:
            raise CulturalignError(
                f"retrieval weighting must be one of {', '.join(WEIGHTINGS)}, got {self.weighting!r}"
            )

    def record(self) -> dict:
        return asdict(self)


@lru_cache(maxsize=None)
def surveyed() -> frozenset[str]:
    """The map's countries with WVS wave-7 answers (the shipped shares of the map items): the only ones whose
    answers a program can be shown."""
    iso2 = set(reference.wvs7_distributions().iso2)
    table = reference.countries()
    return frozenset(table.loc[table.iso2.isin(iso2), "country"])


def region_anchor(target: str, pool) -> tuple[float, float]:
    """Where the target is placed without its survey data: the mean point of the pool's countries of its
    region (the target itself left out), or of the whole pool when the region has none."""
    ref = reference.countries().set_index("country")
    known = ref.loc[sorted({c for c in pool if c != target})]
    if known.empty:
        raise CulturalignError(f"no known country to place {target!r} by")
    same = known[known.region == ref.at[target, "region"]]
    chosen = same if len(same) else known
    return float(chosen.x.mean()), float(chosen.y.mean())


def neighbours(target: str, pool, retrieval: Retrieval = Retrieval()) -> list[tuple[str, float]]:
    """``[(country, weight), ...]``: the ``k`` surveyed pool countries nearest the target's region anchor,
    nearest first, weights summing to 1; never the target. Candidates are sorted by name before the search,
    so the result does not depend on the pool's order."""
    from sklearn.neighbors import NearestNeighbors
    from threadpoolctl import threadpool_limits

    target = reference.resolve_country(target)
    candidates = sorted({c for c in pool if c != target} & surveyed())
    if not candidates:
        return []
    ref = reference.countries().set_index("country")
    points = ref.loc[candidates, ["x", "y"]].to_numpy()
    k = min(retrieval.k, len(candidates))
    search = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(points)
    # one query among ~60 points: OpenMP threads cost 60 ms of set-up on a busy machine, one thread 9 ms
    with threadpool_limits(1, user_api="openmp"):
        distances, index = search.kneighbors(np.array([region_anchor(target, pool)]))
    distances, index = distances[0], index[0]
    if retrieval.weighting == "distance":  # as scikit-learn: 1/d, and an exact hit takes all the weight
        hit = distances == 0
        weights = hit.astype(float) if hit.any() else 1 / distances
    else:
        weights = np.ones(k)
    weights = weights / weights.sum()
    return [(candidates[i], float(w)) for i, w in zip(index, weights)]


def neighbours_point(target: str, pool, retrieval: Retrieval = Retrieval()) -> tuple[float, float]:
    """The ``neighbours`` yardstick on the map: the (weighted) mean reference point of the target's neighbours."""
    found = neighbours(target, pool, retrieval)
    if not found:
        raise CulturalignError(f"no surveyed country in the pool to retrieve {target!r}'s neighbours from")
    ref = reference.countries().set_index("country")
    names, weights = zip(*found)
    xy = ref.loc[list(names), ["x", "y"]].to_numpy()
    x, y = np.asarray(weights) @ xy
    return float(x), float(y)

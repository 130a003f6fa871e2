"""Retrieval: the culturally similar countries a program may show, found without the target's survey data.

A held-out country has no survey data to be compared by, so it is placed at an *anchor* on the map:

* ``region``: the mean reference point of the pool's countries of its cultural region (the target left out;
  the whole pool where the region has none), which is the ``region_centroid`` yardstick's prediction;
* ``embedding``: the mean reference point of the ``k`` pool countries whose names the served model embeds
  nearest the target's (cosine similarity of ``/v1/embeddings`` vectors, which the caller supplies: this stage
  asks no model);
* ``both``: the midpoint of the two.

Its neighbours are the ``k`` pool
countries WVS wave 7 surveyed (only they have answers to show) nearest that point, found with scikit-learn's
``NearestNeighbors``. Retrieval never returns the target, and the pool is whatever the caller may know (the
training split), so no validation or test country is ever retrieved.

The same retrieval with no model is the ``neighbours`` yardstick (:mod:`culturalign.map.yardsticks`, and
:mod:`culturalign.distribution.yardsticks` for answer distributions): what a retrieving program must beat to
claim the language model adds anything to the evidence it is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

from ..errors import CulturalignError
from . import reference

WEIGHTINGS = ("uniform", "distance")  # as scikit-learn's KNeighborsRegressor(weights=...)
ANCHORS = ("region", "embedding", "both")
MAX_K = 20


@dataclass(frozen=True)
class Retrieval:
    """How neighbours are found and pooled: ``k`` of them, weighted equally or by inverse distance to the anchor,
    around the target's ``anchor``. ``vectors`` (country -> embedding) serve the embedding anchor; they are data
    the model gave, not a setting, so they are neither compared nor recorded."""

    k: int = 3
    weighting: str = "uniform"
    anchor: str = "region"
    vectors: dict | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        if isinstance(self.k, bool) or not isinstance(self.k, int) or not 1 <= self.k <= MAX_K:
            raise CulturalignError(f"retrieval k must be a whole number from 1 to {MAX_K}, got {self.k!r}")
        if self.weighting not in WEIGHTINGS:
            raise CulturalignError(
                f"retrieval weighting must be one of {', '.join(WEIGHTINGS)}, got {self.weighting!r}"
            )
        if self.anchor not in ANCHORS:
            raise CulturalignError(
                f"retrieval anchor must be one of {', '.join(ANCHORS)}, got {str(self.anchor)[:40]!r}"
            )

    @property
    def needs_vectors(self) -> bool:
        return self.anchor != "region"

    def with_vectors(self, vectors: dict) -> "Retrieval":
        return replace(self, vectors=dict(vectors))

    def record(self) -> dict:
        return {"k": self.k, "weighting": self.weighting, "anchor": self.anchor}


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


def embedding_anchor(target: str, pool, vectors: dict, k: int) -> tuple[float, float]:
    """The mean reference point of the ``k`` pool countries (the target left out) whose embeddings are most
    cosine-similar to the target's; ties go to the name first in alphabetical order."""
    from sklearn.metrics.pairwise import cosine_similarity

    known = sorted({c for c in pool if c != target})
    lacking = [c for c in [target, *known] if c not in vectors]
    if lacking:
        raise CulturalignError(
            f"the embedding anchor needs every country's embedding; missing {', '.join(lacking[:3])}"
            f"{' ...' if len(lacking) > 3 else ''}"
        )
    if not known:
        raise CulturalignError(f"no known country to place {target!r} by")
    similarity = cosine_similarity([vectors[target]], [vectors[c] for c in known])[0]
    nearest = sorted(range(len(known)), key=lambda i: (-similarity[i], known[i]))[:k]
    ref = reference.countries().set_index("country")
    xy = ref.loc[[known[i] for i in nearest], ["x", "y"]].to_numpy()
    return float(xy[:, 0].mean()), float(xy[:, 1].mean())


def anchor_point(target: str, pool, retrieval: Retrieval = Retrieval()) -> tuple[float, float]:
    """Where ``retrieval`` places the target on the map without its survey data."""
    if retrieval.needs_vectors and retrieval.vectors is None:
        raise CulturalignError(
            f"the {retrieval.anchor!r} anchor needs the model's embeddings of the countries; none were given"
        )
    if retrieval.anchor == "region":
        return region_anchor(target, pool)
    by_embedding = embedding_anchor(target, pool, retrieval.vectors, retrieval.k)
    if retrieval.anchor == "embedding":
        return by_embedding
    by_region = region_anchor(target, pool)
    return (by_region[0] + by_embedding[0]) / 2, (by_region[1] + by_embedding[1]) / 2


def neighbours(target: str, pool, retrieval: Retrieval = Retrieval()) -> list[tuple[str, float]]:
    """``[(country, weight), ...]``: the ``k`` surveyed pool countries nearest the target's anchor,
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
        distances, index = search.kneighbors(np.array([anchor_point(target, pool, retrieval)]))
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

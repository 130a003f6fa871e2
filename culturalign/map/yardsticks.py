"""Model-free yardsticks that make a distance interpretable, and the one summary of a condition built on them.

* **Reference predictors** (no model call): ``centroid``, the mean reference point of the countries the
  predictor may know (the training split under a split, else every other reference country), and
  ``region_centroid``, the same restricted to the target's cultural region — a lookup that knows the region
  (falling back to ``centroid`` where the region has no known country), and ``neighbours``, the mean reference
  point of the known countries a retrieving program would be shown (:mod:`culturalign.map.neighbours`: the
  surveyed countries nearest the target's region anchor), the same retrieval with no model.
* **Skill against the constant**: ``1 - Σd² / Σd²(centroid)`` over the same countries (per axis from the
  squared error on that axis). 0 is no better than one constant point for every country; below 0 is worse.
* **The shuffled-country control**: the same condition asked about a fixed, seeded derangement of its target
  countries and scored against the true targets. A condition that is not clearly closer to the true targets
  than its shuffled control carries no country information, however close it is.
"""

from __future__ import annotations

import random

import numpy as np
import pandas as pd

from ..errors import CulturalignError
from . import cultmap, reference
from .neighbours import Retrieval, neighbours_point

REFERENCE_PREDICTORS = ("centroid", "region_centroid", "neighbours")
SHUFFLED_SUFFIX = ":shuffled"
N_BOOT, LEVEL, BOOT_SEED = 2000, 0.95, 0


# ---------------------------------------------------------------- reference predictors


def reference_predictions(countries, known=None, retrieval: Retrieval = Retrieval()) -> pd.DataFrame:
    """The reference predictors for each target: condition, kind ("reference"), country, x, y, distance and
    ``region_fallback`` (region_centroid had no known country of the region and used the centroid).

    ``known``: the countries a predictor may know (the training split); ``None`` means every other reference
    country (leave-one-out). The target itself is never used. ``retrieval``: how ``neighbours`` retrieves."""
    ref = reference.countries().set_index("country")
    pool = ref if known is None else ref.loc[[reference.resolve_country(c) for c in known]]
    rows = []
    for country in countries:
        others = pool.drop(index=country, errors="ignore")
        if others.empty:
            raise CulturalignError(f"no known country to predict {country!r} from")
        cx, cy = others.x.mean(), others.y.mean()
        same = others[others.region == ref.at[country, "region"]]
        rx, ry = (same.x.mean(), same.y.mean()) if len(same) else (cx, cy)
        nx, ny = neighbours_point(country, others.index, retrieval)
        rows += [
            {"condition": "centroid", "country": country, "x": cx, "y": cy, "region_fallback": False},
            {"condition": "region_centroid", "country": country, "x": rx, "y": ry, "region_fallback": same.empty},
            {"condition": "neighbours", "country": country, "x": nx, "y": ny, "region_fallback": False},
        ]
    out = pd.DataFrame(rows, columns=["condition", "country", "x", "y", "region_fallback"])
    target = ref.loc[out.country]
    out["distance"] = np.hypot(out.x.to_numpy() - target.x.to_numpy(), out.y.to_numpy() - target.y.to_numpy())
    out.insert(1, "kind", "reference")
    return out


class ReferencePredictor:
    """A reference predictor by name as a model-free respondent
    (:class:`culturalign.elicitation.respondent.ModelFree`) that knows the countries ``known`` (None: every other
    reference country)."""

    def __init__(self, name: str, known=None, retrieval: Retrieval = Retrieval()):
        if name not in REFERENCE_PREDICTORS:
            raise CulturalignError(
                f"unknown reference predictor {name!r}; use one of {', '.join(REFERENCE_PREDICTORS)}"
            )
        self.name, self.known, self.retrieval = name, None if known is None else list(known), retrieval

    def point(self, country: str) -> tuple[float, float]:
        row = reference_predictions([country], self.known, self.retrieval).set_index("condition").loc[self.name]
        return float(row.x), float(row.y)


def reference_respondents(
    known=None, retrieval: Retrieval = Retrieval()
) -> list[tuple[str, str, "ReferencePredictor"]]:
    """The reference predictors as ``(name, kind, respondent)`` triples for
    :func:`culturalign.elicitation.scoring.score`."""
    return [(name, "reference", ReferencePredictor(name, known, retrieval)) for name in REFERENCE_PREDICTORS]


def with_reference_rows(distances: pd.DataFrame, split_seed: int) -> pd.DataFrame:
    """A comparison's tidy table (model, condition, kind, seed, country, held_out, x, y, distance, ...) with
    both reference predictors for every model and country it covers, replacing any already there. Held-out
    countries are predicted from the training split only; the others leave-one-out from every other country."""
    from .splits import country_splits

    split = country_splits(split_seed)
    train = split.loc[split.split == "train", "country"].tolist()
    runs = distances[distances.kind != "reference"]
    held = runs.groupby("country").held_out.first()
    parts = [runs]
    for model in dict.fromkeys(runs.model):
        countries = sorted(runs.loc[runs.model == model, "country"].unique())
        for known, chosen in (
            (train, [c for c in countries if held[c]]),
            (None, [c for c in countries if not held[c]]),
        ):
            if chosen:
                parts.append(
                    reference_predictions(chosen, known)
                    .drop(columns="region_fallback")
                    .assign(model=model, seed=-1, held_out=known is not None)
                )
    out = pd.concat(parts, ignore_index=True)[list(runs.columns)]
    if "region" in out:
        out["region"] = out.country.map(reference.countries().set_index("country").region)
    return out


# ---------------------------------------------------------------- the shuffled-country control


def derangement(countries, seed: int = 0) -> dict[str, str]:
    """target -> the country asked about instead: a seeded cyclic shuffle (Sattolo), so no target is asked
    about itself. Depends on the set of countries, not their order."""
    order = sorted(dict.fromkeys(countries))
    if len(order) < 2:
        raise CulturalignError("the shuffled-country control needs at least two target countries")
    asked = list(order)
    rng = random.Random(seed)
    for i in range(len(asked) - 1, 0, -1):
        j = rng.randrange(i)
        asked[i], asked[j] = asked[j], asked[i]
    return dict(zip(order, asked))


class ShuffledCountries:
    """A respondent asked about another country than the one it is scored against (see :func:`derangement`)."""

    def __init__(self, respondent, countries, seed: int = 0):
        self.respondent, self.asked = respondent, derangement(countries, seed)
        self.name = f"{getattr(respondent, 'name', 'respondent')}{SHUFFLED_SUFFIX}"

    def contexts(self, country: str):
        return self.respondent.contexts(self.asked[country])


# ---------------------------------------------------------------- statistics


def _errors(table: pd.DataFrame) -> pd.DataFrame:
    """Squared error per country and axis against the reference point (index: country, sorted)."""
    ref = reference.countries().set_index("country")
    t = table.drop_duplicates("country").set_index("country").sort_index()
    dx2 = (t.x - ref.x.reindex(t.index)) ** 2
    dy2 = (t.y - ref.y.reindex(t.index)) ** 2
    return pd.DataFrame({"dx2": dx2, "dy2": dy2, "d2": dx2 + dy2, "distance": t.distance})


def _boot_index(n: int) -> np.ndarray:
    return np.random.default_rng(BOOT_SEED).integers(0, n, size=(N_BOOT, n))


def _interval(values: np.ndarray) -> list[float]:
    alpha = (1 - LEVEL) / 2
    return [float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))]


def skill(table: pd.DataFrame, centroid: pd.DataFrame) -> dict:
    """Skill against the centroid over the countries both cover, with a paired bootstrap interval over
    countries; per axis; and ``closer_than_centroid``, the share of countries on which the condition is closer."""
    mine, base = _errors(table), _errors(centroid)
    shared = mine.index.intersection(base.index)
    if shared.empty:
        raise CulturalignError("skill needs the centroid on the same countries as the condition")
    mine, base = mine.loc[shared], base.loc[shared]

    def one(num, den):
        return float(1 - num.sum() / den.sum()) if den.sum() > 0 else float("nan")

    out = {
        "skill": one(mine.d2, base.d2),
        "skill_x": one(mine.dx2, base.dx2),
        "skill_y": one(mine.dy2, base.dy2),
        "closer_than_centroid": float((mine.distance < base.distance).mean()),
    }
    if len(shared) >= 2:
        idx = _boot_index(len(shared))
        out["skill_ci95"] = _interval(1 - mine.d2.to_numpy()[idx].sum(1) / base.d2.to_numpy()[idx].sum(1))
    else:
        out["skill_ci95"] = [float("nan"), float("nan")]
    return out


def lead(table: pd.DataFrame, other: pd.DataFrame) -> dict:
    """How much closer a condition is to the targets than ``other``: the mean of d(other) - d(condition) over
    the countries both cover, with a paired bootstrap interval over countries; ``beats`` when the interval
    is above 0."""
    a, b = _errors(table).distance, _errors(other).distance
    shared = a.index.intersection(b.index)
    gap = (b.loc[shared] - a.loc[shared]).to_numpy()
    ci = _interval(gap[_boot_index(len(gap))].mean(1)) if len(gap) >= 2 else [float("nan")] * 2
    return {
        "other_mean_distance": float(b.loc[shared].mean()),
        "lead": float(gap.mean()),
        "lead_ci95": ci,
        "beats": bool(ci[0] > 0),
    }


def shuffled_gap(true: pd.DataFrame, shuffled: pd.DataFrame) -> dict:
    """How much closer a condition is to its true targets than its shuffled control (:func:`lead`). An
    interval above 0 says the condition carries country information."""
    found = lead(true, shuffled)
    return {
        "shuffled_mean_distance": found["other_mean_distance"],
        "gap": found["lead"],
        "gap_ci95": found["lead_ci95"],
        "carries_country_information": found["beats"],
    }


def condition_stats(
    table: pd.DataFrame,
    centroid: pd.DataFrame | None = None,
    shuffled: pd.DataFrame | None = None,
    neighbours: pd.DataFrame | None = None,
) -> dict:
    """The one summary of a condition on its countries (columns country, x, y, distance): mean and median
    distance with a bootstrap interval, steerability, and — given the centroid on the same countries, the
    condition's shuffled control and the ``neighbours`` yardstick — skill, the control gap and the lead over
    the neighbours (what a model must add to retrieval)."""
    t = table.sort_values("country")
    low, high = cultmap.mean_interval(t.distance)
    out = {
        "countries": int(t.country.nunique()),
        "mean_distance": float(t.distance.mean()),
        "median_distance": float(t.distance.median()),
        "mean_distance_ci95": [low, high],
        "steerability": cultmap.steerability(t[["country", "x", "y"]]),
    }
    if centroid is not None:
        out.update(skill(t, centroid))
    if shuffled is not None and len(shuffled):
        out["shuffled_control"] = {
            **shuffled_gap(t, shuffled),
            "skill": skill(shuffled, centroid)["skill"] if centroid is not None else float("nan"),
        }
    if neighbours is not None and len(neighbours):
        found = lead(t, neighbours)
        out["lead_over_neighbours"] = {
            "lead": found["lead"],
            "lead_ci95": found["lead_ci95"],
            "beats_neighbours": found["beats"],
        }
    return out


def summarize_conditions(table: pd.DataFrame) -> dict[str, dict]:
    """:func:`condition_stats` for every condition of a tidy table (one model; columns condition, country, x,
    y, distance), each against the table's ``centroid`` rows and, where present, its ``NAME:shuffled`` rows
    and (for conditions that are not themselves reference predictors) the ``neighbours`` rows. Shuffled
    controls are reported inside the condition they control, not as conditions of their own."""
    by = {c: sub for c, sub in table.groupby("condition", sort=False)}
    centroid = by.get("centroid")
    return {
        cond: condition_stats(
            sub,
            centroid,
            by.get(cond + SHUFFLED_SUFFIX),
            None if cond in REFERENCE_PREDICTORS else by.get("neighbours"),
        )
        for cond, sub in by.items()
        if not cond.endswith(SHUFFLED_SUFFIX)
    }

"""The Inglehart-Welzel cultural map: frozen projection, distances, and the statistics built on them.

``z = (value - mean) / sd``, ``pc = z . W``, ``x = 1.81 pc0 + 0.038``, ``y = 1.61 pc1 - 0.10``. The map
is affine, so the projection of a mean answer vector is the mean of the projected answers; expected
answers from token probabilities therefore project exactly.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping

import numpy as np
import pandas as pd
import yaml
from scipy.spatial.distance import jensenshannon

from ..errors import CulturalignError
from . import reference


@dataclass(frozen=True)
class Projection:
    items: tuple[str, ...]
    mean: np.ndarray
    sd: np.ndarray
    weights: np.ndarray  # items x 2
    scale: np.ndarray  # (x, y)
    shift: np.ndarray
    digest: str

    def _matrix(self, table: pd.DataFrame, fill_mean: bool) -> np.ndarray:
        missing = [c for c in self.items if c not in table.columns]
        if missing and not fill_mean:
            raise CulturalignError(
                f"answers lack item(s) {', '.join(missing)}; the map needs all of "
                f"{', '.join(self.items)} (or hold missing items at the pooled mean with fill_mean)"
            )
        values = table.reindex(columns=list(self.items)).to_numpy(dtype=float)
        if fill_mean:
            values = np.where(np.isnan(values), self.mean, values)
        elif np.isnan(values).any():
            rows, cols = np.where(np.isnan(values))
            raise CulturalignError(
                f"answer for item {self.items[cols[0]]} is missing (row {rows[0]}); "
                "use fill_mean to hold missing items at the pooled mean"
            )
        return values

    def project(self, answers, *, fill_mean: bool = False) -> pd.DataFrame:
        """Project answer vectors to map points.

        ``answers``: a mapping item -> value (one vector), a list of such mappings, or a DataFrame with
        one column per item. Returns a DataFrame with columns x, y (index kept from a DataFrame input).
        """
        table = _as_table(answers)
        z = (self._matrix(table, fill_mean) - self.mean) / self.sd
        pc = z @ self.weights
        xy = pc * self.scale + self.shift
        return pd.DataFrame(xy, columns=["x", "y"], index=table.index)

    def project_one(self, answers: Mapping[str, float], *, fill_mean: bool = False) -> tuple[float, float]:
        x, y = self.project(dict(answers), fill_mean=fill_mean).iloc[0]
        return float(x), float(y)


def _as_table(answers) -> pd.DataFrame:
    if isinstance(answers, pd.DataFrame):
        return answers
    if isinstance(answers, pd.Series):
        return answers.to_frame().T
    if isinstance(answers, Mapping):
        return pd.DataFrame([dict(answers)])
    if isinstance(answers, (list, tuple)):
        return pd.DataFrame([dict(a) for a in answers])
    raise CulturalignError(
        f"cannot project {type(answers).__name__}: give a mapping item -> value, a list of "
        "them, or a DataFrame with one column per item"
    )


DEFAULT_PROJECTION = "projection_ivs_2005_2022.yaml"


@lru_cache(maxsize=None)
def load_projection(name: str = DEFAULT_PROJECTION) -> Projection:
    raw_text = reference.data_file(name).read_text()
    raw = yaml.safe_load(raw_text)
    items = raw["items"]
    return Projection(
        items=tuple(i["code"] for i in items),
        mean=np.array([i["mean"] for i in items], dtype=float),
        sd=np.array([i["sd"] for i in items], dtype=float),
        weights=np.array([i["weights"] for i in items], dtype=float),
        scale=np.array([raw["rescale"]["x"]["scale"], raw["rescale"]["y"]["scale"]], dtype=float),
        shift=np.array([raw["rescale"]["x"]["shift"], raw["rescale"]["y"]["shift"]], dtype=float),
        digest=hashlib.sha256(raw_text.encode()).hexdigest(),
    )


def project(answers, *, fill_mean: bool = False) -> pd.DataFrame:
    """Project answers onto the IVS 2005-2022 map (see :meth:`Projection.project`); a survey's answers go
    through its own projection, ``survey.map``."""
    return load_projection().project(answers, fill_mean=fill_mean)


# ---------------------------------------------------------------- distances


def distances(x: float, y: float, countries: list[str] | None = None) -> pd.DataFrame:
    """Euclidean map distance from (x, y) to every reference country (or the given ones), nearest first."""
    table = reference.countries()
    if countries is not None:
        wanted = [reference.resolve_country(c) for c in countries]
        table = table.set_index("country").loc[wanted].reset_index()
    out = table[["country", "iso3", "region", "x", "y"]].copy()
    out["distance"] = np.hypot(out["x"] - x, out["y"] - y)
    return out.sort_values("distance", kind="stable").reset_index(drop=True)


def distance_to(x: float, y: float, country: str) -> float:
    return float(distances(x, y, [country])["distance"].iloc[0])


def nearest(x: float, y: float, n: int = 5) -> pd.DataFrame:
    return distances(x, y).head(n)


def region_summary(table: pd.DataFrame, value: str = "distance") -> pd.DataFrame:
    """Mean, median, min and count of ``value`` per cultural region (needs a ``region`` column)."""
    grouped = table.groupby("region")[value]
    return pd.DataFrame(
        {"mean": grouped.mean(), "median": grouped.median(), "min": grouped.min(), "n": grouped.size()}
    ).reset_index()


def improved_share(baseline: pd.Series, candidate: pd.Series) -> float:
    """Share of countries for which ``candidate`` is closer than ``baseline`` (the papers' headline statistic).
    Both are distances indexed by country; only countries present in both count."""
    both = pd.concat([baseline.rename("a"), candidate.rename("b")], axis=1, join="inner").dropna()
    if both.empty:
        raise CulturalignError("improved_share needs distances for at least one common country")
    return float((both["b"] < both["a"]).mean())


def steerability(points: pd.DataFrame) -> dict[str, float]:
    """Per-axis Pearson correlation between prompted points and the target countries' reference points.

    ``points``: one row per target country with columns country, x, y. A prompt that shifts every
    country the same way scores ~0 here however many countries it "improves".
    """
    ref = reference.countries().set_index("country")
    joined = points.merge(ref[["x", "y"]], left_on="country", right_index=True, suffixes=("", "_ref"))
    out = {}
    for axis in ("x", "y"):
        a, b = joined[axis].to_numpy(float), joined[f"{axis}_ref"].to_numpy(float)
        # undefined (NaN) for fewer than three countries or a prompt that puts every country on one spot
        # (ptp, not std: the std of n equal floats can come out as 1e-17 and give a meaningless r)
        spread = len(a) >= 3 and np.ptp(a) > 1e-12 and np.ptp(b) > 1e-12
        out[axis] = float(np.corrcoef(a, b)[0, 1]) if spread else float("nan")
    return out


def specificity(points: pd.DataFrame) -> pd.DataFrame:
    """Rank (1 = nearest) of each target country among all reference countries, by distance from its own
    prompted point. A prompt that tracks culture puts each target near rank 1."""
    rows = []
    n_all = len(reference.countries())
    for row in points.itertuples():
        ranked = distances(row.x, row.y)
        rank = int(ranked.index[ranked["country"] == row.country][0]) + 1
        rows.append({"country": row.country, "rank": rank, "of": n_all})
    return pd.DataFrame(rows)


def bootstrap_point(
    samples: pd.DataFrame,
    *,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
    fill_mean: bool = False,
    projection: Projection | None = None,
) -> pd.DataFrame:
    """Bootstrap CI of the map point of repeated answers (rows = repeated answer vectors, columns = items).

    Rows are resampled with replacement; each resample's item means (NaN answers skipped) are projected.
    Returns rows x and y with columns estimate, low, high. ``projection``: a survey's ``map`` (default IVS
    2005-2022).
    """
    proj = projection or load_projection()
    values = (
        proj._matrix(samples, fill_mean=True)
        if fill_mean
        else samples.reindex(columns=list(proj.items)).to_numpy(float)
    )
    if len(values) < 2:
        raise CulturalignError("bootstrap needs at least two repeated answer vectors")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), size=(n_boot, len(values)))
    with warnings.catch_warnings():  # a resample may hold no valid answer for an item: filled below
        warnings.simplefilter("ignore", RuntimeWarning)
        means = np.nanmean(values[idx], axis=1)  # n_boot x items
        estimate = np.nanmean(values, axis=0)
    if np.isnan(estimate).any():
        missing = [proj.items[i] for i in np.where(np.isnan(estimate))[0]]
        raise CulturalignError(f"no valid answer at all for item(s) {', '.join(missing)}")
    means = np.where(np.isnan(means), estimate, means)
    boot = proj.project(pd.DataFrame(means, columns=proj.items))
    point = proj.project(pd.DataFrame([estimate], columns=proj.items)).iloc[0]
    alpha = (1 - level) / 2
    return pd.DataFrame({"estimate": point, "low": boot.quantile(alpha), "high": boot.quantile(1 - alpha)})


# ---------------------------------------------------------------- WVS wave 7 distributions


def wvs7_item_means(survey) -> pd.DataFrame:
    """Per-country item means from the WVS-7 shares, coded as the survey's items (iso2 x item).

    Items whose type cannot code the published marginals
    (:meth:`~culturalign.instrument.items.Item.wvs7_means`; a ranked pair such as Y002 needs the joint
    first/second choice) stay NaN: hold them at the pooled mean when projecting.
    """
    dist = reference.wvs7_distributions()
    means = {}
    for item in survey.items:
        item_means = item.wvs7_means(dist)
        if item_means is not None:
            means[item.code] = item_means
    table = pd.DataFrame(means)
    for item in survey.items:
        if item.code not in table:
            table[item.code] = np.nan
    return table[[i.code for i in survey.items]].sort_index()


def item_distances(model: Mapping[str, Mapping[int, float]], countries: list[str] | None = None) -> pd.DataFrame:
    """Jensen-Shannon distance (base 2, 0..1) per WVS-7 question between a model's answer distributions
    and each country's WVS-7 shares.

    ``model``: {question id (e.g. "Q164"): {option code: probability}}. Returns one row per country and
    question (country, iso2, question, item, js) for the countries that have the question.
    """
    dist = reference.wvs7_distributions()
    table = reference.countries()
    if countries is not None:
        wanted = {reference.resolve_country(c) for c in countries}
        table = table[table.country.isin(wanted)]
    iso_to_name = dict(zip(table.iso2, table.country))
    rows = []
    for (iso2, question), sub in dist[dist.iso2.isin(iso_to_name)].groupby(["iso2", "question"]):
        if question not in model:
            continue
        options = sorted(set(sub.option) | set(model[question]))
        ref = sub.set_index("option")["share"].reindex(options, fill_value=0).to_numpy()
        got = np.array([model[question].get(o, 0.0) for o in options], dtype=float)
        rows.append(
            {
                "country": iso_to_name[iso2],
                "iso2": iso2,
                "question": question,
                "item": sub["item"].iloc[0],
                "js": float(jensenshannon(got, ref, base=2)),
            }
        )
    return pd.DataFrame(rows, columns=["country", "iso2", "question", "item", "js"])


def mean_interval(values, *, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (e.g. distances over countries)."""
    arr = np.asarray(list(values), dtype=float)
    arr = arr[~np.isnan(arr)]
    if len(arr) < 2:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = arr[rng.integers(0, len(arr), size=(n_boot, len(arr)))].mean(axis=1)
    alpha = (1 - level) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))

"""Per-question distributional scores, and the one summary of a condition built on them.

:func:`cells` scores every condition x country x question (:mod:`culturalign.distribution.metrics`);
:func:`summarize` aggregates each condition with bootstrap intervals that resample countries *and* questions,
skill against the population marginal (``skill_tv = 1 - mean tv / mean tv(marginal)`` over the same cells; 0
is no better than the constant, below 0 worse), ``closer_than_marginal`` (the share of countries on which the
condition's mean tv is below the marginal's), the sampling noise floor, and a shuffled-country control's gap.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from ..errors import CulturalignError
from ..map.yardsticks import SHUFFLED_SUFFIX
from .metrics import METRICS, compare, noise_floor

N_BOOT, LEVEL, BOOT_SEED = 1000, 0.95, 0
KEY = ["item", "part", "question"]


def cells(predicted: pd.DataFrame, targets: pd.DataFrame, keys: pd.DataFrame) -> pd.DataFrame:
    """One row per condition, country and question both cover: condition, kind, country, item, part, question,
    theme and every metric. ``predicted``: tidy distributions (condition, kind, country, item, part, question,
    option, p); ``targets``: the societies' (item, part, question, country, option, share); ``keys``: the
    survey's :func:`~culturalign.instrument.populations.question_keys`."""
    out = []
    for key in keys.itertuples():
        mine = predicted[(predicted.item == key.item) & (predicted.part == key.part)]
        theirs = targets[(targets.item == key.item) & (targets.part == key.part)]
        if mine.empty or theirs.empty:
            continue
        codes = list(key.codes)
        q = (
            theirs.pivot_table(index="country", columns="option", values="share", aggfunc="first")
            .reindex(columns=codes)
            .fillna(0.0)
        )
        for (condition, kind, country), sub in mine.groupby(["condition", "kind", "country"], sort=False):
            if country not in q.index:
                continue
            row = sub.groupby("option").p.first().reindex(codes)
            valid = float(sub.valid_mass.mean()) if "valid_mass" in sub else 1.0
            if row.isna().any() or row.sum() <= 0:  # no valid answer at all (a verbalized reply that never parsed)
                scores = dict.fromkeys(METRICS, float("nan"))
            else:
                scores = compare(row.to_numpy(), q.loc[country].to_numpy(), key.ordinal)
            out.append(
                {
                    "condition": condition,
                    "kind": kind,
                    "country": country,
                    "item": key.item,
                    "part": key.part,
                    "question": key.question,
                    "theme": key.theme,
                    **scores,
                    "valid_mass": valid,
                }
            )
    table = pd.DataFrame(out, columns=["condition", "kind", "country", *KEY, "theme", *METRICS, "valid_mass"])
    rank = {c: i for i, c in enumerate(dict.fromkeys(predicted.condition))}  # conditions in the order given
    return table.iloc[table.condition.map(rank).argsort(kind="stable")].reset_index(drop=True)


def floor_cells(targets: pd.DataFrame, countries=None) -> pd.DataFrame:
    """The sampling noise floor per country and question (country, item, part, question, tv, one_minus_jsd)."""
    rows = []
    chosen = targets if countries is None else targets[targets.country.isin(list(countries))]
    for (item, part, question, country), sub in chosen.groupby([*KEY, "country"], sort=False):
        rows.append(
            {
                "country": country,
                "item": item,
                "part": part,
                "question": question,
                **noise_floor(sub.sort_values("option").share.to_numpy()),
            }
        )
    return pd.DataFrame(rows, columns=["country", *KEY, "tv", "one_minus_jsd"])


def _matrix(table: pd.DataFrame, metric: str, countries, questions) -> np.ndarray:
    # a groupby mean, not pivot_table: the same matrix, in a tenth of the time (an audit builds ~150 of them)
    return (
        table.groupby(["country", "question"])[metric]
        .mean()
        .unstack()
        .reindex(index=countries, columns=questions)
        .to_numpy()
    )


@functools.lru_cache(maxsize=32)
def _boot(n_rows: int, n_cols: int) -> tuple[np.ndarray, np.ndarray]:
    """How often each country (row) and question (column) is drawn in each of the ``N_BOOT`` resamples: the
    mean of a resampled matrix is then two weighted sums, with no resampled copy made (1,000 copies made the
    intervals most of an audit's time)."""
    rng = np.random.default_rng(BOOT_SEED)
    rows, cols = np.empty((N_BOOT, n_rows)), np.empty((N_BOOT, n_cols))
    for b in range(N_BOOT):  # the same draws, in the same order, as resampling indices one pair at a time
        rows[b] = np.bincount(rng.integers(0, n_rows, n_rows), minlength=n_rows)
        cols[b] = np.bincount(rng.integers(0, n_cols, n_cols), minlength=n_cols)
    rows.flags.writeable = cols.flags.writeable = False  # shared by every caller of the cache
    return rows, cols


def _boot_means(m: np.ndarray, draws) -> np.ndarray:
    """The mean of the finite cells of every resample of ``m`` (NaN where a resample has none)."""
    rows, cols = draws
    finite = np.isfinite(m)
    total = np.einsum("bi,ij,bj->b", rows, np.where(finite, m, 0.0), cols)
    count = np.einsum("bi,ij,bj->b", rows, finite.astype(float), cols)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.where(count > 0, count, 1), np.nan)


def _interval(values) -> list[float]:
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return [float("nan"), float("nan")]
    alpha = (1 - LEVEL) / 2
    return [float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))]


def _mean(m: np.ndarray) -> float:
    return float(np.nanmean(m)) if np.isfinite(m).any() else float("nan")


def condition_summary(
    mine: pd.DataFrame,
    marginal: pd.DataFrame | None = None,
    shuffled: pd.DataFrame | None = None,
    neighbours: pd.DataFrame | None = None,
) -> dict:
    """Means of every metric with two-way bootstrap intervals (countries and questions resampled together),
    counts, and — given the marginal's cells — ``skill_tv`` with an interval and ``closer_than_marginal``;
    given the ``neighbours`` yardstick's cells, the lead over it in tv (> 0: closer than the retrieval alone)."""
    countries, questions = sorted(mine.country.unique()), sorted(mine.question.unique())
    draws = _boot(len(countries), len(questions))
    out = {
        "n_questions": len(questions),
        "n_countries": len(countries),
        "n_cells": int(len(mine)),
        "n_scored": int(mine.tv.notna().sum()),
    }
    if "valid_mass" in mine:  # the share of answer mass on valid options (verbalized mode: the parse rate)
        out["valid_mass"] = float(mine.valid_mass.mean())
    mats = {}
    for metric in METRICS:
        m = mats[metric] = _matrix(mine, metric, countries, questions)
        out[metric] = _mean(m)
        out[f"{metric}_ci95"] = _interval(_boot_means(m, draws)) if np.isfinite(m).any() else [float("nan")] * 2
    if marginal is not None and len(marginal):
        base = _matrix(marginal, "tv", countries, questions)
        both = np.isfinite(mats["tv"]) & np.isfinite(base)
        mine_tv, base_tv = np.where(both, mats["tv"], np.nan), np.where(both, base, np.nan)

        def skill(mine_mean, base_mean):
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(base_mean > 0, 1 - mine_mean / np.where(base_mean > 0, base_mean, 1), np.nan)

        out["skill_tv"] = float(skill(_mean(mine_tv), _mean(base_tv)))
        out["skill_tv_ci95"] = _interval(skill(_boot_means(mine_tv, draws), _boot_means(base_tv, draws)))
        with np.errstate(invalid="ignore"):
            per_country = np.nanmean(mine_tv, axis=1) < np.nanmean(base_tv, axis=1)
        out["closer_than_marginal"] = float(per_country.mean())
    if shuffled is not None and len(shuffled):
        other = _matrix(shuffled, "tv", countries, questions)
        gap = other - mats["tv"]  # how much farther the shuffled control is: > 0 carries country information
        ci = _interval(_boot_means(gap, draws))
        out["shuffled_control"] = {
            "tv": _mean(other),
            "gap_tv": _mean(gap),
            "gap_tv_ci95": ci,
            "carries_country_information": bool(ci[0] > 0),
        }
        if marginal is not None and len(marginal):
            out["shuffled_control"]["skill_tv"] = condition_summary(shuffled, marginal)["skill_tv"]
    if neighbours is not None and len(neighbours):
        lead = _matrix(neighbours, "tv", countries, questions) - mats["tv"]
        ci = _interval(_boot_means(lead, draws))
        out["lead_over_neighbours"] = {"tv": _mean(lead), "tv_ci95": ci, "beats_neighbours": bool(ci[0] > 0)}
    return out


def summarize(table: pd.DataFrame, floor: pd.DataFrame | None = None) -> dict[str, dict]:
    """:func:`condition_summary` for every condition of a cells table, against its ``marginal`` rows and,
    where present, its ``NAME:shuffled`` rows; plus ``noise_floor`` (the expected tv and 1 - JSD of a perfect
    predictor measured by a survey of 1,200 people) over the same countries and questions."""
    if table.empty:
        return {}
    by = {c: sub for c, sub in table.groupby("condition", sort=False)}
    marginal = by.get("marginal")
    out = {}
    for cond, sub in by.items():
        if cond.endswith(SHUFFLED_SUFFIX):
            continue
        kind = str(sub.kind.iloc[0])
        out[cond] = {
            "kind": kind,
            **condition_summary(
                sub, marginal, by.get(cond + SHUFFLED_SUFFIX), None if kind == "reference" else by.get("neighbours")
            ),
        }
    if floor is not None and len(floor):
        shown = floor[floor.country.isin(table.country) & floor.question.isin(table.question)]
        out["noise_floor"] = {
            "kind": "reference",
            "tv": float(shown.tv.mean()),
            "one_minus_jsd": float(shown.one_minus_jsd.mean()),
            "n_questions": int(shown.question.nunique()),
            "n_countries": int(shown.country.nunique()),
            "note": "expected score of a perfect predictor against a survey of 1,200 respondents",
        }
    return out


def by_group(table: pd.DataFrame, group: str) -> pd.DataFrame:
    """Mean of every metric per condition and ``group`` (theme, question or country), with counts."""
    if group not in ("theme", "question", "country"):
        raise CulturalignError(f"group must be theme, question or country, got {group!r}")
    if table.empty:
        return pd.DataFrame(columns=["condition", group, *METRICS, "n_cells"])
    out = table.groupby(["condition", group], sort=False)[list(METRICS)].mean()
    out["n_cells"] = table.groupby(["condition", group], sort=False).size()
    return out.reset_index()


def seen_unseen(table: pd.DataFrame, seen_countries, seen_questions) -> dict[str, dict]:
    """A condition's summary in the four cells of held-out evaluation: countries seen or unseen while
    compiling x questions seen or unseen (``"unseen countries, seen questions"`` ...), each against the
    marginal over the same cells. Cells with no data are left out."""
    seen_countries, seen_questions = set(seen_countries), set(seen_questions)
    out = {}
    for c_seen in (True, False):
        for q_seen in (True, False):
            part = table[
                (table.country.isin(seen_countries) == c_seen) & (table.question.isin(seen_questions) == q_seen)
            ]
            if part.empty:
                continue
            name = f"{'seen' if c_seen else 'unseen'} countries, {'seen' if q_seen else 'unseen'} questions"
            found = summarize(part)
            out[name] = {
                cond: {
                    k: v[k]
                    for k in (
                        "tv",
                        "tv_ci95",
                        "one_minus_jsd",
                        "skill_tv",
                        "skill_tv_ci95",
                        "n_questions",
                        "n_countries",
                    )
                    if k in v
                }
                for cond, v in found.items()
            }
    return out

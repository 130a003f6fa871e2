"""Scoring recommendation explanations: faithfulness first, cultural fit second, corpus checks beside.

* ``gate``: the no-model faithfulness gate (:mod:`.gate`); a failed gate zeroes the combined score.
* ``gain``: map distance from the reader's point to the target country, for the plain explanation minus
  for this one (positive = this explanation moves the reader toward the target culture).
* ``gain_shuffled``: the same gain measured against another task's target country. If an explainer only
  shifts every reader the same way, this is as large as ``gain``; real cultural fit makes it vanish.
* corpus checks against template collapse: unique-sentence ratio (titles masked), feature coverage,
  distinct bigrams.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from ..map import cultmap
from .examples import describe_history, describe_item
from .fit import mask, reader_points
from .gate import check, sentences, title_keys

GAIN_SCALE = 0.25  # map units: a gain of 0.25 scores 0.73, a loss of 0.25 scores 0.27


def combined_score(passed: bool, gain: float) -> float:
    """0 when the gate fails; else a logistic of the gain (0.5 = as close as the plain explanation)."""
    return 0.0 if not passed or math.isnan(gain) else 1.0 / (1.0 + math.exp(-gain / GAIN_SCALE))


def program_inputs(task) -> dict:
    return {
        "country": task["country"],
        "history": describe_history(task["history"]),
        "item": describe_item(task["facts"]),
    }


def generate(program, tasks: pd.DataFrame) -> list[str]:
    """The program's explanation for every task (the task model must be set in DSPy). An output the
    adapter cannot parse counts as an empty explanation, which fails the gate (it is not dropped)."""
    from dspy.utils.exceptions import AdapterParseError

    texts = []
    for task in tasks.to_dict("records"):
        try:
            texts.append(str(program(**program_inputs(task)).explanation).strip())
        except AdapterParseError:
            texts.append("")
    return texts


def score_explanations(
    session,
    survey,
    tasks: pd.DataFrame,
    texts: dict[str, list[str]],
    catalogue_titles: list[str] | None = None,
    *,
    shuffle_seed: int = 0,
) -> pd.DataFrame:
    """One row per task and condition. ``texts`` maps condition -> explanations (aligned with ``tasks``)
    and must include ``plain`` (the reference for the gain)."""
    every = [t for ts in texts.values() for t in ts]
    points = reader_points(session, survey, every).drop_duplicates("text").set_index("text")
    records = tasks.to_dict("records")
    rng = np.random.default_rng(shuffle_seed)
    shuffled = _derangement([t["country"] for t in records], rng)
    rows = []
    for cond, ts in texts.items():
        for i, (task, text) in enumerate(zip(records, ts)):
            gate = check(text, task["facts"], task["history"], task["country"], catalogue_titles)
            x, y = points.loc[text, "x"], points.loc[text, "y"]
            px, py = points.loc[texts["plain"][i], "x"], points.loc[texts["plain"][i], "y"]
            gain = cultmap.distance_to(px, py, task["country"]) - cultmap.distance_to(x, y, task["country"])
            gain_shuffled = (
                cultmap.distance_to(px, py, shuffled[i]) - cultmap.distance_to(x, y, shuffled[i])
                if shuffled[i]
                else math.nan
            )
            rows.append(
                {
                    "condition": cond,
                    "task": i,
                    "user": task["user"],
                    "item": task["item"],
                    "country": task["country"],
                    "explanation": text,
                    "gate": gate.passed,
                    "gate_reasons": "; ".join(gate.reasons),
                    "facts_used": ",".join(gate.facts_used),
                    "x": x,
                    "y": y,
                    "distance": cultmap.distance_to(x, y, task["country"]),
                    "gain": gain,
                    "shuffled_country": shuffled[i],
                    "gain_shuffled": gain_shuffled,
                    "score": combined_score(gate.passed, gain),
                }
            )
    return pd.DataFrame(rows)


def _derangement(values: list, rng) -> list:
    """The values reordered so that no position keeps a value equal to its own; None where that is
    impossible (one task, or one country for all), and the control is then undefined (NaN)."""
    if len(set(values)) < 2:
        return [None] * len(values)
    for _ in range(1000):
        out = [values[j] for j in rng.permutation(len(values))]
        if all(a != b for a, b in zip(values, out)):
            return out
    return [None] * len(values)


def corpus_checks(texts: list[str], tasks: pd.DataFrame, table: pd.DataFrame | None = None) -> dict:
    """Template-collapse checks over one condition's explanations."""
    masked = []
    for text, task in zip(texts, tasks.to_dict("records")):
        t = mask(text.lower())
        for f in [task["facts"], *task["history"]]:
            for k in sorted(title_keys(f["title"]), key=len, reverse=True):
                t = re.sub(rf"(?<![\w]){re.escape(k)}(?![\w])", "[title]", t)
        masked.append(t)
    all_sentences = [s for t in masked for s in sentences(t)]
    bigrams = [tuple(w[i : i + 2]) for t in masked for w in [t.split()] for i in range(len(w) - 1)]
    out = {
        "unique_sentence_ratio": len(set(all_sentences)) / len(all_sentences) if all_sentences else math.nan,
        "distinct_2": len(set(bigrams)) / len(bigrams) if bigrams else math.nan,
    }
    if table is not None:
        used = table.facts_used.fillna("").str.split(",")
        out["feature_coverage"] = float(
            np.mean([len({u for u in us if u} & {"title", "genre", "year", "decade"}) / 3 for us in used])
        )
    return out


def summarize(table: pd.DataFrame, texts: dict[str, list[str]], tasks: pd.DataFrame) -> pd.DataFrame:
    """Per condition: gate pass rate, mean gain (all, and among passing), shuffled-country gain, score,
    corpus checks."""
    rows = []
    for cond, sub in table.groupby("condition", sort=False):
        rows.append(
            {
                "condition": cond,
                "n": len(sub),
                "faithfulness_pass_rate": float(sub.gate.mean()),
                "mean_gain": float(sub.gain.mean()),
                "mean_gain_shuffled": float(sub.gain_shuffled.mean()),
                "mean_distance": float(sub.distance.mean()),
                "mean_score": float(sub.score.mean()),
                **corpus_checks(texts[cond], tasks, sub),
            }
        )
    return pd.DataFrame(rows)

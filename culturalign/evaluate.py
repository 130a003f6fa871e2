"""Evaluate a saved program against both baselines on the same countries (held-out test split by default).

Every condition is a program answering the same items for the same countries: the compiled program, Tao et
al.'s engineered cultural prompt, and no persona. Reported per condition: per-country distances, mean and
median with a bootstrap interval, steerability and specificity; and the share of countries on which the
compiled program beats the engineered prompt.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from . import cultmap
from .compile import score_split
from .errors import CulturalignError
from .models.registry import ModelSpec, load_registry
from .models.session import ModelSession
from .conditions import CULTURAL_PROMPT, NO_PERSONA
from .programs import PromptBaseline
from .saved import load_program
from .splits import SPLITS
from .survey import load_survey

CONDITIONS = ("compiled", "engineered", "no_persona")


@dataclass
class Evaluation:
    program: str
    split: str
    countries: list[str]
    distances: pd.DataFrame  # condition, country, x, y, distance, score
    summary: dict


def session_for(manifest: dict, model: str | None) -> ModelSession:
    """The manifest's model (its endpoint reattached from the saved spec), or another registry model."""
    if model:
        return ModelSession(model)
    spec = manifest["model"]
    specs, _ = load_registry()
    if spec["name"] in specs:
        return ModelSession(specs[spec["name"]])
    settings = {k: v for k, v in spec.items() if k not in ("name", "provider", "style")}
    return ModelSession(ModelSpec(spec["name"], spec["provider"], spec.get("style", "chat"), settings=settings))


def summarize(program_name: str, split: str, table: pd.DataFrame) -> dict:
    out = {"program": program_name, "split": split, "countries": sorted(table.country.unique())}
    for cond, sub in table.groupby("condition", sort=False):
        low, high = cultmap.mean_interval(sub.distance)
        out[cond] = {"mean_distance": float(sub.distance.mean()), "median_distance": float(sub.distance.median()),
                     "mean_distance_ci95": [low, high],
                     "steerability": cultmap.steerability(sub[["country", "x", "y"]]),
                     "specificity": {r.country: int(r.rank) for r in cultmap.specificity(sub).itertuples()}}
    if {"compiled", "engineered"} <= set(table.condition):
        d = table.pivot(index="country", columns="condition", values="distance")
        out["improved_share_vs_engineered"] = cultmap.improved_share(d["engineered"], d["compiled"])
    return out


def evaluate_saved(path, *, split: str = "test", model: str | None = None, variants: int | None = None,
                   session: ModelSession | None = None) -> Evaluation:
    """``variants``: how many of Tao et al.'s ten descriptors the baselines average over (default all)."""
    if split not in SPLITS:
        raise CulturalignError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    survey = load_survey()
    program, manifest = load_program(path, survey)
    countries = manifest["split"][split]  # the lists the program was compiled with (test never seen)
    own = session is None
    session = session or session_for(manifest, model)
    try:
        tables = [score_split(session, prog, countries, survey).assign(condition=name)
                  for name, prog in (("compiled", program),
                                     ("engineered", PromptBaseline("engineered", CULTURAL_PROMPT, variants)),
                                     ("no_persona", PromptBaseline("no_persona", NO_PERSONA, variants)))]
    finally:
        if own:
            session.close()
    table = pd.concat(tables, ignore_index=True)
    return Evaluation(manifest["program"], split, countries, table, summarize(manifest["program"], split, table))

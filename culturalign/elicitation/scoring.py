"""The one scoring path: respondents -> their contexts -> one elicitation -> per-country points -> distances.

The audit, ``evaluate``, ``compare`` and compiling all score through :func:`score`: every respondent's
contexts for every country are planned together (equal contexts asked once), elicited in one run — so a
server's concurrency spans conditions and countries — and averaged per respondent and country into item
values, a map point and the distance to the country's reference point. Model-free respondents (the
reference predictors) join the same table without a model call.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import pandas as pd

from ..errors import CulturalignError
from ..map import cultmap
from .elicit import MODES, elicit
from .respondent import ModelFree, using_session

MAX_SAMPLES = 1000


@dataclass(frozen=True)
class GenerationConfig:
    """How answers are read: ``logprob`` (exact option probabilities) or ``sample`` (``samples`` sampled
    answers per question at ``temperature``, at most ``max_tokens`` each). Checked when made, so a bad
    setting never costs a run's worth of model calls."""

    mode: str = "logprob"
    samples: int = 10
    temperature: float = 1.0
    max_tokens: int = 8

    def __post_init__(self):
        if self.mode not in MODES:
            raise CulturalignError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.mode == "sample":
            if isinstance(self.samples, bool) or not isinstance(self.samples, int) or not 1 <= self.samples <= MAX_SAMPLES:
                raise CulturalignError(f"samples must be a whole number from 1 to {MAX_SAMPLES} (--samples, or an "
                                       f"experiment's 'samples'), got {self.samples!r}")
            t = self.temperature
            if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or not 0 <= t <= 5:
                raise CulturalignError(f"temperature must be a number from 0 to 5 (--temperature, or an experiment's "
                                       f"'temperature'), got {t!r}")

    def record(self) -> dict:
        """The settings that change answers (what a manifest or a cell name records)."""
        return {"mode": self.mode} if self.mode == "logprob" else asdict(self)


@dataclass
class Scored:
    """``table``: one row per respondent and country (condition, kind, country, x, y, distance and each item's
    value as ``item_<code>``); ``values`` and ``answers``: the elicitation's own tables (per context: each
    context once, under its own condition name)."""

    table: pd.DataFrame
    values: pd.DataFrame
    answers: pd.DataFrame
    seconds: float
    contexts: int


def score(session, respondents, countries, survey, config: GenerationConfig = GenerationConfig(), *,
          progress: bool = False) -> Scored:
    """Score ``respondents`` — ``(name, kind, respondent)`` triples — on ``countries``."""
    countries = list(countries)
    with using_session(session, survey):  # a respondent may need the model for its contexts (a profile)
        planned = {name: {c: list(r.contexts(c)) for c in countries}
                   for name, _, r in respondents if not isinstance(r, ModelFree)}
    unique = list(dict.fromkeys(ctx for per in planned.values() for ctxs in per.values() for ctx in ctxs))
    ids = {ctx: i for i, ctx in enumerate(unique)}
    if unique:
        raw = elicit(session, survey, unique, mode=config.mode, samples=config.samples,
                     temperature=config.temperature, max_tokens=config.max_tokens, progress=progress)
    else:
        raw = {"values": pd.DataFrame(columns=["context", "item", "value"]), "answers": pd.DataFrame(columns=["context"]),
               "seconds": 0.0}
    # one value per context and item in logprob mode; the mean of the valid samples in sample mode
    by_context = raw["values"].groupby(["context", "item"], sort=False)["value"].mean()
    rows = []
    for name, kind, respondent in respondents:
        for country in countries:
            row = {"condition": name, "kind": kind, "country": country}
            if isinstance(respondent, ModelFree):
                row["x"], row["y"] = respondent.point(country)
            else:
                per_context = pd.DataFrame([{code: by_context.get((ids[c], code), math.nan) for code in survey.codes}
                                            for c in planned[name][country]])
                values = per_context.mean()  # NaN-skipping: a context without a valid answer does not count
                missing = [code for code in survey.codes if math.isnan(values[code])]
                if missing:
                    raise CulturalignError(f"no valid answer to {', '.join(missing)} under {name!r} for {country}: "
                                           "see the answers table; a sample-mode run may need more --samples")
                row.update({f"item_{code}": values[code] for code in survey.codes})
            rows.append(row)
    items = [f"item_{code}" for code in survey.codes]
    table = pd.DataFrame(rows, columns=["condition", "kind", "country", "x", "y", *items])
    asked = table[items].notna().all(axis=1)
    if asked.any():
        xy = survey.map.project(table.loc[asked, items].set_axis(survey.codes, axis=1))
        table.loc[asked, ["x", "y"]] = xy.to_numpy()
    table["x"], table["y"] = table.x.astype(float), table.y.astype(float)
    table.insert(table.columns.get_loc("y") + 1, "distance",
                 [cultmap.distance_to(x, y, c) for x, y, c in zip(table.x, table.y, table.country)])
    return Scored(table, raw["values"].drop(columns="context"), raw["answers"].drop(columns="context"),
                  raw["seconds"], len(unique))

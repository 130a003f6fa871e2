"""The one scoring path: respondents -> their contexts -> one elicitation -> per-country points -> distances.

The audit, ``evaluate``, ``compare`` and compiling all score through :func:`score`: every respondent's
contexts for every country are planned together (equal contexts asked once), elicited in one run — so a
server's concurrency spans conditions and countries — and averaged per respondent and country into item
values, a map point and the distance to the country's reference point. Model-free respondents (the
reference predictors) join the same table without a model call.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import pandas as pd

from ..errors import CulturalignError
from ..instrument.populations import question_keys
from ..map import cultmap
from . import MODES
from .elicit import elicit
from .respondent import ModelFree, using_session

MAX_SAMPLES = 1000


@dataclass(frozen=True)
class GenerationConfig:
    """How answers are read: ``logprob`` (exact option probabilities), ``sample`` (``samples`` sampled
    answers per question at ``temperature``, at most ``max_tokens`` each) or ``verbalized`` (the model states
    the share of people choosing each option). Checked when made, so a bad
    setting never costs a run's worth of model calls."""

    mode: str = "logprob"
    samples: int = 10
    temperature: float = 1.0
    max_tokens: int = 8

    def __post_init__(self):
        if self.mode not in MODES:
            raise CulturalignError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        # checked in every mode: a bad value is an error even where the mode would not use it
        if isinstance(self.samples, bool) or not isinstance(self.samples, int) or not 1 <= self.samples <= MAX_SAMPLES:
            raise CulturalignError(
                f"samples must be a whole number from 1 to {MAX_SAMPLES} (--samples, or an "
                f"experiment's 'samples'), got {self.samples!r}"
            )
        t = self.temperature
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or not 0 <= t <= 5:
            raise CulturalignError(
                f"temperature must be a number from 0 to 5 (--temperature, or an experiment's 'temperature'), got {t!r}"
            )

    @classmethod
    def of(
        cls, mode: str = "logprob", samples: int | None = None, temperature: float | None = None
    ) -> "GenerationConfig":
        """From a command's or the API's options, where None means "not given": sampling settings given for a mode
        that does not sample are an error, not silently ignored."""
        if mode != "sample" and (samples is not None or temperature is not None):
            given = ", ".join(
                f"{k} {v!r}" for k, v in (("samples", samples), ("temperature", temperature)) if v is not None
            )
            raise CulturalignError(
                f"samples and temperature apply to mode 'sample' only; mode {mode!r} does not sample (got {given})"
            )
        return cls(
            mode=mode,
            samples=10 if samples is None else samples,
            temperature=1.0 if temperature is None else temperature,
        )

    def record(self) -> dict:
        """The settings that change answers (what a manifest or a cell name records)."""
        if self.mode == "verbalized":
            return {"mode": self.mode, "max_tokens": self.max_tokens}
        return {"mode": self.mode} if self.mode == "logprob" else asdict(self)


@dataclass
class Scored:
    """``table``: one row per respondent and country (condition, kind, country, x, y, distance and each item's
    value as ``item_<code>``; x, y and distance are NaN on a survey without a map); ``values`` and ``answers``:
    the elicitation's own tables (per context: each context once, under its own condition name);
    ``distributions``: each respondent's answer distribution per country and question that asks a published
    WVS-7 question (condition, kind, country, item, part, question, option, p, valid_mass, n), the model-free
    distributional yardsticks included."""

    table: pd.DataFrame
    values: pd.DataFrame
    answers: pd.DataFrame
    seconds: float
    contexts: int
    distributions: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=DIST_COLUMNS))


DIST_COLUMNS = ["condition", "kind", "country", "item", "part", "question", "option", "p", "valid_mass", "n"]


def _asks_model(respondent) -> bool:
    return hasattr(respondent, "contexts")


def _context_distributions(answers: pd.DataFrame, keys: pd.DataFrame, mode: str) -> pd.DataFrame:
    """Each context's answer distribution per question with published shares: context, item, part, option,
    p, valid_mass, n. Logprob mode: the exact distribution renormalised over valid mass (``valid_mass`` kept);
    sample mode: the empirical distribution of the valid samples and their number ``n``."""
    cols = ["context", "item", "part", "option", "p", "valid_mass", "n"]
    if answers.empty or keys.empty:
        return pd.DataFrame(columns=cols)
    ans = answers.rename(columns={"question": "part"})
    ans = ans.merge(keys[["item", "part"]], on=["item", "part"])
    if mode in ("logprob", "verbalized"):  # a verbalized reply that did not parse has NaN shares, valid_mass 0
        return ans.rename(columns={"probability": "p"}).assign(n=math.nan)[cols]
    ok = ans[ans.status == "ok"]
    asked = ans.groupby(["context", "item", "part"]).size()  # every sample, valid or not
    rows = []
    codes = {(k.item, k.part): k.codes for k in keys.itertuples()}
    for (ctx, item, part), sub in ok.groupby(["context", "item", "part"], sort=False):
        counts = sub.code.astype(int).value_counts()
        n = int(counts.sum())
        rows += [
            {
                "context": ctx,
                "item": item,
                "part": part,
                "option": c,
                "p": counts.get(c, 0) / n,
                "valid_mass": n / asked[(ctx, item, part)],
                "n": n,
            }
            for c in codes[(item, part)]
        ]
    return pd.DataFrame(rows, columns=cols)


def score(
    session, respondents, countries, survey, config: GenerationConfig = GenerationConfig(), *, progress: bool = False
) -> Scored:
    """Score ``respondents`` — ``(name, kind, respondent)`` triples — on ``countries``."""
    countries = list(countries)
    with using_session(session, survey):  # a respondent may need the model for its contexts (a profile)
        planned = {name: {c: list(r.contexts(c)) for c in countries} for name, _, r in respondents if _asks_model(r)}
    unique = list(dict.fromkeys(ctx for per in planned.values() for ctxs in per.values() for ctx in ctxs))
    ids = {ctx: i for i, ctx in enumerate(unique)}
    if unique:
        raw = elicit(
            session,
            survey,
            unique,
            mode=config.mode,
            samples=config.samples,
            temperature=config.temperature,
            max_tokens=config.max_tokens,
            progress=progress,
        )
    else:
        raw = {
            "values": pd.DataFrame(columns=["context", "item", "value"]),
            "answers": pd.DataFrame(columns=["context"]),
            "seconds": 0.0,
        }
    # one value per context and item in logprob mode; the mean of the valid samples in sample mode
    by_context = raw["values"].groupby(["context", "item"], sort=False)["value"].mean()
    rows = []
    projection = survey.map
    for name, kind, respondent in respondents:
        if not (_asks_model(respondent) or isinstance(respondent, ModelFree)):
            continue  # a distributional yardstick: no map point
        for country in countries:
            row = {"condition": name, "kind": kind, "country": country}
            if isinstance(respondent, ModelFree):
                row["x"], row["y"] = respondent.point(country)
            else:
                per_context = pd.DataFrame(
                    [
                        {code: by_context.get((ids[c], code), math.nan) for code in survey.codes}
                        for c in planned[name][country]
                    ]
                )
                values = per_context.mean()  # NaN-skipping: a context without a valid answer does not count
                placed = projection.items if projection is not None else []  # a point needs every map item
                missing = [code for code in survey.codes if code in placed and math.isnan(values[code])]
                if missing:
                    raise CulturalignError(
                        f"no valid answer to {', '.join(missing)} under {name!r} for {country}: "
                        "see the answers table; a sample-mode run may need more --samples"
                    )
                row.update({f"item_{code}": values[code] for code in survey.codes})
            rows.append(row)
    items = [f"item_{code}" for code in survey.codes]
    table = pd.DataFrame(rows, columns=["condition", "kind", "country", "x", "y", *items])
    if projection is not None:
        placed = [f"item_{code}" for code in projection.items]
        asked = table[placed].notna().all(axis=1) & (table.kind != "reference")
        if asked.any():
            xy = projection.project(table.loc[asked, placed].set_axis(list(projection.items), axis=1))
            table.loc[asked, ["x", "y"]] = xy.to_numpy()
    table["x"], table["y"] = table.x.astype(float), table.y.astype(float)
    table.insert(
        table.columns.get_loc("y") + 1,
        "distance",
        [
            cultmap.distance_to(x, y, c) if projection is not None else math.nan
            for x, y, c in zip(table.x, table.y, table.country)
        ],
    )
    dists = _distributions(respondents, countries, survey, planned, ids, raw["answers"], config.mode)
    return Scored(
        table,
        raw["values"].drop(columns="context"),
        raw["answers"].drop(columns="context"),
        raw["seconds"],
        len(unique),
        dists,
    )


def _distributions(respondents, countries, survey, planned, ids, answers, mode) -> pd.DataFrame:
    """Every respondent's distribution per country and question: the mean over its contexts (each context's
    distribution weighted equally, as its item values are), and the yardsticks' predictions."""
    keys = question_keys(survey)
    if keys.empty:
        return pd.DataFrame(columns=DIST_COLUMNS)
    per_context = _context_distributions(answers, keys, mode)
    links = pd.DataFrame(
        [
            {"condition": name, "kind": kind, "country": country, "context": ids[ctx]}
            for name, kind, r in respondents
            if _asks_model(r)
            for country in countries
            for ctx in planned[name][country]
        ],
        columns=["condition", "kind", "country", "context"],
    )
    parts = []
    if len(links) and len(per_context):
        joined = links.merge(per_context, on="context")
        group = ["condition", "kind", "country", "item", "part", "option"]
        parts.append(
            joined.groupby(group, sort=False)
            .agg(p=("p", "mean"), valid_mass=("valid_mass", "mean"), n=("n", "sum" if mode == "sample" else "mean"))
            .reset_index()
            .merge(keys[["item", "part", "question"]], on=["item", "part"])
        )
    for name, kind, r in respondents:
        if hasattr(r, "distributions"):
            parts.append(
                r.distributions(survey, countries).assign(condition=name, kind=kind, valid_mass=1.0, n=math.nan)
            )
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=DIST_COLUMNS)
    return pd.concat(parts, ignore_index=True)[DIST_COLUMNS]

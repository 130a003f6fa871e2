"""The cultural audit: where a model sits on the cultural map, with and without cultural prompting.

``run_audit`` elicits the survey under each condition, averages over descriptor variants (and
samples), projects each condition's answers, and compares them with the target countries. Besides
the papers' "share of countries improved" it reports steerability (do prompted points track the
countries?) and specificity (is each country's prompted point nearest to that country?).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..distribution.scores import by_group, cells, floor_cells, summarize
from ..distribution.yardsticks import distribution_respondents
from ..elicitation.conditions import DESCRIPTORS, NO_PERSONA, Persona, resolve_condition
from ..elicitation.elicit import Context
from ..elicitation.scoring import GenerationConfig, score
from ..errors import CulturalignError
from ..fileio import atomic_write, json_safe
from ..instrument.populations import countries_with_data, question_keys, resolve_targets, target_distributions
from ..instrument.survey import DEFAULT_SURVEY, Survey, load_survey
from ..map import cultmap, reference
from ..map.reference import DEFAULT_COUNTRIES
from ..map.yardsticks import (
    SHUFFLED_SUFFIX,
    ShuffledCountries,
    derangement,
    reference_respondents,
    summarize_conditions,
)
from ..models.session import ModelSession
from ..programs.programs import PromptBaseline

# One society per cultural region: a quick audit that still spans the map.
DEFAULT_CONDITIONS = ("no_persona", "engineered")


@dataclass
class AuditResult:
    model: str
    config: dict
    answers: pd.DataFrame
    values: pd.DataFrame
    item_means: pd.DataFrame
    points: pd.DataFrame
    distances: pd.DataFrame
    improved: pd.DataFrame
    steerability: pd.DataFrame
    specificity: pd.DataFrame
    nearest_unprompted: pd.DataFrame
    usage: dict
    model_free: pd.DataFrame = field(default_factory=pd.DataFrame)  # reference predictors: condition, country, x, y
    intervals: pd.DataFrame = field(default_factory=pd.DataFrame)
    distributions: pd.DataFrame = field(default_factory=pd.DataFrame)  # each condition's per question and country
    distribution_cells: pd.DataFrame = field(default_factory=pd.DataFrame)  # metrics per condition x country x question
    noise_floor: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def has_map(self) -> bool:
        return not self.points.empty

    def summary(self) -> dict:
        """A JSON-ready summary: model, points, distances, improved_share, steerability, distribution,
        model_calls, ... (the map's parts are empty on a survey without a map)."""
        points, distances, improved = {}, {}, {}
        if self.has_map:
            distances = {
                cond: {r.country: float(r.distance) for r in sub.itertuples()}
                for cond, sub in self.distances.groupby("condition", sort=False)
            }
            improved = {r.condition: _num(r.improved_share) for r in self.improved.itertuples()}
        for cond, sub in self.points.groupby("condition", sort=False) if self.has_map else ():
            entry = {"x": float(sub.x.mean()), "y": float(sub.y.mean())}
            if (sub.country != "").any():
                entry["countries"] = {r.country: {"x": float(r.x), "y": float(r.y)} for r in sub.itertuples()}
            points[cond] = entry
        return {
            "model": self.model,
            "config": self.config,
            "points": points,
            "distances": distances,
            "mean_distance": {c: float(sum(d.values()) / len(d)) for c, d in distances.items() if d},
            "improved_share": improved.get("engineered", next(iter(improved.values()), None)) if improved else None,
            "improved_share_by_condition": improved,
            "steerability": {r.condition: {"x": _num(r.x), "y": _num(r.y)} for r in self.steerability.itertuples()},
            "specificity": {
                c: {r.country: int(r.rank) for r in sub.itertuples()}
                for c, sub in self.specificity.groupby("condition", sort=False)
            }
            if len(self.specificity)
            else {},
            "yardsticks": self.yardsticks(),
            "nearest_unprompted": [
                {"country": r.country, "distance": float(r.distance)} for r in self.nearest_unprompted.itertuples()
            ],
            "distribution": self.distribution_summary(),
            "model_calls": self.usage["calls"],
            "usage": self.usage,
        }

    def distribution_summary(self) -> dict:
        """Per condition (the distributional yardsticks uniform, marginal, region_marginal among them, and the
        noise floor): 1 - JSD, tv, emd with intervals, skill_tv against the marginal, closer_than_marginal,
        counts and, for shuffled controls, the gap (:mod:`culturalign.distribution.scores`)."""
        found = summarize(self.distribution_cells, self.noise_floor)
        if self.config.get("mode") == "verbalized":  # reported beside every figure: how many replies parsed
            for entry in found.values():
                if entry.get("kind") not in ("reference", None) and "valid_mass" in entry:
                    entry["parse_rate"] = entry["valid_mass"]
        return json_safe(found)

    def per_target(self) -> pd.DataFrame:
        """One row per condition and target country: the point the condition gives it (no persona's single
        point for every country) and its distance; the reference predictors included."""
        pts = pd.concat([self.points, self.model_free.assign(kind="reference")], ignore_index=True)
        own = self.distances.merge(
            pts[pts.country != ""][["condition", "country", "x", "y"]], on=["condition", "country"]
        )
        shared = self.distances.merge(pts[pts.country == ""][["condition", "x", "y"]], on="condition")
        return pd.concat([own, shared], ignore_index=True)

    def yardsticks(self) -> dict:
        """Per condition: mean distance, skill against the leave-one-out centroid (with CI, per axis),
        closer_than_centroid and, for shuffled controls, the lead over them (:mod:`culturalign.map.yardsticks`)."""
        if not self.has_map:
            return {}
        found = summarize_conditions(self.per_target())
        stats = {c: found[c] for c in dict.fromkeys(self.distances.condition) if c in found}  # the audit's order
        keys = (
            "mean_distance",
            "skill",
            "skill_ci95",
            "skill_x",
            "skill_y",
            "closer_than_centroid",
            "shuffled_control",
        )
        return {cond: {k: json_safe(v[k]) for k in keys if k in v} for cond, v in stats.items()}

    def save(self, out_dir: str | Path, *, plot: bool = True) -> Path:
        """Write every table (CSV), summary.json and the map (PNG + interactive HTML) into ``out_dir``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        tables = {
            "answers": self.answers,
            "item_values": self.values,
            "item_means": self.item_means,
            "points": self.points,
            "distances": self.distances,
            "improved": self.improved,
            "steerability": self.steerability,
            "specificity": self.specificity,
            "nearest_unprompted": self.nearest_unprompted,
            "intervals": self.intervals,
            "distributions": self.distributions,
            "distribution_scores": self.distribution_cells,
            "noise_floor": self.noise_floor,
            "distribution_by_theme": by_group(self.distribution_cells, "theme")
            if len(self.distribution_cells)
            else pd.DataFrame(),
        }
        for name, table in tables.items():
            if not table.empty:
                atomic_write(out / f"{name}.csv", table.to_csv(index=False))
        atomic_write(out / "summary.json", json.dumps(self.summary(), indent=2))
        if plot and len(self.distribution_cells) and "marginal" in set(self.distribution_cells.condition):
            from ..report.distribution_report import write_distribution_report

            write_distribution_report(out)  # per-theme and per-question figures, from the tables just written
        if plot and self.has_map:
            from ..map.plot import save_map

            pts, arrows = self.map_layers()
            for suffix in (".png", ".html"):
                save_map(
                    out / f"map{suffix}",
                    points=pts,
                    arrows=arrows,
                    highlight=self.config["countries"],
                    title=f"{self.model}: cultural map ({self.config['mode']} mode)",
                )
        return out

    def map_layers(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Points to draw (the unprompted model; each prompted country; with few targets the model-free
        predictions) and arrows unprompted -> prompted. Shuffled controls are tables, not map layers."""
        from ..map.plot import model_free_marks

        shown = self.points[~self.points.condition.str.endswith(SHUFFLED_SUFFIX)]
        pts = shown.assign(
            name=[f"{self.model} ({c})" if not k else f"{k} ({c})" for c, k in zip(shown.condition, shown.country)],
            group=shown.condition,
        )[["name", "x", "y", "group"]]
        base = shown[shown.country == ""]
        arrows = pd.DataFrame(columns=["x0", "y0", "x1", "y1", "group"])
        prompted = shown[shown.country != ""]
        if 0 < prompted.country.nunique() <= 20:
            pts = pd.concat([pts, *model_free_marks(self.model_free)], ignore_index=True)
        if len(base) == 1:
            b = base.iloc[0]
            arrows = pd.DataFrame(
                {
                    "x0": b.x,
                    "y0": b.y,
                    "x1": prompted.x.values,
                    "y1": prompted.y.values,
                    "group": prompted.condition.values,
                }
            )
        if 0 < prompted.country.nunique() <= 20:  # with few targets, also show how far each one still is
            ref = reference.countries().set_index("country").loc[prompted.country]
            gaps = pd.DataFrame(
                {
                    "x0": prompted.x.values,
                    "y0": prompted.y.values,
                    "x1": ref.x.values,
                    "y1": ref.y.values,
                    "group": "remaining gap to target",
                }
            )
            arrows = pd.concat([arrows, gaps], ignore_index=True) if len(arrows) else gaps
        return pts, arrows


def _num(value):
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _check_settings(conds, variants) -> None:
    """Every setting checked before the first model call: a bad one must not cost an audit's worth of answers."""
    if not conds:
        raise CulturalignError("no conditions given; use no_persona, engineered and/or --template")
    _variants(conds[0], variants)


def _variants(condition: Persona, variants) -> tuple[str, ...]:
    if variants in (None, "all"):
        return condition.variants
    n = int(variants) if str(variants).isdigit() else 0
    if not 1 <= n <= len(DESCRIPTORS):
        raise CulturalignError(f"variants must be a number from 1 to {len(DESCRIPTORS)} or 'all', got {variants!r}")
    return condition.variants[:n]


def build_contexts(conditions, countries, variants=None) -> list[Context]:
    contexts = []
    for cond in conditions:
        for country in countries if cond.needs_country else [""]:
            contexts += [Context(cond, country, v) for v in _variants(cond, variants)]
    return contexts


def run_audit(
    model: str | None = None,
    *,
    countries=DEFAULT_COUNTRIES,
    conditions=DEFAULT_CONDITIONS,
    mode: str = "logprob",
    samples: int | None = None,
    temperature: float | None = None,
    variants=None,
    survey: str | Survey = DEFAULT_SURVEY,
    questions=None,
    progress: bool = True,
    session: ModelSession | None = None,
    shuffled_control: bool = False,
) -> AuditResult:
    """Audit a model. ``countries``: names/ISO codes/regions or "all"; ``conditions``: names or templates
    with {country}; ``variants``: how many of Tao et al.'s ten descriptors (default all); ``survey``: a
    shipped survey's name, a survey file or a :class:`Survey`; ``questions``: question ids and/or themes of
    it; ``shuffled_control``: also ask each country condition about a seeded derangement of the countries.
    A survey with a map projection gives map points and distances; every question with published answer
    shares gives per-question distributional scores against the distributional yardsticks."""
    inst = survey if isinstance(survey, Survey) else load_survey(survey)
    if questions is not None:
        inst = inst.select(questions)
    if inst.map is None and countries in (DEFAULT_COUNTRIES, ",".join(DEFAULT_COUNTRIES)):
        # the default spans the map's regions; a survey without one is scored where it has answer shares
        countries = [c for c in DEFAULT_COUNTRIES if c in countries_with_data(inst)] or countries
    target = resolve_targets(inst, countries)
    conds = [c if isinstance(c, Persona) else resolve_condition(c) for c in conditions]
    if len({c.name for c in conds}) != len(conds):
        raise CulturalignError("two conditions share a name; name custom templates with 'name=template'")
    _check_settings(conds, variants)
    config_ = GenerationConfig.of(mode, samples, temperature)  # samples/temperature: sample mode only (10, 1.0)
    n_variants = len(_variants(conds[0], variants))
    respondents = [(c.name, "prompt", PromptBaseline(c.name, c, n_variants)) for c in conds]
    if shuffled_control:
        asked = derangement(target)
        respondents += [
            (name + SHUFFLED_SUFFIX, "shuffled", ShuffledCountries(r, target))
            for name, _, r in list(respondents)
            if r.condition.needs_country
        ]
    if inst.map is not None:
        respondents += reference_respondents()  # leave-one-out: no split is in force in an audit
    keys = question_keys(inst)
    if len(keys):
        respondents += distribution_respondents()
    own_session = session is None
    session = session or ModelSession(model)
    try:
        scored = score(session, respondents, target, inst, config_, progress=progress)
    finally:
        if own_session:
            session.close()
    table = scored.table
    targets = target_distributions(inst)
    dist_cells = cells(scored.distributions, targets, keys)
    floor = floor_cells(targets, target) if len(dist_cells) else pd.DataFrame()
    usage = {
        **session.usage.as_dict(),
        "seconds": round(scored.seconds, 2),
        "contexts": scored.contexts,
        "answers": int(len(scored.answers)),
    }
    config = {
        "model": session.spec.name,
        "model_identity": session.identity,
        "endpoint": session.endpoint,
        **{k: config_.record().get(k) for k in ("mode", "samples", "temperature")},
        "survey": inst.name,
        "survey_digest": inst.digest,
        "questions": inst.codes if questions is not None else "all",
        "projection_digest": inst.map.digest if inst.map is not None else None,
        "countries": target,
        "conditions": {c.name: c.template for c in conds},
        "variants": n_variants if variants not in (None, "all") else "all",
        "shuffled_control": asked if shuffled_control else None,
    }
    common = dict(
        model=session.spec.name,
        config=config,
        answers=scored.answers,
        values=scored.values,
        usage=usage,
        distributions=scored.distributions,
        distribution_cells=dist_cells,
        noise_floor=floor,
    )
    if inst.map is None:  # scored by answer distributions only
        empty = pd.DataFrame()
        return AuditResult(
            **common,
            item_means=empty,
            points=empty,
            distances=empty,
            improved=empty,
            steerability=empty,
            specificity=empty,
            nearest_unprompted=empty,
        )
    free = {name for name, _, r in respondents if getattr(r, "condition", None) and not r.condition.needs_country}
    asked_rows = table[table.kind != "reference"].copy()
    asked_rows.loc[asked_rows.condition.isin(free), "country"] = ""  # one point for every country: shown once
    asked_rows = asked_rows.drop_duplicates(["condition", "country"])
    item_means = (
        asked_rows[["condition", "country", *(f"item_{c}" for c in inst.codes)]]
        .rename(columns=lambda c: c.removeprefix("item_"))
        .reset_index(drop=True)
    )
    points = asked_rows[["condition", "country", "x", "y"]].reset_index(drop=True)
    order = {name: i for i, (name, _, _) in enumerate(respondents)}
    points = (
        points.assign(_order=points.condition.map(order))
        .sort_values(["_order", "country"], kind="stable")
        .drop(columns="_order")
        .reset_index(drop=True)
    )
    dists = table[["condition", "kind", "country", "distance"]].merge(
        reference.countries()[["country", "region"]], on="country"
    )

    improved, steer, spec = [], [], []
    base_name = NO_PERSONA.name if NO_PERSONA.name in order else None
    base_d = dists[dists.condition == base_name].set_index("country")["distance"] if base_name else None
    for cond in conds:
        if not cond.needs_country:
            continue
        sub = points[points.condition == cond.name]
        d = dists[dists.condition == cond.name].set_index("country")["distance"]
        improved.append(
            {
                "condition": cond.name,
                "baseline": base_name,
                "improved_share": cultmap.improved_share(base_d, d) if base_d is not None else math.nan,
                "mean_distance": float(d.mean()),
                "baseline_mean_distance": float(base_d.mean()) if base_d is not None else math.nan,
            }
        )
        steer.append({"condition": cond.name, **cultmap.steerability(sub)})
        spec.append(cultmap.specificity(sub).assign(condition=cond.name))

    unprompted = points[points.country == ""]
    nearest = cultmap.nearest(unprompted.x.iloc[0], unprompted.y.iloc[0], 5) if len(unprompted) else pd.DataFrame()
    intervals = _sample_intervals(scored.values, inst) if mode == "sample" else pd.DataFrame()
    model_free = table[table.kind == "reference"][["condition", "country", "x", "y"]].reset_index(drop=True)
    return AuditResult(
        **common,
        item_means=item_means,
        points=points,
        model_free=model_free,
        distances=dists,
        improved=pd.DataFrame(improved),
        steerability=pd.DataFrame(steer),
        specificity=pd.concat(spec) if spec else pd.DataFrame(),
        nearest_unprompted=nearest,
        intervals=intervals,
    )


def _sample_intervals(values: pd.DataFrame, survey) -> pd.DataFrame:
    """Bootstrap 95% intervals of each condition's point from the repeated sampled answers."""
    rows = []
    for (cond, country), sub in values.groupby(["condition", "country"], sort=False):
        wide = sub.pivot_table(index=["variant", "sample"], columns="item", values="value", aggfunc="first")
        try:
            ci = cultmap.bootstrap_point(wide.reindex(columns=survey.codes), projection=survey.map)
        except CulturalignError:
            continue
        for axis in ("x", "y"):
            rows.append({"condition": cond, "country": country, "axis": axis, **ci.loc[axis].to_dict()})
    return pd.DataFrame(rows)

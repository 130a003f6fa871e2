"""Objectives for compiling culture-conditioned programs: one training example is one country.

The primary objective is the map distance between a program's projected point for a country and that
country's reference point, turned into a bounded similarity (1 = on the spot) so that DSPy's optimizers
can average it and bootstrap-style optimizers can threshold it. Feedback text says which axis and which
items pulled the point away, for reflective optimizers (GEPA); per-axis scores serve as objective_scores.
The second objective is distributional: Jensen-Shannon distance per WVS-7 question.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

import pandas as pd

from ..elicitation.respondent import active_survey
from ..instrument.survey import Survey
from ..map import cultmap, reference

SCALE = 1.0  # map units: a point one unit away scores exp(-1)
METRIC_THRESHOLD = math.exp(-1.0)  # bootstrap-style optimizers keep demos from countries closer than 1 unit


def similarity(distance: float, scale: float = SCALE) -> float:
    """Bounded similarity in (0, 1]: exp(-distance / scale)."""
    return math.exp(-max(0.0, float(distance)) / scale)


_WAVE7: dict[str, pd.DataFrame] = {}


def _wave7_means(survey: Survey) -> pd.DataFrame:
    """The survey's WVS-7 item means, computed once per survey (by its digest: any survey file, not only shipped)."""
    if survey.digest not in _WAVE7:
        _WAVE7[survey.digest] = cultmap.wvs7_item_means(survey)
    return _WAVE7[survey.digest]


@dataclass
class CountryScore:
    country: str
    x: float
    y: float
    distance: float
    score: float
    objective_scores: dict
    gaps: pd.DataFrame = field(repr=False)
    feedback: str = ""


def score_country(
    values: Mapping[str, float], country: str, *, survey: Survey | None = None, scale: float = SCALE
) -> CountryScore:
    """Score one country's answers (item -> expected value) against its reference point, with feedback."""
    survey = survey or active_survey()  # the running compile's survey; never a default one
    proj = survey.map
    country = reference.resolve_country(country)
    ref = reference.countries().set_index("country").loc[country]
    x, y = proj.project_one(values)
    dx, dy = x - ref.x, y - ref.y
    distance = math.hypot(dx, dy)
    iso2 = ref.iso2
    means = _wave7_means(survey)
    targets = means.loc[iso2] if isinstance(iso2, str) and iso2 in means.index else None
    rows = []
    direction = (dx / distance, dy / distance) if distance > 0 else (0.0, 0.0)
    for i, code in enumerate(proj.items):
        value = float(values[code])
        target = float(targets[code]) if targets is not None and not math.isnan(targets[code]) else math.nan
        # How far this item moves the point: from the country's own mean where WVS-7 has it, else from
        # the pooled mean; its pull is that shift projected on the direction of the error.
        base = target if not math.isnan(target) else proj.mean[i]
        shift_x = (value - base) / proj.sd[i] * proj.weights[i, 0] * proj.scale[0]
        shift_y = (value - base) / proj.sd[i] * proj.weights[i, 1] * proj.scale[1]
        rows.append(
            {
                "item": code,
                "name": survey.item(code).name,
                "model": value,
                "country_mean": target,
                "shift_x": shift_x,
                "shift_y": shift_y,
                "pull": shift_x * direction[0] + shift_y * direction[1],
            }
        )
    gaps = pd.DataFrame(rows).sort_values("pull", ascending=False).reset_index(drop=True)
    return CountryScore(
        country=country,
        x=x,
        y=y,
        distance=distance,
        score=similarity(distance, scale),
        objective_scores={"x": similarity(abs(dx), scale), "y": similarity(abs(dy), scale)},
        gaps=gaps,
        feedback=_feedback(country, ref, x, y, dx, dy, distance, gaps),
    )


def _feedback(country, ref, x, y, dx, dy, distance, gaps, top: int = 3) -> str:
    lines = [
        f"The answers put {country} at ({x:.2f}, {y:.2f}) on the cultural map; its survey position is "
        f"({ref.x:.2f}, {ref.y:.2f}), a distance of {distance:.2f}."
    ]
    axis_x = "self-expression" if dx > 0 else "survival"
    axis_y = "secular-rational" if dy > 0 else "traditional"
    main = "x (survival vs. self-expression)" if abs(dx) >= abs(dy) else "y (traditional vs. secular-rational)"
    lines.append(
        f"Too far toward {axis_x} values by {abs(dx):.2f} and too {axis_y} by {abs(dy):.2f}; "
        f"most of the error is on {main}."
    )
    pulling = gaps[gaps.pull > 0.02].head(top)
    for g in pulling.itertuples():
        ref_text = (
            f"people in {country} average {g.country_mean:.2f} (WVS wave 7)"
            if not math.isnan(g.country_mean)
            else "no WVS-7 mean for this country; judged against the pooled mean"
        )
        lines.append(f"- {g.item} ({g.name}): answered {g.model:.2f}; {ref_text}; moves the point {g.pull:.2f} away.")
    if pulling.empty:
        lines.append("No single item pulls the point away by more than 0.02.")
    return "\n".join(lines)

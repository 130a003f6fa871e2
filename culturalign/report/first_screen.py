"""The report's first screen: per model, one table sorted by skill and a verdict in plain words, from the
condition summary (:func:`culturalign.report.report.condition_summary`) as it stands; nothing is recomputed.

Numbers are rounded to what their 95% intervals support, and long condition names get a short key
(:func:`short_names`) shared by the tables and the figures.
"""

from __future__ import annotations

import html
import math

import pandas as pd

from ..map.yardsticks import REFERENCE_PREDICTORS, SHUFFLED_SUFFIX

LONG = 20  # condition names longer than this get a key (P1, C1, ...) in tables and figures
_TAGS = {"program": "P", "compiled": "C"}


def short_names(conditions) -> dict[str, str]:
    """Condition -> its label: short names unchanged, long ones P1, P2 (programs), C1 (compiled), X1 (other),
    numbered in order of first appearance so every table and figure of one study agrees."""
    out, counts = {}, {}
    conditions = list(dict.fromkeys(conditions))
    bases = [c.removesuffix(SHUFFLED_SUFFIX) for c in conditions]  # a control is named after its condition
    for cond in dict.fromkeys(bases):
        if len(cond) <= LONG:
            out[cond] = cond
            continue
        tag = _TAGS.get(cond.split(":", 1)[0], "X")
        counts[tag] = counts.get(tag, 0) + 1
        out[cond] = f"{tag}{counts[tag]}"
    for cond, base in zip(conditions, bases):
        if cond != base:
            out[cond] = cond if out[base] == base else out[base] + SHUFFLED_SUFFIX
    return out


def key_text(names: dict[str, str]) -> str:
    """The key for the abbreviated names ('' when none is abbreviated)."""
    return "; ".join(
        f"{short} = {cond}" for cond, short in names.items() if short != cond and not cond.endswith(SHUFFLED_SUFFIX)
    )


def decimals(low: float, high: float, most: int = 3) -> int:
    """Decimals an interval supports: two significant digits of its width (none past ``most``)."""
    width = abs(high - low)
    if not math.isfinite(width) or width == 0:
        return most
    return int(min(most, max(0, 1 - math.floor(math.log10(width)))))


def _num(value: float, places: int) -> str:
    text = f"{value:.{places}f}"
    return "0" if float(text) == 0 else text.replace("-", "−")


def with_interval(value: float, low: float, high: float) -> str:
    """``value [low, high]`` rounded alike; a bare value when there is no interval, '–' when there is no value."""
    if value is None or not math.isfinite(value):
        return "–"
    if not (math.isfinite(low) and math.isfinite(high)) or low == high:
        return _num(value, 2)
    places = decimals(low, high)
    return f"{_num(value, places)} [{_num(low, places)}, {_num(high, places)}]"


def _excludes_zero(low: float, high: float) -> bool:
    return math.isfinite(low) and math.isfinite(high) and (low > 0 or high < 0)


def verdict(summary: pd.DataFrame, names: dict[str, str] | None = None) -> str:
    """One model's answer in words: the closest condition, its skill against the centroid, whether a model-free
    yardstick beats it and whether its lead over the shuffled control excludes 0."""
    own = summary[summary.kind != "reference"].sort_values("skill", ascending=False)
    if own.empty or own.skill.isna().all():
        return "No condition of the model has a skill score here."
    best = own.iloc[0]
    yard = summary[(summary.kind == "reference") & (summary.condition != "centroid")]
    yard = yard.sort_values("skill", ascending=False)
    skill = with_interval(best.skill, best.skill_ci95_low, best.skill_ci95_high)
    if best.skill_ci95_low > 0:
        against = f"beats the centroid (skill {skill})"
    elif best.skill_ci95_high < 0:
        against = f"is farther than the centroid (skill {skill})"
    else:
        against = f"is not distinguishable from the centroid (skill {skill})"
    short = (names or {}).get(best.condition, best.condition)
    called = f" ({html.escape(best.condition)})" if short != best.condition else ""
    words = [f"The closest condition is <b>{html.escape(short)}</b>{called}, which {against}"]
    if len(yard) and yard.skill.iloc[0] > best.skill:
        top = yard.iloc[0]
        words.append(
            f"; nothing the model does beats the model-free {html.escape(top.condition)} "
            f"(skill {with_interval(top.skill, top.skill_ci95_low, top.skill_ci95_high)})"
        )
    lead, low, high = best.lead_over_shuffled, best.lead_ci95_low, best.lead_ci95_high
    if not math.isfinite(lead):
        words.append("; it has no shuffled control")
    elif _excludes_zero(low, high) and lead > 0:
        words.append(
            f"; its lead over the shuffled control, {with_interval(lead, low, high)}, excludes 0: it uses the country"
        )
    else:
        words.append(
            f"; its lead over the shuffled control, {with_interval(lead, low, high)}, does not exclude 0: "
            "no evidence that it uses the country"
        )
    return "".join(words) + "."


def answer_table(summary: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """One model's conditions sorted by skill: label, mean distance, skill, steerability and the lead over the
    shuffled control, each rounded to its interval; ``yardstick`` marks the model-free rows."""
    rows = []
    for r in summary.sort_values("skill", ascending=False, na_position="last").itertuples():
        rows.append(
            {
                "condition": names.get(r.condition, r.condition),
                "full name": r.condition,
                "yardstick": r.condition in REFERENCE_PREDICTORS or r.kind == "reference",
                "countries": int(r.countries),
                "mean distance": with_interval(r.mean_distance, r.ci95_low, r.ci95_high),
                "skill vs centroid": "0 (the yardstick)"
                if r.condition == "centroid"
                else with_interval(r.skill, r.skill_ci95_low, r.skill_ci95_high),
                "steerability (x, y)": ", ".join(
                    "–" if not math.isfinite(v) else _num(v, 2) for v in (r.steerability_x, r.steerability_y)
                ),
                "lead over shuffled": with_interval(r.lead_over_shuffled, r.lead_ci95_low, r.lead_ci95_high),
            }
        )
    return pd.DataFrame(rows)


def answer_html(summary: pd.DataFrame, names: dict[str, str]) -> str:
    """The first-screen table of one model, yardstick rows marked, full names in a tooltip."""
    table = answer_table(summary, names)
    shown = [c for c in table.columns if c not in ("full name", "yardstick")]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in shown)
    body = []
    for r in table.to_dict("records"):
        cells = [
            f'<td title="{html.escape(r["full name"])}">{html.escape(r["condition"])}'
            + (" <small>(model-free)</small>" if r["yardstick"] else "")
            + "</td>"
        ]
        cells += [f"<td>{html.escape(str(r[c]))}</td>" for c in shown[1:]]
        body.append(f"<tr{' class=yard' if r['yardstick'] else ''}>{''.join(cells)}</tr>")
    return f"<table class='t first'><tr>{head}</tr>{''.join(body)}</table>"

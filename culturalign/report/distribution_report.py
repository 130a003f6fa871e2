"""Figures and a page for distributional alignment: where, by topic and by question, anything beats the constant.

* the **per-theme chart**: each condition's mean total variation per theme, beside the yardsticks (uniform,
  marginal, region_marginal, neighbours) and the sampling noise floor (what a perfect predictor scores against a
  survey of 1,200 people); shorter bars are closer;
* the **per-question scatter**: each question's tv under a condition against the population marginal's, so the
  questions where the condition beats the constant lie below the diagonal.

:func:`write_distribution_report` re-renders them, and a summary, from an audit folder's saved tables with no
model (``culturalign report AUDIT_FOLDER``).
"""

from __future__ import annotations

import html
import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from ..distribution.metrics import METRICS
from ..distribution.scores import by_group, summarize
from ..errors import CulturalignError
from ..fileio import atomic_write, json_safe, read_json, read_table
from ..map.yardsticks import SHUFFLED_SUFFIX
from .first_screen import key_text, short_names
from .report import FONT, WIDTH, _img, _png, _subplots, _table_html

YARDSTICKS = ("uniform", "marginal", "region_marginal", "neighbours")
COLOURS = {"uniform": "#bbbbbb", "marginal": "#555555", "region_marginal": "#8c6d31", "neighbours": "#b5651d"}


def _conditions(cells: pd.DataFrame) -> list[str]:
    return [c for c in dict.fromkeys(cells.condition) if not c.endswith(SHUFFLED_SUFFIX) and c not in YARDSTICKS]


def theme_figure(cells: pd.DataFrame, floor: pd.DataFrame | None = None) -> bytes:
    """Mean tv per theme: one bar per condition and yardstick, the noise floor as a black tick."""
    return _png(theme_fig(cells, floor))


def theme_fig(cells: pd.DataFrame, floor: pd.DataFrame | None = None):
    names = short_names(cells.condition)
    themes = sorted(cells.theme.unique())
    shown = _conditions(cells) + [y for y in YARDSTICKS if y in set(cells.condition)]
    means = by_group(cells, "theme").pivot(index="theme", columns="condition", values="tv").reindex(themes)
    height = 0.8 / max(1, len(shown))
    fig, ax = _subplots(figsize=(WIDTH * 0.8, 0.13 * len(themes) * max(2, len(shown)) + 1.5))
    for i, cond in enumerate(shown):
        colour = COLOURS.get(cond)
        ax.barh(
            np.arange(len(themes)) + i * height - 0.4 + height / 2,
            means[cond],
            height=height,
            label=names.get(cond, cond),
            color=colour,
        )
    if floor is not None and len(floor):
        per_theme = (
            floor.merge(cells[["question", "theme"]].drop_duplicates(), on="question")
            .groupby("theme")
            .tv.mean()
            .reindex(themes)
        )
        ax.scatter(
            per_theme,
            np.arange(len(themes)),
            marker="|",
            s=300,
            color="black",
            zorder=3,
            label="noise floor (n = 1,200)",
        )
    ax.set_yticks(range(len(themes)), themes, fontsize=FONT)
    ax.tick_params(labelsize=FONT)
    ax.set_ylim(len(themes) - 0.5, -0.5)  # first theme on top, no empty band
    ax.set_xlabel("mean total variation from the society's answer distribution (lower is closer)", fontsize=FONT)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=FONT, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    ax.set_title(
        "Answer distributions by theme: conditions, yardsticks and the survey's noise floor", fontsize=FONT + 2
    )
    if key := key_text({c: names[c] for c in shown}):
        fig.supxlabel(textwrap.fill(f"Key: {key}", 150), fontsize=FONT, ha="left", x=0.01)
    return fig


def question_figure(cells: pd.DataFrame) -> bytes:
    """Per question: a condition's mean tv against the marginal's; below the diagonal it beats the constant."""
    return _png(question_fig(cells))


def question_fig(cells: pd.DataFrame):
    names = short_names(cells.condition)
    conds = _conditions(cells)
    if "marginal" not in set(cells.condition) or not conds:
        raise CulturalignError("the per-question figure needs the marginal and at least one model condition")
    per_q = by_group(cells, "question").pivot(index="question", columns="condition", values="tv")
    cols = min(3, len(conds))  # three panels a row keep the page width
    rows = -(-len(conds) // cols)
    fig, axes = _subplots(rows, cols, figsize=(WIDTH * cols / 3, 4.0 * rows + 0.6), squeeze=False, sharey=True)
    top = float(np.nanmax(per_q[[*conds, "marginal"]].to_numpy())) * 1.05
    for ax in axes.ravel()[len(conds) :]:
        ax.set_visible(False)
    for ax, cond in zip(axes.ravel(), conds):
        x, y = per_q["marginal"], per_q[cond]
        below = (y < x).sum()
        ax.scatter(x, y, s=14, alpha=0.7, color="#1f77b4")
        ax.plot([0, top], [0, top], color="black", lw=0.8)
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
        ax.set_title(
            f"{names.get(cond, cond)}\nbeats the marginal on {below} of {y.notna().sum()} questions", fontsize=FONT
        )
        ax.set_xlabel("marginal's mean tv", fontsize=FONT)
        ax.tick_params(labelsize=FONT)
        ax.grid(alpha=0.3)
    for row in axes:
        row[0].set_ylabel("condition's mean tv", fontsize=FONT)
    fig.suptitle(
        "Per question: below the diagonal the condition is closer than the population marginal", fontsize=FONT + 2
    )
    if key := key_text({c: names[c] for c in conds}):
        fig.supxlabel(textwrap.fill(f"Key: {key}", 150), fontsize=FONT, ha="left", x=0.01)
    return fig


def read_cells(folder, extra: dict | None = None) -> pd.DataFrame:
    """A folder's distribution_scores table (an audit's or a comparison's, ``extra`` naming its own columns)."""
    columns = {
        "condition": "text",
        "kind": "text",
        "country": "text",
        "item": "text",
        "part": "text?",
        "question": "text",
        "theme": "text?",
        **{m: "number" for m in METRICS},
        **(extra or {}),
    }
    cells = read_table(folder, "distribution_scores", "distribution scores", columns)
    for col in ("part", "theme"):  # empty in a CSV: a one-question item's part, a survey without themes
        cells[col] = cells[col].map(lambda v: v if isinstance(v, str) else "")
    return cells


def load_cells(folder) -> tuple[pd.DataFrame, pd.DataFrame | None, dict]:
    """An audit folder's saved distributional cells, noise floor and summary (no model)."""
    folder = Path(folder)
    cells = read_cells(folder)
    floor = read_table(
        folder,
        "noise_floor",
        "noise floor",
        {"country": "text", "question": "text", "tv": "number", "one_minus_jsd": "number"},
        required=False,
    )
    summary = read_json(folder / "summary.json", "audit summary") if (folder / "summary.json").is_file() else {}
    return cells, floor, summary


def write_distribution_report(folder) -> Path:
    """Recompute the distributional summary from the saved cells, draw both figures and write
    ``distribution_report.html`` beside them; returns its path."""
    folder = Path(folder)
    cells, floor, summary = load_cells(folder)
    found = json_safe(summarize(cells, floor))
    atomic_write(folder / "distribution_summary.json", json.dumps(found, indent=2))
    figures = folder / "figures"
    figures.mkdir(exist_ok=True)
    theme_png, question_png = theme_figure(cells, floor), question_figure(cells)
    atomic_write(figures / "distribution_by_theme.png", theme_png)
    atomic_write(figures / "distribution_by_question.png", question_png)
    table = summary_table(found)
    theme = by_group(cells, "theme").pivot(index="theme", columns="condition", values="tv").round(3).reset_index()
    model = html.escape(str(summary.get("model", "")))
    page = (
        f"<!doctype html><meta charset='utf-8'><title>Distributional alignment {model}</title>"
        "<style>body{font-family:sans-serif;max-width:1200px;margin:2em auto}table{border-collapse:collapse;"
        "font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px}img{max-width:100%}</style>"
        f"<h1>Answer distributions against each society's: {model}</h1>"
        "<p>tv: total variation (lower is closer); skill_tv = 1 - tv / tv(marginal), 0 is no better than the "
        "population marginal. Intervals resample countries and questions.</p>"
        + _table_html(table)
        + _img(theme_png, "mean tv by theme")
        + _img(question_png, "tv per question")
        + "<h2>Mean tv by theme</h2>"
        + _table_html(theme)
    )
    atomic_write(folder / "distribution_report.html", page)
    return folder / "distribution_report.html"


def summary_table(found: dict) -> pd.DataFrame:
    """One row per condition of a :func:`~culturalign.distribution.scores.summarize` result (yardsticks and noise
    floor included): 1 - JSD, tv and skill_tv with intervals."""
    found = json_safe(found)
    rows = [
        {
            "condition": c,
            "1-JSD": v.get("one_minus_jsd"),
            "tv": v.get("tv"),
            "tv 95% CI": _pair(v.get("tv_ci95")),
            "skill_tv": v.get("skill_tv"),
            "skill_tv 95% CI": _pair(v.get("skill_tv_ci95")),
            "closer than marginal": v.get("closer_than_marginal"),
            "shuffled gap (tv)": (v.get("shuffled_control") or {}).get("gap_tv"),
            "questions": v.get("n_questions"),
            "countries": v.get("n_countries"),
        }
        for c, v in found.items()
    ]
    return pd.DataFrame(rows).round(3)


def _pair(values) -> str:
    if not values or any(v is None for v in values):
        return ""
    return f"{values[0]:.3f} to {values[1]:.3f}"

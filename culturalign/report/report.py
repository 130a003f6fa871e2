"""A comparison's tables, figures and self-contained HTML report, rebuilt from its saved results alone.

``write_report(folder)`` reads ``distances.parquet`` (or ``.csv``), ``meta.json`` and ``experiment.yaml``
and never starts a model, so ``culturalign report results/NAME`` re-renders a finished study anywhere.

Compiled programs are judged on held-out countries only; every comparison between two conditions uses the
countries both were run on, and the held-out table puts every condition on those countries. Every table and
figure carries the model-free reference predictors and skill against the centroid (:mod:`culturalign.map.yardsticks`).
"""

from __future__ import annotations

import base64
import html
import io
import json
from inspect import signature
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import CulturalignError
from ..fileio import atomic_write, parse_yaml, read_json, read_table, read_text, shown
from ..map import cultmap, reference
from ..map.plot import model_free_marks
from ..map.yardsticks import REFERENCE_PREDICTORS, SHUFFLED_SUFFIX, skill, summarize_conditions, with_reference_rows
from .figures import BUILT_IN, FIGURES, ReportFigure, Study
from .first_screen import answer_html, key_text, short_names, verdict

BASELINES = ("no_persona", "engineered")


DISTANCE_KINDS = {
    "model": "text",
    "condition": "text",
    "kind": "text",
    "seed": "int",
    "country": "text",
    "region": "text",
    "held_out": "bool",
    "x": "number",
    "y": "number",
    "distance": "number",
}
ROW_KINDS = ("baseline", "program", "compile", "reference", "shuffled")


def load_distances(folder) -> pd.DataFrame:
    """A comparison's distances table (distances.parquet, else .csv), checked: its columns, one of ROW_KINDS per
    row and reference countries only."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CulturalignError(f"{folder} is not a results folder; run `culturalign compare EXPERIMENT.yaml` first")
    if not any((folder / f"distances{s}").exists() for s in (".parquet", ".csv")):
        raise CulturalignError(
            f"{folder} holds no comparison results (distances.parquet or distances.csv); "
            "run `culturalign compare EXPERIMENT.yaml` first"
        )
    table = read_table(folder, "distances", "results table", DISTANCE_KINDS)
    for col, allowed in (("kind", ROW_KINDS), ("country", reference.countries().country.tolist())):
        odd = sorted(set(table[col]) - set(allowed))
        if odd:
            raise CulturalignError(
                f"{folder}/distances: column {col} holds {shown(odd[0])}, which is not one of "
                f"{shown(list(allowed), 200)}"
            )
    if table.empty:
        raise CulturalignError(f"{folder}/distances holds no rows; nothing to report")
    return table


def _meta(folder: Path) -> tuple[dict, str, int]:
    """meta.json (what ran, on which models) and experiment.yaml (as written, and its split seed), checked."""
    meta = read_json(folder / "meta.json", "results meta") if (folder / "meta.json").exists() else {}
    where = folder / "meta.json"
    if not isinstance(meta, dict):
        raise CulturalignError(f"{where}: must be a JSON object, got {shown(meta)}")
    models = meta.get("models", {})
    if not isinstance(models, dict) or not all(isinstance(v, dict) for v in models.values()):
        raise CulturalignError(f"{where}: models: must map each model to an object, got {shown(models)}")
    for key, kind in (("name", str), ("versions", dict)):
        if key in meta and not isinstance(meta[key], kind):
            raise CulturalignError(
                f"{where}: {key}: must be {'text' if kind is str else 'an object'}, got {shown(meta[key])}"
            )
    config_file = folder / "experiment.yaml"
    config = read_text(config_file, "results experiment file") if config_file.exists() else ""
    raw = parse_yaml(config, str(config_file)) if config else {}
    split_seed = raw.get("split_seed", 0) if isinstance(raw, dict) else 0
    if isinstance(split_seed, bool) or not isinstance(split_seed, int) or not 0 <= split_seed < 2**32:
        raise CulturalignError(
            f"{config_file}: split_seed: must be a whole number from 0 to 2**32 - 1, got {shown(split_seed)}"
        )
    return meta, config, split_seed


def per_country(distances: pd.DataFrame) -> pd.DataFrame:
    """One row per model, condition and country: compiled conditions averaged over their seeds."""
    return (
        distances.groupby(["model", "condition", "kind", "country", "region", "held_out"], sort=False)[
            ["x", "y", "distance"]
        ]
        .mean()
        .reset_index()
    )


def condition_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per model and condition (:func:`yardsticks.summarize_conditions`): distances (mean, median, bootstrap
    CI), skill against the centroid (with CI, per axis), the share of countries closer than the centroid and
    than each baseline (on the countries both share), steerability, the lead over the shuffled control and the
    lead over the ``neighbours`` yardstick."""
    rows = []
    for model, sub in table.groupby("model", sort=False):
        kinds = sub.groupby("condition", sort=False).kind.first()
        for cond, st in summarize_conditions(sub).items():
            nan2 = [np.nan, np.nan]
            control = st.get("shuffled_control", {})
            row = {
                "model": model,
                "condition": cond,
                "kind": kinds[cond],
                "countries": st["countries"],
                "mean_distance": st["mean_distance"],
                "median_distance": st["median_distance"],
                "ci95_low": st["mean_distance_ci95"][0],
                "ci95_high": st["mean_distance_ci95"][1],
                "skill": st.get("skill", np.nan),
                "skill_ci95_low": st.get("skill_ci95", nan2)[0],
                "skill_ci95_high": st.get("skill_ci95", nan2)[1],
                "skill_x": st.get("skill_x", np.nan),
                "skill_y": st.get("skill_y", np.nan),
                "closer_than_centroid": st.get("closer_than_centroid", np.nan),
                "steerability_x": st["steerability"]["x"],
                "steerability_y": st["steerability"]["y"],
            }
            mine = sub[sub.condition == cond].set_index("country").distance
            for base in BASELINES:
                other = sub[sub.condition == base].set_index("country").distance
                shared = mine.index.intersection(other.index)
                row[f"improved_vs_{base}"] = (
                    cultmap.improved_share(other[shared], mine[shared]) if cond != base and len(shared) else np.nan
                )
            row.update(
                {
                    "shuffled_mean_distance": control.get("shuffled_mean_distance", np.nan),
                    "shuffled_skill": control.get("skill", np.nan),
                    "lead_over_shuffled": control.get("gap", np.nan),
                    "lead_ci95_low": control.get("gap_ci95", nan2)[0],
                    "lead_ci95_high": control.get("gap_ci95", nan2)[1],
                }
            )
            over = st.get("lead_over_neighbours", {})  # what the model adds to the retrieval alone
            row.update(
                {
                    "lead_over_neighbours": over.get("lead", np.nan),
                    "neighbours_lead_ci95_low": over.get("lead_ci95", nan2)[0],
                    "neighbours_lead_ci95_high": over.get("lead_ci95", nan2)[1],
                }
            )
            rows.append(row)
    return pd.DataFrame(rows)


def held_out_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Every condition on the held-out countries only (where compiled programs are judged)."""
    return condition_summary(table[table.held_out])


def region_table(table: pd.DataFrame) -> pd.DataFrame:
    """Mean distance per model, condition and cultural region, twice: over every country each condition
    ran on (scope "all run") and over the held-out countries that every condition shares ("held out")."""
    parts = [(scope, sub) for scope, sub in (("all run", table), ("held out", table[table.held_out])) if len(sub)]
    return pd.concat(
        [
            sub.groupby(["model", "condition", "region"], sort=False)
            .distance.agg(mean_distance="mean", countries="size")
            .reset_index()
            .assign(scope=scope)
            for scope, sub in parts
        ],
        ignore_index=True,
    )


def _comparable_regions(regions: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The scope to show: held-out countries when some condition only ran there, so cells compare alike."""
    run_on = regions[regions.scope == "all run"].groupby(["model", "condition"]).countries.sum()
    scope = "held out" if run_on.nunique() > 1 and (regions.scope == "held out").any() else "all run"
    return regions[regions.scope == scope], scope


def region_grid(regions: pd.DataFrame, names: dict[str, str] | None = None) -> pd.DataFrame:
    """The region table as one row per region and one column per model and condition (for reading)."""
    grid = regions.pivot_table(index="region", columns=["model", "condition"], values="mean_distance", sort=False)
    grid.columns = [f"{m} · {(names or {}).get(c, c)}" for m, c in grid.columns]
    return grid.reset_index()


def stability_table(distances: pd.DataFrame) -> pd.DataFrame:
    """Compiled conditions: the mean distance and skill of each optimizer seed, and their spread across seeds
    (mean, SD, min, max)."""
    compiled = distances[(distances.seed >= 0) & (distances.kind == "compile")]
    stats = ["mean_distance", "skill"]
    columns = ["model", "condition", "seed", *stats, "seeds"] + [
        f"{v}_{a}" for v in stats for a in ("mean", "sd", "min", "max")
    ]
    if compiled.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for (model, cond, seed), sub in compiled.groupby(["model", "condition", "seed"], sort=False):
        centroid = distances[
            (distances.model == model) & (distances.condition == "centroid") & distances.country.isin(sub.country)
        ]
        rows.append(
            {
                "model": model,
                "condition": cond,
                "seed": seed,
                "mean_distance": sub.distance.mean(),
                "skill": skill(sub, centroid)["skill"] if len(centroid) else np.nan,
            }
        )
    per_seed = pd.DataFrame(rows)
    spread = per_seed.groupby(["model", "condition"], sort=False)[stats].agg(["mean", "std", "min", "max"])
    spread.columns = [f"{v}_{a.replace('std', 'sd')}" for v, a in spread.columns]
    spread["seeds"] = per_seed.groupby(["model", "condition"], sort=False).size()
    return per_seed.merge(spread.reset_index(), on=["model", "condition"])[columns]


# ---------------------------------------------------------------------------------------------- figures


def map_layers(
    table: pd.DataFrame, model: str, names: dict[str, str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Points and arrows for one model on the held-out countries: no persona -> engineered -> each
    compiled condition (arrows from the engineered point when there is one, else from no persona)."""
    sub = table[(table.model == model) & table.held_out]
    code = reference.countries().set_index("country").iso3  # short labels keep 20+ targets legible
    pts, arrows = [], []
    start = {}
    for cond in BASELINES:
        rows = sub[sub.condition == cond]
        if cond == "no_persona" and len(rows):
            first = rows.iloc[0]  # no persona ignores the country: one point
            pts.append(
                pd.DataFrame(
                    {"name": [f"{model} (no persona)"], "x": [first.x], "y": [first.y], "group": ["no persona"]}
                )
            )
            start = {c: (first.x, first.y) for c in sub.country.unique()}
        elif len(rows):
            pts.append(pd.DataFrame({"name": rows.country.map(code), "x": rows.x, "y": rows.y, "group": "engineered"}))
            arrows += [
                {"x0": start[r.country][0], "y0": start[r.country][1], "x1": r.x, "y1": r.y, "group": "engineered"}
                for r in rows.itertuples()
                if r.country in start
            ]
            start = {r.country: (r.x, r.y) for r in rows.itertuples()}
    models_own = sub[~sub.kind.isin(["reference", "shuffled"])]
    for cond in [c for c in models_own.condition.unique() if c not in BASELINES]:
        rows = sub[sub.condition == cond]
        group = (names or {}).get(cond, cond)
        pts.append(pd.DataFrame({"name": rows.country.map(code), "x": rows.x, "y": rows.y, "group": group}))
        arrows += [
            {"x0": start[r.country][0], "y0": start[r.country][1], "x1": r.x, "y1": r.y, "group": group}
            for r in rows.itertuples()
            if r.country in start
        ]
    pts += model_free_marks(sub)
    points = pd.concat(pts, ignore_index=True) if pts else None
    return points, (pd.DataFrame(arrows) if arrows else None)


FONT = 9  # pt: the smallest text in a figure; at DPI the PNG shows 1 pt as 1 CSS pt at 100% zoom
DPI = 96
WIDTH = 12.0  # inches: 1152 px, inside the page's 1200 px column, so the browser never scales text down


def _subplots(*args, **kwargs):
    """A figure and its axes, drawn as :mod:`culturalign.map.plot` draws maps: a Figure on the Agg canvas, never
    pyplot (no GUI backend, no global figure registry); constrained layout keeps labels off each other."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=kwargs.pop("figsize", None), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(*args, **kwargs)


def _figure_html(figures: dict[str, bytes], name: str) -> str:
    """A built-in figure in its section ("" where a replacement drew nothing for this study)."""
    return _img(figures[name], FIGURES.get(name).alt) if name in figures else ""


def _png(fig, tight: bool = True) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight" if tight else None, facecolor="white")
    return buf.getvalue()


def _names(table: pd.DataFrame, names: dict[str, str] | None) -> dict[str, str]:
    return names if names is not None else short_names(table.condition)


def distance_fig(table: pd.DataFrame, names: dict[str, str] | None = None):
    names = _names(table, names)
    models = list(dict.fromkeys(table.model))
    rows = table.groupby("model").condition.nunique().max()
    fig, axes = _subplots(1, len(models), figsize=(WIDTH, 0.42 * rows + 1.6), squeeze=False, sharex=True)
    for ax, model in zip(axes[0], models):
        sub = table[table.model == model]
        conds = list(dict.fromkeys(sub.condition))
        counts = sub.condition.value_counts()  # baselines may cover more countries than compiled programs
        # matplotlib 3.10 renamed vert=False to orientation="horizontal"
        sideways = (
            {"orientation": "horizontal"} if "orientation" in signature(ax.boxplot).parameters else {"vert": False}
        )
        ax.boxplot([sub[sub.condition == c].distance for c in conds], showmeans=True, widths=0.6, **sideways)
        ax.set_yticks(range(1, len(conds) + 1), [f"{names.get(c, c)} (n={counts[c]})" for c in conds])
        ax.invert_yaxis()
        ax.set_title(model, fontsize=FONT + 2)
        ax.grid(axis="x", alpha=0.3)
        ax.set_xlabel("distance to the country's reference point")
        ax.tick_params(labelsize=FONT)
    fig.suptitle("Distance per country, by condition (box: quartiles; triangle: mean)", fontsize=FONT + 3)
    return fig


def region_fig(regions: pd.DataFrame, scope: str = "all run", names: dict[str, str] | None = None):
    names = _names(regions, names)
    regions = regions[~regions.condition.str.endswith(SHUFFLED_SUFFIX)]  # controls live in the tables
    models = list(dict.fromkeys(regions.model))
    n = regions.groupby("region").countries.agg(["min", "max"])  # small regions deserve a caveat
    order = list(dict.fromkeys(regions.region))
    ylabels = [
        f"{r} (n={n.at[r, 'min']})"
        if n.at[r, "min"] == n.at[r, "max"]
        else f"{r} (n={n.at[r, 'min']}-{n.at[r, 'max']})"
        for r in order
    ]
    grids = [
        regions[regions.model == m]
        .pivot_table(index="region", columns="condition", values="mean_distance", sort=False)
        .reindex(order)
        for m in models
    ]
    values = np.concatenate([g.to_numpy(float).ravel() for g in grids])
    lo, hi, mid = np.nanmin(values), np.nanmax(values), np.nanmean(values)
    fig, axes = _subplots(len(models), 1, figsize=(WIDTH, (0.42 * len(order) + 1.3) * len(models)), squeeze=False)
    for ax, model, grid in zip(axes[:, 0], models, grids):
        data = grid.to_numpy(float)
        im = ax.imshow(data, cmap="viridis_r", aspect="auto", vmin=lo, vmax=hi)
        ax.set_yticks(range(len(order)), ylabels, fontsize=FONT)
        ax.set_xticks(range(grid.shape[1]), [names.get(c, c) for c in grid.columns], fontsize=FONT)
        ax.xaxis.tick_top()
        for (i, j), v in np.ndenumerate(data):
            if not np.isnan(v):
                colour = "white" if v > mid else "black"
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=FONT + 1, color=colour)
        ax.set_title(model, fontsize=FONT + 2, loc="left")
        fig.colorbar(im, ax=ax, label="mean distance (lower is closer)", shrink=0.9)
    fig.suptitle(f"Mean distance by cultural region ({scope} countries)", fontsize=FONT + 3)
    return fig


def steering_fig(table: pd.DataFrame, names: dict[str, str] | None = None):
    names = _names(table, names)
    ref = reference.countries().set_index("country")
    models = list(dict.fromkeys(table.model))
    colour = {c: f"C{i % 10}" for i, c in enumerate(dict.fromkeys(table.condition))}  # one colour per condition
    fig, axes = _subplots(len(models), 2, figsize=(WIDTH, 4.4 * len(models)), squeeze=False)
    for row, model in zip(axes, models):
        sub = table[
            (table.model == model)
            & (table.condition != "no_persona")  # no persona: one point
            & (table.kind != "shuffled")
        ]
        for ax, axis in zip(row, ("x", "y")):
            for cond, rows in sub.groupby("condition", sort=False):
                r = cultmap.steerability(rows[["country", "x", "y"]])
                model_free = cond in REFERENCE_PREDICTORS  # hollow marks: what a lookup without a model gives
                ax.scatter(
                    ref.loc[rows.country, axis],
                    rows[axis],
                    s=22 if model_free else 16,
                    alpha=0.7,
                    color="none" if model_free else colour[cond],
                    edgecolors=colour[cond],
                    marker="s" if model_free else "o",
                    label=f"{names.get(cond, cond)} (n={len(rows)}; r x {r['x']:.2f}, y {r['y']:.2f})",
                )
            lims = [min(ax.get_xlim()[0], ax.get_ylim()[0]), max(ax.get_xlim()[1], ax.get_ylim()[1])]
            ax.plot(lims, lims, color="#999", lw=1, ls="--", zorder=0)  # perfect steering
            ax.set_xlabel(f"reference {axis} of the target country", fontsize=FONT)
            ax.set_ylabel(f"model's {axis} when asked as that country", fontsize=FONT)
            ax.set_title(
                f"{model}: {'survival/self-expression' if axis == 'x' else 'traditional/secular'} axis",
                fontsize=FONT + 1,
            )
            ax.tick_params(labelsize=FONT)
            ax.grid(alpha=0.3)
        # one legend per model, beside its panels: never on the data
        row[1].legend(fontsize=FONT, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    fig.suptitle("Does the prompt track the country? (dashed: perfect steering)", fontsize=FONT + 3)
    return fig


def skill_fig(summary: pd.DataFrame, names: dict[str, str] | None = None):
    names = _names(summary, names)
    models = list(dict.fromkeys(summary.model))
    rows = summary.groupby("model").size().max() + summary.groupby("model").shuffled_skill.count().max()
    fig, axes = _subplots(1, len(models), figsize=(WIDTH, 1.6 + 0.36 * rows), squeeze=False)
    for ax, model in zip(axes[0], models):
        bars = []  # (label, skill, low, high, colour)
        for r in summary[summary.model == model].itertuples():
            label = names.get(r.condition, r.condition)
            bars.append(
                (
                    f"{label} (model-free)" if r.kind == "reference" else label,
                    r.skill,
                    r.skill_ci95_low,
                    r.skill_ci95_high,
                    "#bbb" if r.kind == "reference" else "C0",
                )
            )
            if not np.isnan(r.shuffled_skill):
                bars.append((f"{label}:shuffled", r.shuffled_skill, np.nan, np.nan, "#d62728"))
        values = np.array([b[1] for b in bars], dtype=float)
        err = np.nan_to_num(
            np.array([values - [b[2] for b in bars], np.array([b[3] for b in bars]) - values], dtype=float).clip(min=0)
        )
        ax.barh(range(len(bars)), values, color=[b[4] for b in bars], xerr=err, capsize=3)
        ax.axvline(0, color="#333", lw=1)
        ax.set_yticks(range(len(bars)), [b[0] for b in bars], fontsize=FONT)
        ax.tick_params(labelsize=FONT)
        ax.invert_yaxis()  # first condition on top, its shuffled control right below it
        sub = summary[summary.model == model]
        ax.set_title(f"{model} (n={int(sub.countries.max())})", fontsize=FONT + 2)
        ax.grid(axis="x", alpha=0.3)
        ax.set_xlabel("skill = 1 − Σd² / Σd²(centroid)", fontsize=FONT)
    fig.suptitle(
        "Skill against the model-free centroid (0: no better than one constant point)\n"
        "grey: model-free; red: the condition above with shuffled countries",
        fontsize=FONT + 1,
    )
    return fig


# ---------------------------------------------------------------------------------------------- report


def _table_html(df: pd.DataFrame, names: dict[str, str] | None = None, keys: int = 2, per_part: int = 11) -> str:
    """A table that fits the page: long condition names abbreviated (full name in a tooltip) and a wide table
    cut into parts of at most ``per_part`` columns, each repeating the first ``keys`` columns."""
    shown = df.copy()
    if names and "condition" in shown:
        shown["condition"] = shown.condition.map(lambda c: names.get(c, c))
    shown = shown.rename(columns=lambda c: c.replace("_", " ").replace("improved vs", "improved over"))
    keys = min(keys, shown.shape[1])
    rest = list(shown.columns[keys:])
    parts = [rest[i : i + per_part] for i in range(0, len(rest), per_part)] or [[]]
    out = []
    for cols in parts:
        body = shown[[*shown.columns[:keys], *cols]].to_html(
            index=False, float_format=lambda v: f"{v:.3f}", na_rep="–", border=0, classes="t"
        )
        if names:  # the full name as a tooltip on each abbreviated cell
            for cond, short in names.items():
                if short != cond:
                    body = body.replace(f"<td>{short}</td>", f'<td title="{html.escape(cond)}">{short}</td>')
        out.append(body)
    return f"<div class=wide>{''.join(out)}</div>"


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _details(summary: str, *body: str) -> str:
    """A collapsed section: the full tables stay on the page without burying its first screen."""
    return f"<details><summary>{summary}</summary>{''.join(body)}</details>"


STYLE = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:1em auto;padding:0 1em;color:#222}
table.t{border-collapse:collapse;font-size:13px;margin:.5em 0 1.5em}table.t td,table.t th{padding:3px 6px;
border-bottom:1px solid #ddd;text-align:right;overflow-wrap:anywhere}table.t th{background:#f4f4f4;max-width:8em}
table.first td:first-child,table.first th:first-child{text-align:left}table.first tr.yard{color:#666;
font-style:italic;background:#fafafa}p.verdict{font-size:1.1em;margin:.3em 0 .6em}img{max-width:100%}
.wide{max-width:100%}pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:12px;white-space:pre-wrap}
h1{font-size:1.6em;margin:0 0 .3em}h2{margin-top:2em}h3{margin:1em 0 .2em;font-size:1.2em}.note{color:#555}
summary{cursor:pointer;font-weight:600;margin:.6em 0}"""


def _distribution_section(folder: Path) -> list[str]:
    """Per model: each condition's answer distributions against each society's (distribution_scores.csv, written
    with the comparison's tables), a table and the per-theme and per-question figures; nothing if absent."""
    from ..distribution.scores import summarize
    from .distribution_report import question_figure, read_cells, summary_table, theme_figure

    if not (folder / "distribution_scores.csv").is_file():
        return []
    cells = read_cells(folder, {"model": "text"})
    parts = [
        "<h2>Answer distributions per question, against each society's</h2>",
        "<p class=note>tv: total variation between the condition's answer distribution and the society's "
        "published one (lower is closer); skill_tv = 1 − tv / tv(marginal): 0 is no better than the "
        "population marginal (the mean distribution of the societies the predictor may know).</p>",
    ]
    for model, sub in cells.groupby("model", sort=False):
        figures = {"theme": theme_figure(sub), "question": question_figure(sub)}
        for name, png in figures.items():
            atomic_write(folder / "figures" / f"distribution_{name}_{model}.png", png)
        parts += [
            f"<h3>{html.escape(model)}</h3>",
            _table_html(summary_table(summarize(sub))),
            _img(figures["theme"], "mean tv by theme"),
            _img(figures["question"], "tv per question"),
        ]
    return parts


def _caption(names: dict[str, str]) -> str:
    key = key_text(names)
    return f"<p class=note>Key: {html.escape(key)}</p>" if key else ""


def _first_screen(judged: pd.DataFrame, names: dict[str, str], scope: str) -> list[str]:
    """Per model: the verdict in words, then its conditions sorted by skill with the yardsticks marked."""
    parts = [
        f"<p class=note>Which condition is closest to the countries ({scope} countries), does it beat the "
        "model-free yardsticks, and does it carry country information (its lead over the same prompt asked "
        "about shuffled countries)? Skill = 1 − Σd²/Σd²(centroid): 0 is the centroid, above 0 is closer. "
        "Brackets: 95% bootstrap intervals; numbers rounded to what they support.</p>"
    ]
    for model, sub in judged.groupby("model", sort=False):
        parts += [
            f"<h3>{html.escape(model)}</h3>",
            f"<p class=verdict>{verdict(sub, names)}</p>",
            answer_html(sub, names),
        ]
    return parts + [_caption(names)]


def write_report(folder) -> Path:
    """Write the summary tables (CSV), figures (PNG) and ``report.html`` into ``folder``; no model needed."""
    from ..map.plot import map_figure

    folder = Path(folder)
    distances = load_distances(folder)
    meta, config, split_seed = _meta(folder)
    distances = with_reference_rows(distances, split_seed)  # results written before they existed
    table = per_country(distances)
    tables = {
        "summary": condition_summary(table),
        "held_out": held_out_summary(table),
        "by_region": region_table(table),
        "stability": stability_table(distances),
    }
    for name, df in tables.items():
        atomic_write(folder / f"{name}.csv", df.to_csv(index=False))
    regions, scope = _comparable_regions(tables["by_region"])
    skill_scope = "held-out" if len(tables["held_out"]) else "all run"  # a study may hold no test country
    names = short_names(table.condition)  # one key for every table and figure of the study
    study = Study(table, tables["held_out"], tables["summary"], regions, scope, names)
    figures = {}
    for name in FIGURES.names():  # the built-in ones, then any an extension registered
        fig = FIGURES.get(name).draw(study)
        if fig is not None:
            figures[name] = _png(fig)
    for model in dict.fromkeys(table.model):
        points, arrows = map_layers(table, model, names)
        if points is not None:
            targets = sorted(set(table[table.held_out].country))
            fig = map_figure(
                points,
                arrows,
                highlight=targets,
                label=targets,  # only what the map is about: the other countries stay unlabelled dots
                title=f"{model}: held-out countries, no persona → engineered → compiled",
                figsize=(WIDTH, 8.5),
            )
            figures[f"map_{model}"] = _png(fig, tight=False)  # the map lays out its own margins and legends
    for name, png in figures.items():
        atomic_write(folder / "figures" / f"{name}.png", png)
    models = meta.get("models", {})
    usage = {m: v.get("usage") if isinstance(v.get("usage"), dict) else {} for m, v in models.items()}
    digest_rows = pd.DataFrame(
        [
            {
                "model": m,
                "identity": v.get("identity"),
                "endpoint": v.get("endpoint"),
                "model calls": usage[m].get("calls", np.nan),
            }
            for m, v in models.items()
        ]
    )
    judged = tables["held_out"] if len(tables["held_out"]) else tables["summary"]
    parts = [
        f"<h1>{html.escape(meta.get('name', folder.name))}: cultural alignment comparison</h1>",
        *_first_screen(judged, names, skill_scope),
        f"<h2>Skill against the centroid ({skill_scope} countries)</h2>",
        _figure_html(figures, "skill"),
        _caption(names),
        _details(
            "How to read these numbers",
            f"<p class=note>{distances.country.nunique()} countries, {distances.model.nunique()} model(s), "
            f"{distances.condition.nunique()} condition(s); mode {html.escape(str(meta.get('mode', '?')))}. "
            "Distance is to the country's reference point on the Inglehart–Welzel map (lower is closer). "
            "Every condition stands beside two model-free yardsticks: <b>centroid</b>, the mean reference point "
            "of the countries it may know (the training split for held-out countries, every other country "
            "otherwise), and <b>region_centroid</b>, the same within the target's cultural region — a lookup "
            "that knows the region. <b>Skill</b> = 1 − Σd²/Σd²(centroid) over the same countries: 0 is no better "
            "than one constant point for every country, below 0 is worse. A <b>:shuffled</b> condition asks "
            "the same prompt about other countries (a seeded derangement) and is scored against the true ones; "
            "the lead over it (with its 95% interval) says whether the condition carries country information "
            "at all. Steerability is the correlation across countries between the model's points and the "
            "reference points: a prompt that moves every country the same way scores near zero however many "
            "countries it 'improves'. Compiled programs are scored on held-out countries only.</p>",
        ),
        _details(
            "Held-out countries: the full table (every condition on the same countries)",
            _table_html(tables["held_out"], names),
        ),
        _details("All countries run: the full table, per model and condition", _table_html(tables["summary"], names)),
        "<h2>Distance distributions</h2>",
        _figure_html(figures, "distances"),
        _caption(names),
        "<h2>Steering: does each country's point follow its reference point?</h2>",
        _figure_html(figures, "steering"),
        _caption(names),
        f"<h2>By cultural region ({scope} countries)</h2>",
        _figure_html(figures, "regions"),
        _caption(names),
        _details(
            "Table: mean distance by region",
            _table_html(region_grid(regions, names), keys=1, per_part=8),
            "<p class=note>by_region.csv holds both scopes: every country run, and the held-out countries.</p>",
        ),
    ]
    for name, png in figures.items():
        if name.startswith("map_"):
            parts += [f"<h2>Cultural map: {html.escape(name[4:])}</h2>", _img(png, name), _caption(names)]
    extra = [n for n in figures if n not in BUILT_IN and n in FIGURES]
    if extra:
        parts += ["<h2>More figures</h2>"]
        for name in extra:
            entry = FIGURES.get(name)
            parts += [f"<h3>{html.escape(entry.title)}</h3>", _img(figures[name], entry.alt or entry.title)]
    if len(tables["stability"]):
        parts += [_details("Stability across optimizer seeds", _table_html(tables["stability"], names))]
    parts += _distribution_section(folder)
    parts += [
        "<h2>Models</h2>",
        _table_html(digest_rows, keys=1) if len(digest_rows) else "<p>–</p>",
        _details("Configuration", f"<pre>{html.escape(config)}</pre>"),
        _details("Versions", f"<pre>{html.escape(json.dumps(meta.get('versions', {}), indent=2))}</pre>"),
        f"<p class=note>Run time {meta.get('wall_seconds', '?')} s (cells run in this folder, all sessions). "
        "Tables: distances.csv / answers.csv (and .parquet), summary.csv, held_out.csv, by_region.csv, "
        "stability.csv.</p>",
    ]
    page = (
        f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(meta.get('name', ''))}</title>"
        f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>"
    )
    return atomic_write(folder / "report.html", page)


SKILL_FIGURE = ReportFigure("Skill against the centroid", lambda s: skill_fig(s.judged, s.names), "skill bar chart")
DISTANCES_FIGURE = ReportFigure(
    "Distance distributions", lambda s: distance_fig(s.table, s.names), "distance distributions"
)
STEERING_FIGURE = ReportFigure(
    "Steering", lambda s: steering_fig(s.table, s.names), "model point against reference point, per axis"
)
REGIONS_FIGURE = ReportFigure(
    "By cultural region", lambda s: region_fig(s.regions, s.region_scope, s.names), "region heat map"
)

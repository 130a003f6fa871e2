"""A comparison's tables, figures and self-contained HTML report, rebuilt from its saved results alone.

``write_report(folder)`` reads ``distances.parquet`` (or ``.csv``), ``meta.json`` and ``experiment.yaml``
and never starts a model, so ``culturalign report results/NAME`` re-renders a finished study anywhere.

Compiled programs are judged on held-out countries only; every comparison between two conditions uses the
countries both were run on, and the held-out table puts every condition on those countries.
"""
from __future__ import annotations

import base64
import html
import io
import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from . import cultmap, reference
from .errors import CulturalignError
from .fileio import atomic_write

BASELINES = ("no_persona", "engineered")


def load_distances(folder) -> pd.DataFrame:
    folder = Path(folder)
    for name, reader in (("distances.parquet", pd.read_parquet), ("distances.csv", pd.read_csv)):
        if (folder / name).is_file():
            return reader(folder / name)
    raise CulturalignError(f"{folder} holds no comparison results (distances.parquet or distances.csv); "
                           "run `culturalign compare EXPERIMENT.yaml` first")


def per_country(distances: pd.DataFrame) -> pd.DataFrame:
    """One row per model, condition and country: compiled conditions averaged over their seeds."""
    return (distances.groupby(["model", "condition", "country", "region", "held_out"], sort=False)
            [["x", "y", "distance"]].mean().reset_index())


def _num(v):
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else v


def condition_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per model and condition: distances (mean, median, bootstrap CI), share of countries improved over
    each baseline (on the countries both share), and steerability."""
    rows = []
    for (model, cond), sub in table.groupby(["model", "condition"], sort=False):
        low, high = cultmap.mean_interval(sub.distance)
        steer = cultmap.steerability(sub[["country", "x", "y"]])
        row = {"model": model, "condition": cond, "countries": len(sub), "mean_distance": sub.distance.mean(),
               "median_distance": sub.distance.median(), "ci95_low": low, "ci95_high": high,
               "steerability_x": steer["x"], "steerability_y": steer["y"]}
        mine = sub.set_index("country").distance
        for base in BASELINES:
            other = table[(table.model == model) & (table.condition == base)].set_index("country").distance
            shared = mine.index.intersection(other.index)
            row[f"improved_vs_{base}"] = (cultmap.improved_share(other[shared], mine[shared])
                                          if cond != base and len(shared) else np.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def held_out_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Every condition on the held-out countries only (where compiled programs are judged)."""
    return condition_summary(table[table.held_out])


def region_table(table: pd.DataFrame) -> pd.DataFrame:
    """Mean distance per model, condition and cultural region, twice: over every country each condition
    ran on (scope "all run") and over the held-out countries that every condition shares ("held out")."""
    parts = [(scope, sub) for scope, sub in (("all run", table), ("held out", table[table.held_out])) if len(sub)]
    return pd.concat([sub.groupby(["model", "condition", "region"], sort=False).distance
                      .agg(mean_distance="mean", countries="size").reset_index().assign(scope=scope)
                      for scope, sub in parts], ignore_index=True)


def _comparable_regions(regions: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The scope to show: held-out countries when some condition only ran there, so cells compare alike."""
    run_on = regions[regions.scope == "all run"].groupby(["model", "condition"]).countries.sum()
    scope = "held out" if run_on.nunique() > 1 and (regions.scope == "held out").any() else "all run"
    return regions[regions.scope == scope], scope


def region_grid(regions: pd.DataFrame) -> pd.DataFrame:
    """The region table as one row per region and one column per model and condition (for reading)."""
    grid = regions.pivot_table(index="region", columns=["model", "condition"], values="mean_distance", sort=False)
    grid.columns = [f"{m} · {c}" for m, c in grid.columns]
    return grid.reset_index()


def stability_table(distances: pd.DataFrame) -> pd.DataFrame:
    """Compiled conditions: the mean distance of each optimizer seed, and the spread across seeds."""
    compiled = distances[distances.seed >= 0]
    if compiled.empty:
        return pd.DataFrame(columns=["model", "condition", "seed", "mean_distance", "seeds", "sd_across_seeds"])
    per_seed = compiled.groupby(["model", "condition", "seed"], sort=False).distance.mean().rename("mean_distance")
    per_seed = per_seed.reset_index()
    spread = per_seed.groupby(["model", "condition"]).mean_distance.agg(seeds="size", sd_across_seeds="std")
    return per_seed.merge(spread.reset_index(), on=["model", "condition"])


# ---------------------------------------------------------------------------------------------- figures

def map_layers(table: pd.DataFrame, model: str) -> tuple[pd.DataFrame, pd.DataFrame]:
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
            pts.append(pd.DataFrame({"name": [f"{model} (no persona)"], "x": [first.x], "y": [first.y],
                                     "group": ["no persona"]}))
            start = {c: (first.x, first.y) for c in sub.country.unique()}
        elif len(rows):
            pts.append(pd.DataFrame({"name": rows.country.map(code), "x": rows.x, "y": rows.y,
                                     "group": "engineered"}))
            arrows += [{"x0": start[r.country][0], "y0": start[r.country][1], "x1": r.x, "y1": r.y,
                        "group": "engineered"} for r in rows.itertuples() if r.country in start]
            start = {r.country: (r.x, r.y) for r in rows.itertuples()}
    for cond in [c for c in sub.condition.unique() if c not in BASELINES]:
        rows = sub[sub.condition == cond]
        pts.append(pd.DataFrame({"name": rows.country.map(code), "x": rows.x, "y": rows.y, "group": cond}))
        arrows += [{"x0": start[r.country][0], "y0": start[r.country][1], "x1": r.x, "y1": r.y, "group": cond}
                   for r in rows.itertuples() if r.country in start]
    points = pd.concat(pts, ignore_index=True) if pts else None
    return points, (pd.DataFrame(arrows) if arrows else None)


def _pyplot():
    """pyplot on the Agg backend (no window can open), imported only when a figure is drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig, tight: bool = True) -> bytes:
    plt = _pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight" if tight else None, facecolor="white")
    plt.close(fig)
    return buf.getvalue()


def distance_figure(table: pd.DataFrame) -> bytes:
    """Distance distributions per condition, one panel per model."""
    plt = _pyplot()
    models = list(dict.fromkeys(table.model))
    panel = max(4.5, 1.7 * table.groupby("model").condition.nunique().max())  # room for wrapped labels
    fig, axes = plt.subplots(1, len(models), figsize=(panel * len(models) + 1, 4.2), squeeze=False, sharey=True)
    for ax, model in zip(axes[0], models):
        sub = table[table.model == model]
        conds = list(dict.fromkeys(sub.condition))
        ax.boxplot([sub[sub.condition == c].distance for c in conds], showmeans=True)
        counts = sub.condition.value_counts()  # baselines may cover more countries than compiled programs
        ax.set_xticks(range(1, len(conds) + 1), [textwrap.fill(c.replace(":", ": "), 22) + f"\n(n={counts[c]})"
                                                 for c in conds], fontsize=8)
        ax.set_title(model, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("distance to the country's reference point (map units)")
    fig.suptitle("Distance per country, by condition (box: quartiles; triangle: mean)", fontsize=11)
    return _png(fig)


def region_figure(regions: pd.DataFrame, scope: str = "all run") -> bytes:
    """Region x (model, condition) heat map of mean distance."""
    plt = _pyplot()
    grid = region_grid(regions).set_index("region")
    fig, ax = plt.subplots(figsize=(1.3 * grid.shape[1] + 3.5, 0.45 * grid.shape[0] + 2.2))
    im = ax.imshow(grid.to_numpy(float), cmap="viridis_r", aspect="auto")
    n = regions.groupby("region").countries.agg(["min", "max"])  # small regions deserve a caveat
    ax.set_yticks(range(grid.shape[0]), [f"{r} (n={n.at[r, 'min']})" if n.at[r, "min"] == n.at[r, "max"]
                                         else f"{r} (n={n.at[r, 'min']}-{n.at[r, 'max']})" for r in grid.index],
                  fontsize=8)
    # "model · condition", wrapped: program names are long
    ticks = ["\n".join(textwrap.fill(part, 24) for part in c.split(" · ")) for c in grid.columns]
    ax.set_xticks(range(grid.shape[1]), ticks, fontsize=7, rotation=30, ha="right")
    for (i, j), v in np.ndenumerate(grid.to_numpy(float)):
        if not np.isnan(v):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if v > np.nanmean(grid.to_numpy(float)) else "black")
    fig.colorbar(im, ax=ax, label="mean distance (lower is closer)")
    ax.set_title(f"Mean distance by cultural region ({scope} countries)", fontsize=11)
    return _png(fig)


def steering_figure(table: pd.DataFrame) -> bytes:
    """Per model and map axis: each country's point under each condition against its reference point.
    A prompt that steers puts the points on the diagonal; one that shifts every country alike draws a flat line."""
    plt = _pyplot()
    ref = reference.countries().set_index("country")
    models = list(dict.fromkeys(table.model))
    colour = {c: f"C{i}" for i, c in enumerate(dict.fromkeys(table.condition))}  # one colour per condition
    fig, axes = plt.subplots(len(models), 2, figsize=(11, 4.6 * len(models)), squeeze=False)
    fig.subplots_adjust(hspace=0.35)
    for row, model in zip(axes, models):
        sub = table[(table.model == model) & (table.condition != "no_persona")]  # no persona: one point
        for ax, axis in zip(row, ("x", "y")):
            for cond, rows in sub.groupby("condition", sort=False):
                r = cultmap.steerability(rows[["country", "x", "y"]])[axis]
                ax.scatter(ref.loc[rows.country, axis], rows[axis], s=14, alpha=0.7, color=colour[cond],
                           label=f"{textwrap.fill(cond, 30)} (n={len(rows)}, r={r:.2f})")
            lims = [min(ax.get_xlim()[0], ax.get_ylim()[0]), max(ax.get_xlim()[1], ax.get_ylim()[1])]
            ax.plot(lims, lims, color="#999", lw=1, ls="--", zorder=0)  # perfect steering
            ax.set_xlabel(f"reference {axis} of the target country")
            ax.set_ylabel(f"model's {axis} when asked as that country")
            ax.set_title(f"{model}: {'survival/self-expression' if axis == 'x' else 'traditional/secular'} axis",
                         fontsize=10)
            ax.legend(fontsize=7, loc="best")
            ax.grid(alpha=0.3)
    fig.suptitle("Does the prompt track the country? (dashed: perfect steering)", fontsize=11)
    return _png(fig)


# ---------------------------------------------------------------------------------------------- report

def _table_html(df: pd.DataFrame) -> str:
    shown = df.rename(columns=lambda c: c.replace("_", " ").replace("improved vs", "improved over"))
    body = shown.to_html(index=False, float_format=lambda v: f"{v:.3f}", na_rep="–", border=0, classes="t")
    return f'<div class=wide>{body}</div>'  # wide tables scroll instead of running off the page


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


STYLE = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table.t{border-collapse:collapse;font-size:13px;margin:.5em 0 1.5em}table.t td,table.t th{padding:3px 8px;
border-bottom:1px solid #ddd;text-align:right}table.t th{background:#f4f4f4}img{max-width:100%}
.wide{overflow-x:auto}pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:12px}h2{margin-top:2em}.note{color:#555}"""


def write_report(folder) -> Path:
    """Write the summary tables (CSV), figures (PNG) and ``report.html`` into ``folder``; no model needed."""
    from .plot import map_figure

    folder = Path(folder)
    distances = load_distances(folder)
    meta = json.loads((folder / "meta.json").read_text()) if (folder / "meta.json").is_file() else {}
    config = (folder / "experiment.yaml").read_text() if (folder / "experiment.yaml").is_file() else ""
    table = per_country(distances)
    tables = {"summary": condition_summary(table), "held_out": held_out_summary(table),
              "by_region": region_table(table), "stability": stability_table(distances)}
    for name, df in tables.items():
        atomic_write(folder / f"{name}.csv", df.to_csv(index=False))
    regions, scope = _comparable_regions(tables["by_region"])
    figures = {"distances": distance_figure(table), "regions": region_figure(regions, scope),
               "steering": steering_figure(table)}
    for model in dict.fromkeys(table.model):
        points, arrows = map_layers(table, model)
        if points is not None:
            fig = map_figure(points, arrows, highlight=sorted(set(table[table.held_out].country)),
                             title=f"{model}: held-out countries, no persona → engineered → compiled")
            figures[f"map_{model}"] = _png(fig, tight=False)  # the map lays out its own margins and legends
    for name, png in figures.items():
        atomic_write(folder / "figures" / f"{name}.png", png)
    models = meta.get("models", {})
    digest_rows = pd.DataFrame([{"model": m, "identity": v.get("identity"), "endpoint": v.get("endpoint"),
                                 "model calls": v.get("usage", {}).get("calls", np.nan)} for m, v in models.items()])
    parts = [f"<h1>{html.escape(meta.get('name', folder.name))}: cultural alignment comparison</h1>",
             f"<p class=note>{distances.country.nunique()} countries, {distances.model.nunique()} model(s), "
             f"{distances.condition.nunique()} condition(s); mode {html.escape(str(meta.get('mode', '?')))}. "
             "Distance is to the country's reference point on the Inglehart–Welzel map (lower is closer). "
             "Steerability is the correlation across countries between the model's points and the reference "
             "points: a prompt that moves every country the same way scores near zero however many countries "
             "it 'improves'. Compiled programs are scored on held-out countries only.</p>",
             "<h2>All countries run, per model and condition</h2>", _table_html(tables["summary"]),
             "<h2>Held-out countries (every condition on the same countries)</h2>", _table_html(tables["held_out"]),
             "<h2>Distance distributions</h2>", _img(figures["distances"], "distance distributions"),
             "<h2>Steering: does each country's point follow its reference point?</h2>",
             _img(figures["steering"], "model point against reference point, per axis"),
             f"<h2>By cultural region ({scope} countries)</h2>", _img(figures["regions"], "region heat map"),
             _table_html(region_grid(regions)),
             "<p class=note>by_region.csv holds both scopes: every country run, and the held-out countries.</p>"]
    for name, png in figures.items():
        if name.startswith("map_"):
            parts += [f"<h2>Cultural map: {html.escape(name[4:])}</h2>", _img(png, name)]
    if len(tables["stability"]):
        parts += ["<h2>Stability across optimizer seeds</h2>", _table_html(tables["stability"])]
    parts += ["<h2>Models</h2>", _table_html(digest_rows) if len(digest_rows) else "<p>–</p>",
              "<h2>Configuration</h2>", f"<pre>{html.escape(config)}</pre>",
              "<h2>Versions</h2>", f"<pre>{html.escape(json.dumps(meta.get('versions', {}), indent=2))}</pre>",
              f"<p class=note>Run time {meta.get('wall_seconds', '?')} s (cells run in this folder, all sessions). "
              "Tables: distances.csv / answers.csv (and .parquet), summary.csv, held_out.csv, by_region.csv, "
              "stability.csv.</p>"]
    page = (f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(meta.get('name', ''))}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>")
    return atomic_write(folder / "report.html", page)

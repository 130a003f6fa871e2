"""Inglehart–Welzel cultural maps: a static matplotlib figure and a self-contained interactive HTML page.

:func:`map_figure` draws the 107 reference societies coloured by cultural region, plus optional extra
points (e.g. a model's position) and arrows (e.g. unprompted -> prompted for a country).
:func:`save_map` writes the map as ``.png``, ``.svg`` or ``.html``.
"""

from __future__ import annotations

import html
import io
import json
import re
import textwrap
from importlib import resources
from functools import lru_cache
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import yaml

# Figure + the Agg canvas directly, never pyplot: no GUI backend is ever chosen, no window can open, and
# no global figure registry keeps maps alive after the caller drops them.
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.legend_handler import HandlerPatch
from matplotlib.patches import FancyArrow
from matplotlib import patheffects

from ..errors import CulturalignError
from ..fileio import atomic_write
from . import reference

DEFAULT_TITLE = "Inglehart–Welzel cultural map"
SUFFIXES = (".png", ".svg", ".html")

# Paul Tol's "muted" scheme (minus its olive): distinguishable under the common colour-vision deficiencies
# and dark enough to read on white. Fixed per region so every map uses the same colours.
REGION_COLOURS = dict(
    zip(
        reference.REGIONS,
        (
            "#CC6677",  # African-Islamic: rose
            "#332288",  # Catholic Europe: indigo
            "#DDCC77",  # Confucian: sand
            "#117733",  # English-Speaking: green
            "#88CCEE",  # Latin America: cyan
            "#882255",  # Orthodox Europe: wine
            "#44AA99",  # Protestant Europe: teal
            "#AA4499",  # West & South Asia: purple
        ),
    )
)

# Extra-point groups: the marker shape carries the distinction (colour alone would clash with regions);
# colours are dark so points and arrows stand out against the region dots.
GROUP_MARKERS = ("*", "D", "P", "X", "^", "s", "v", "h")
GROUP_COLOURS = ("#000000", "#E66100", "#1A5FB4", "#5D3A9B", "#26A269", "#A51D2D", "#63452C", "#555555")
_MARKER_SIZE = {"*": 260, "P": 150, "X": 150}  # scatter sizes (pt^2); stars need more area to look as big
_SVG_SHAPES = {
    "*": "star",
    "D": "diamond",
    "P": "plus",
    "X": "cross",
    "^": "triangle",
    "s": "square",
    "v": "tdown",
    "h": "hexagon",
}

FIGSIZE = (14.0, 10.0)  # inches; at 150 dpi the 7.5-pt country labels stay legible
AXES_RECT = (0.055, 0.065, 0.765, 0.885)  # left, bottom, width, height; the legends live in the right margin
PNG_DPI = 150
LEGEND_WIDTH = 26  # characters per line of a legend entry in the right margin
COUNTRY_FONT, POINT_FONT = 7.5, 9.5  # points
LABEL_FONT = 9  # points: a report map, shown at its own size, labels only its targets
DOT_SIZE = 30  # pt^2
RING_SIZE = 190  # pt^2, the highlight ring around a country dot
HALO = 2.2  # pt, white outline behind labels


REFERENCE_LABELS = {
    "centroid": "centroid (model-free)",
    "region_centroid": "region lookup (model-free)",
    "neighbours": "retrieved neighbours (model-free)",
}


def model_free_marks(table: pd.DataFrame) -> list[pd.DataFrame]:
    """Map layers for the reference predictors in ``table`` (condition, country, x, y): their distinct points,
    grouped by what they know. A point shared by one region's targets is named after the region, one point
    for every target "centroid", any other after its target's ISO code."""
    ref = reference.countries().set_index("country")
    marks = []
    for cond, label in REFERENCE_LABELS.items():
        rows = table[table.condition == cond].assign(
            region=lambda d: d.country.map(ref.region), iso3=lambda d: d.country.map(ref.iso3)
        )
        distinct = rows.round({"x": 9, "y": 9}).drop_duplicates(["x", "y"])
        if distinct.empty:
            continue
        if len(distinct) == 1 and rows.country.nunique() > 1:
            names = [cond.replace("_", " ")]
        elif len(distinct) < len(rows) and distinct.region.is_unique:
            names = distinct.region.tolist()
        else:
            names = distinct.iso3.tolist()
        marks.append(pd.DataFrame({"name": names, "x": distinct.x.values, "y": distinct.y.values, "group": label}))
    return marks


# ---------------------------------------------------------------------------------------------- inputs


@lru_cache(maxsize=None)
def axis_labels() -> tuple[str, str]:
    """The x and y axis labels of the frozen projection."""
    spec = yaml.safe_load(reference.data_file("projection_ivs_2005_2022.yaml").read_text())
    return spec["axes"]["x"]["label"], spec["axes"]["y"]["label"]


def _table(data, required: tuple[str, ...], what: str) -> pd.DataFrame | None:
    """Validated copy of ``points``/``arrows`` with float coordinates and a string ``group`` column."""
    if data is None:
        return None
    try:
        df = data.copy() if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    except (TypeError, ValueError) as exc:
        raise CulturalignError(
            f"{what} must be a DataFrame with columns {', '.join(required)} "
            f"(optional: group); got {type(data).__name__}"
        ) from exc
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise CulturalignError(
            f"{what} need columns {', '.join(required)} (optional: group); missing {', '.join(missing)}"
        )
    coords = [c for c in required if c != "name"]
    for c in coords:
        df[c] = pd.to_numeric(df[c], errors="coerce")
    bad = ~np.isfinite(df[coords].to_numpy(dtype=float)).all(axis=1)
    if bad.any():
        rows = ", ".join(str(i) for i in df.index[bad][:5])
        raise CulturalignError(f"{what} need finite numbers in {', '.join(coords)}; bad row(s): {rows}")
    return df.reset_index(drop=True)


def _points_table(points) -> pd.DataFrame | None:
    df = _table(points, ("name", "x", "y"), "points")
    if df is None:
        return None
    df["name"] = df["name"].astype(str)
    if "group" not in df.columns:
        # A handful of ungrouped points (the usual "model (no persona)") each get their own legend
        # entry; many ungrouped points share one entry rather than flooding the legend.
        df["group"] = df["name"] if len(df) <= len(GROUP_MARKERS) else "points"
    df["group"] = df["group"].where(df["group"].notna(), df["name"]).astype(str)
    return df


def _arrows_table(arrows) -> pd.DataFrame | None:
    df = _table(arrows, ("x0", "y0", "x1", "y1"), "arrows")
    if df is None:
        return None
    if "group" not in df.columns:
        df["group"] = "arrows"
    df["group"] = df["group"].fillna("arrows").astype(str)
    return df


def _highlighted(highlight) -> set[str]:
    if highlight is None:
        return set()
    if isinstance(highlight, str):
        highlight = [highlight]
    return {reference.resolve_country(name) for name in highlight}  # accepts aliases / ISO codes


def _group_styles(points, arrows) -> dict[str, tuple[str, str]]:
    """group -> (marker, colour), in order of first appearance; shared by points and arrows of one group."""
    groups: list[str] = []
    for df in (points, arrows):
        if df is not None:
            groups += [g for g in dict.fromkeys(df["group"]) if g not in groups]
    return {
        g: (GROUP_MARKERS[i % len(GROUP_MARKERS)], GROUP_COLOURS[i % len(GROUP_COLOURS)]) for i, g in enumerate(groups)
    }


def _extent(countries, points, arrows) -> tuple[float, float, float, float]:
    xs, ys = [countries["x"]], [countries["y"]]
    if points is not None:
        xs.append(points["x"]), ys.append(points["y"])
    if arrows is not None:
        xs += [arrows["x0"], arrows["x1"]]
        ys += [arrows["y0"], arrows["y1"]]
    x, y = pd.concat(xs), pd.concat(ys)
    return float(x.min()), float(x.max()), float(y.min()), float(y.max())


def _limits(extent, box_w: float, box_h: float, stretch: float = 1.15):
    """Limits covering ``extent`` with a margin (labels run past the dots) at nearly one scale on both axes.

    Distances on the map are Euclidean, so the axes should share a scale; letting them differ by up to
    ``stretch`` fills the figure instead of leaving empty bands above and below.
    """
    x0, x1, y0, y1 = extent
    pad = 0.05 * max(x1 - x0, y1 - y0) + 0.12
    x0, x1, y0, y1 = x0 - pad, x1 + pad, y0 - pad, y1 + pad
    need_x, need_y = (x1 - x0) / box_w, (y1 - y0) / box_h  # map units per inch each axis needs
    per_x, per_y = max(need_x, need_y / stretch), max(need_y, need_x / stretch)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return (cx - per_x * box_w / 2, cx + per_x * box_w / 2), (cy - per_y * box_h / 2, cy + per_y * box_h / 2)


# ------------------------------------------------------------------------------------ label placement

# Candidate label positions around a dot, in order of preference: (dx, dy) in units of the gap, ha, va.
# The second ring sits further out and gets a thin leader line, for crowded spots only.
_NEAR = [
    (1, 0, "left", "center"),
    (-1, 0, "right", "center"),
    (0.75, 0.75, "left", "bottom"),
    (0.75, -0.75, "left", "top"),
    (-0.75, 0.75, "right", "bottom"),
    (-0.75, -0.75, "right", "top"),
    (0, 1, "center", "bottom"),
    (0, -1, "center", "top"),
]
_CANDIDATES = [(dx, dy, ha, va, False) for dx, dy, ha, va in _NEAR] + [
    (2.6 * dx, 2.6 * dy, ha, va, True) for dx, dy, ha, va in _NEAR
]


def _overlap(box, boxes: np.ndarray) -> float:
    """Total overlap area of ``box`` (x0, y0, x1, y1) with each row of ``boxes``."""
    if len(boxes) == 0:
        return 0.0
    w = np.minimum(boxes[:, 2], box[2]) - np.maximum(boxes[:, 0], box[0])
    h = np.minimum(boxes[:, 3], box[3]) - np.maximum(boxes[:, 1], box[1])
    return float((np.clip(w, 0, None) * np.clip(h, 0, None)).sum())


def _place_labels(fig, ax, labels: list[dict], obstacles: np.ndarray, halo: bool) -> None:
    """Greedy deterministic placement: each label takes the candidate position that overlaps least with
    the labels already placed, every other marker, and the axes edge. Well under a second for 107 labels
    and no extra dependency; crowded labels go first so they get the good spots.

    ``labels``: dicts with x, y, text, size, weight, gap (pt) and ``own``, the row of its own marker in
    ``obstacles`` (marker boxes in pixels), which it may touch; an ``optional`` label that would overlap one
    already placed is left out, so no two names ever overlap.
    """
    renderer = fig.canvas.get_renderer()
    px_per_pt = fig.dpi / 72.0
    # Covering another marker is worse than touching a label (the text would read as that marker's
    # name), so markers weigh more and are padded a little.
    obstacles = obstacles + np.array([-1, -1, 1, 1]) * 1.5 * px_per_pt
    frame = ax.get_window_extent(renderer)
    anchors = ax.transData.transform(np.array([[lab["x"], lab["y"]] for lab in labels]))
    placed: list[tuple[float, float, float, float]] = []
    for i, lab in enumerate(labels):
        prop = FontProperties(size=lab["size"], weight=lab["weight"])
        w, h, _ = renderer.get_text_width_height_descent(lab["text"], prop, ismath=False)
        h *= 1.15  # line box a bit taller than the glyphs
        px, py = anchors[i]
        gap = lab["gap"] * px_per_pt
        others = np.delete(obstacles, lab["own"], axis=0)
        best = None
        for rank, (dx, dy, ha, va, far) in enumerate(_CANDIDATES):
            ax_ = px + dx * gap
            ay = py + dy * gap
            left = {"left": ax_, "right": ax_ - w, "center": ax_ - w / 2}[ha]
            bottom = {"bottom": ay, "top": ay - h, "center": ay - h / 2}[va]
            box = (left, bottom, left + w, bottom + h)
            outside = w * h - max(0.0, min(box[2], frame.x1) - max(box[0], frame.x0)) * max(
                0.0, min(box[3], frame.y1) - max(box[1], frame.y0)
            )
            cost = (
                _overlap(box, np.array(placed))
                + 2.5 * _overlap(box, others)
                + 4 * outside
                + 0.002 * rank * w * h
                + (0.25 * w * h if far else 0.0)
            )
            if best is None or cost < best[0]:
                best = (cost, dx, dy, ha, va, far, box)
        _, dx, dy, ha, va, far, box = best
        text = ax.annotate(
            lab["text"],
            (lab["x"], lab["y"]),
            xytext=(dx * lab["gap"], dy * lab["gap"]),
            textcoords="offset points",
            ha=ha,
            va=va,
            fontsize=lab["size"],
            fontweight=lab["weight"],
            color=lab.get("color", "#222222"),
            zorder=lab.get("zorder", 5),
            # a white halo keeps text readable where it crosses arrows or grid lines
            path_effects=[patheffects.withStroke(linewidth=HALO, foreground="white")] if halo else None,
            arrowprops=dict(arrowstyle="-", lw=0.5, color="#777777", shrinkA=0, shrinkB=2) if far else None,
        )
        drawn = tuple(text.get_window_extent(renderer).padded(1).extents)  # the text as drawn, not the estimate
        if lab.get("optional") and _overlap(drawn, np.array(placed)) > 0:
            text.remove()  # a country name that would cover another name is left to the hover text
            continue
        placed.append(drawn)


def _crowding_order(xy: np.ndarray, radius: float) -> np.ndarray:
    """Indices sorted by how many other dots lie within ``radius`` (most crowded first; stable)."""
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    return np.argsort(-(d < radius).sum(axis=1), kind="stable")


# --------------------------------------------------------------------------------------- static map


def _arrow_handle(legend, orig_handle, xdescent, ydescent, width, height, fontsize):
    return FancyArrow(
        0,
        height / 2,
        width,
        0,
        width=0.8,
        head_width=0.55 * height,
        head_length=0.5 * height,
        length_includes_head=True,
    )


def _adjusted_labels(fig, ax, labels: list[dict], anchors: np.ndarray, halo: bool) -> None:
    """Labels placed by adjustText away from each other and from every marker (``anchors``, data units); a label
    that still overlaps one placed before it is dropped, so ``labels`` go in order of importance."""
    from adjustText import adjust_text

    effects = [patheffects.withStroke(linewidth=HALO, foreground="white")] if halo else None
    texts = [
        ax.text(
            lab["x"],
            lab["y"],
            lab["text"],
            fontsize=lab["size"],
            fontweight=lab["weight"],
            color=lab.get("color", "#222222"),
            zorder=lab.get("zorder", 5),
            path_effects=effects,
        )
        for lab in labels
    ]
    adjust_text(texts, x=anchors[:, 0], y=anchors[:, 1], ax=ax, iter_lim=25)  # no time limit: deterministic
    renderer = fig.canvas.get_renderer()
    kept = []
    for lab, text in zip(labels, texts):
        box = text.get_window_extent(renderer)
        if any(box.overlaps(other) for other in kept):
            text.remove()
            continue
        kept.append(box)
        start = ax.transData.transform((lab["x"], lab["y"]))
        if np.hypot(*(np.array([box.x0 + box.x1, box.y0 + box.y1]) / 2 - start)) > box.height * 1.5:
            # moved away from its marker: a thin leader line says whose name it is
            ax.annotate(
                "",
                (lab["x"], lab["y"]),
                xytext=text.get_position(),
                arrowprops=dict(arrowstyle="-", lw=0.5, color="#777777", shrinkA=4, shrinkB=2),
                zorder=4.5,
            )


def _lone(points: pd.DataFrame) -> np.ndarray:
    """Whether each point is the only one of its group: a lone point always keeps its name on the map."""
    return points.groupby("group")["name"].transform("size").to_numpy() == 1


def _label_every_country(fig, ax, countries, points, styles, ringed, halo: bool) -> None:
    """The reference map: every country and extra point labelled by the greedy placement above.

    Markers are obstacles for labels: boxes of the country dots (and bigger ones for extra points).
    Rows 0..106 are the countries, then the extra points."""
    ringed = ringed.to_numpy()
    dot_r = np.where(ringed, np.sqrt(RING_SIZE), np.sqrt(DOT_SIZE))[:, None] / 2 * fig.dpi / 72
    xy_c = ax.transData.transform(countries[["x", "y"]].to_numpy())
    obstacles = [np.column_stack([xy_c - dot_r, xy_c + dot_r])]
    point_labels = []
    if points is not None:
        pr = 9 * fig.dpi / 72
        xy_p = ax.transData.transform(points[["x", "y"]].to_numpy())
        obstacles.append(np.column_stack([xy_p - pr, xy_p + pr]))
        crowded = ~_lone(points)
        point_labels = [
            dict(
                x=p.x,
                y=p.y,
                text=p.name,
                size=POINT_FONT,
                weight="bold",
                gap=9,
                own=len(countries) + j,
                color=styles[p.group][1],
                zorder=7,
                optional=bool(crowded[j]),  # one of a group's many points (its line or colour says which)
            )
            for j, p in enumerate(points.itertuples())
        ]
    order = _crowding_order(countries[["x", "y"]].to_numpy(), 0.3)
    country_labels = [
        dict(
            x=countries["x"].iat[i],
            y=countries["y"].iat[i],
            text=countries["country"].iat[i],
            size=COUNTRY_FONT,
            weight="normal",
            gap=8.5 if ringed[i] else 4,
            own=i,
            optional=not ringed[i],  # the countries a figure is about always keep their names
        )
        for i in order
    ]
    # the names that must show are placed first: lone points, then the ringed countries, then the rest
    labels = [
        *(lab for lab in point_labels if not lab["optional"]),
        *(lab for lab in country_labels if not lab["optional"]),
        *(lab for lab in point_labels if lab["optional"]),
        *(lab for lab in country_labels if lab["optional"]),
    ]
    _place_labels(fig, ax, labels, np.vstack(obstacles), halo)


def map_figure(
    points=None, arrows=None, *, title: str = DEFAULT_TITLE, highlight=None, label=None, figsize=None
) -> Figure:
    """The cultural map as a matplotlib Figure (Agg canvas; nothing is shown).

    points: DataFrame with ``name, x, y`` and optional ``group``: extra points, larger, one marker shape
        per group, labelled in bold. Without ``group``, up to 8 points each get their own legend entry.
    arrows: DataFrame with ``x0, y0, x1, y1`` and optional ``group`` (semi-transparent arrows; a group
        shared with points gets the same colour).
    highlight: country names (aliases and ISO codes work) drawn with a ring.
    label: None labels every country (the reference map); else only these countries, by ISO code, and the extra
        points, placed with adjustText at a readable size (a report's map: its target countries).
    figsize: inches; the default suits a full-page map.
    """
    return _figure(points, arrows, title=title, highlight=highlight, halo=True, label=label, figsize=figsize)


def _figure(points, arrows, *, title: str, highlight, halo: bool, label=None, figsize=None) -> Figure:
    countries = reference.countries()
    points, arrows = _points_table(points), _arrows_table(arrows)
    rings = _highlighted(highlight)
    styles = _group_styles(points, arrows)
    xlabel, ylabel = axis_labels()

    size = figsize or FIGSIZE
    fig = Figure(figsize=size)
    FigureCanvasAgg(fig)
    ax = fig.add_axes(AXES_RECT)
    xlim, ylim = _limits(_extent(countries, points, arrows), size[0] * AXES_RECT[2], size[1] * AXES_RECT[3])
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel(xlabel, fontsize=11)
    ax.set_ylabel(ylabel, fontsize=11)
    ax.set_title(title, fontsize=15, pad=10)
    ax.grid(True, color="#e4e4e4", lw=0.6, zorder=0)
    ax.axhline(0, color="#bbbbbb", lw=0.8, zorder=1)
    ax.axvline(0, color="#bbbbbb", lw=0.8, zorder=1)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)

    region_handles = []
    for region in reference.REGIONS:
        sub = countries[countries["region"] == region]
        region_handles.append(
            ax.scatter(
                sub["x"],
                sub["y"],
                s=DOT_SIZE,
                color=REGION_COLOURS[region],
                edgecolors="#333333",
                linewidths=0.5,
                zorder=3,
                label=f"{region} ({len(sub)})",
            )
        )
    if rings:
        ringed = countries[countries["country"].isin(rings)]
        ax.scatter(
            ringed["x"], ringed["y"], s=RING_SIZE, facecolors="none", edgecolors="#000000", linewidths=1.5, zorder=3.5
        )

    extra_handles = []
    if arrows is not None:
        for group, sub in arrows.groupby("group", sort=False):
            colour = styles[group][1]
            for a in sub.itertuples():
                ax.annotate(
                    "",
                    xy=(a.x1, a.y1),
                    xytext=(a.x0, a.y0),
                    zorder=4,
                    arrowprops=dict(
                        arrowstyle="-|>", color=colour, alpha=0.5, lw=1.3, mutation_scale=11, shrinkA=0, shrinkB=0
                    ),
                )
            extra_handles.append(
                (
                    FancyArrow(0, 0, 1, 0, color=colour, alpha=0.7),
                    group if points is None or group not in set(points["group"]) else f"{group} (shift)",
                )
            )
    if points is not None:
        for group, sub in points.groupby("group", sort=False):
            marker, colour = styles[group]
            extra_handles.append(
                (
                    ax.scatter(
                        sub["x"],
                        sub["y"],
                        s=_MARKER_SIZE.get(marker, 110),
                        marker=marker,
                        color=colour,
                        edgecolors="white",
                        linewidths=0.9,
                        zorder=6,
                    ),
                    group,
                )
            )

    if label is None:
        _label_every_country(fig, ax, countries, points, styles, ringed=countries["country"].isin(rings), halo=halo)
    else:
        shown = countries[countries["country"].isin(_highlighted(label))]
        labels = [
            dict(x=c.x, y=c.y, text=c.iso3, size=LABEL_FONT, weight="normal", zorder=5) for c in shown.itertuples()
        ]
        if points is not None:
            labels += [
                dict(x=p.x, y=p.y, text=p.name, size=LABEL_FONT, weight="bold", color=styles[p.group][1], zorder=7)
                for p in points.itertuples()
            ]
        anchors = [countries[["x", "y"]].to_numpy()] + ([points[["x", "y"]].to_numpy()] if points is not None else [])
        _adjusted_labels(fig, ax, labels, np.vstack(anchors), halo)

    # Legends sit outside the axes so they can never hide data: regions at the top, additions below.
    leg = ax.legend(
        handles=region_handles,
        title="Cultural region (n)",
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=9,
        title_fontsize=10,
        frameon=False,
        borderaxespad=0.0,
        markerscale=1.4,
    )
    leg._legend_box.align = "left"
    if extra_handles:
        ax.add_artist(leg)
        # the right margin is ~25 characters wide: long names (program folders) wrap instead of being cut off
        labels = [textwrap.fill(lab, LEGEND_WIDTH) for _, lab in extra_handles]
        extra = ax.legend(
            handles=[h for h, _ in extra_handles],
            labels=labels,
            loc="lower left",
            bbox_to_anchor=(1.01, 0.0),
            fontsize=9,
            frameon=False,
            borderaxespad=0.0,
            handler_map={FancyArrow: HandlerPatch(patch_func=_arrow_handle)},
        )
        extra._legend_box.align = "left"
    return fig


# ---------------------------------------------------------------------------------------------- saving


def save_map(path, points=None, arrows=None, *, title: str = DEFAULT_TITLE, highlight=None) -> Path:
    """Write the map to ``path``; the suffix picks the format: .png, .svg or .html (interactive, offline).

    The file is written to a temporary name in the same directory and renamed into place, so a reader
    never sees a half-written map and a failure leaves any previous file untouched.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise CulturalignError(f"cannot save a map as {path.name!r}: the suffix must be one of {', '.join(SUFFIXES)}")
    if suffix == ".html":
        return atomic_write(path, map_html(points, arrows, title=title, highlight=highlight))
    if suffix == ".svg":
        return atomic_write(path, _svg_bytes(_figure(points, arrows, title=title, highlight=highlight, halo=False)))
    fig = map_figure(points, arrows, title=title, highlight=highlight)
    return atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=PNG_DPI, facecolor="white"))


def _svg_bytes(fig: Figure) -> bytes:
    """SVG with labels kept as real <text> (searchable, editable, far smaller than glyph paths).

    Matplotlib turns text with path effects into paths, so the figure is drawn without the label halo
    and the halo comes back as CSS: a white stroke painted under each glyph (invisible on white).
    """
    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "culturalign"}):
        fig.savefig(buf, format="svg", facecolor="white", metadata={"Date": None})
    halo = f"text {{ paint-order: stroke; stroke: #fff; stroke-width: {HALO}px; stroke-linejoin: round }}"
    return buf.getvalue().replace(b"</style>", halo.encode() + b"\n</style>", 1)


# ------------------------------------------------------------------------------------------ HTML map


def _map_data(points, arrows, title: str, highlight) -> dict:
    """Everything the interactive page draws, as plain JSON-able data."""
    countries = reference.countries()
    points, arrows = _points_table(points), _arrows_table(arrows)
    rings = _highlighted(highlight)
    styles = _group_styles(points, arrows)
    xlabel, ylabel = axis_labels()
    r = lambda v: round(float(v), 4)  # noqa: E731
    return {
        "title": title,
        "xlabel": xlabel,
        "ylabel": ylabel,
        "regions": [{"name": g, "colour": REGION_COLOURS[g]} for g in reference.REGIONS],
        "countries": [
            {
                "name": c.country,
                "iso3": c.iso3,
                "region": c.region,
                "x": r(c.x),
                "y": r(c.y),
                "ring": c.country in rings,
            }
            for c in countries.itertuples()
        ],
        "groups": [
            {
                "name": g,
                "shape": _SVG_SHAPES[m],
                "colour": c,
                "points": bool(points is not None and (points["group"] == g).any()),
                "arrows": bool(arrows is not None and (arrows["group"] == g).any()),
            }
            for g, (m, c) in styles.items()
        ],
        "points": []
        if points is None
        else [
            {"name": p.name, "group": p.group, "x": r(p.x), "y": r(p.y), "lone": bool(lone)}
            for p, lone in zip(points.itertuples(), _lone(points))
        ],
        "arrows": []
        if arrows is None
        else [
            {"group": a.group, "x0": r(a.x0), "y0": r(a.y0), "x1": r(a.x1), "y1": r(a.y1)} for a in arrows.itertuples()
        ],
    }


def map_html(points=None, arrows=None, *, title: str = DEFAULT_TITLE, highlight=None) -> str:
    """The interactive map as one self-contained HTML document (inline SVG + JS; no network access)."""
    data = json.dumps(_map_data(points, arrows, title, highlight), ensure_ascii=False, separators=(",", ":"))
    # Inside <script> the JSON must not be able to close the tag or open a comment.
    data = data.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    # One pass, so a title that happens to contain a placeholder cannot pull in another part.
    parts = {"TITLE": html.escape(title), "DATA": data, "SCRIPT": _template("interactive_map.js")}
    return re.sub(r"%(TITLE|DATA|SCRIPT)%", lambda m: parts[m.group(1)], _template("interactive_map.html"))


def _template(name: str) -> str:
    """The interactive map's page and script, shipped beside this module as package data."""
    return resources.files("culturalign.map").joinpath(name).read_text(encoding="utf-8")

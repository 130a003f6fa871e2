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


def _label_every_country(fig, ax, countries, points, styles, ringed, halo: bool) -> None:
    """The reference map: every country and extra point labelled by the greedy placement above.

    Markers are obstacles for labels: boxes of the country dots (and bigger ones for extra points).
    Rows 0..106 are the countries, then the extra points."""
    ringed = ringed.to_numpy()
    dot_r = np.where(ringed, np.sqrt(RING_SIZE), np.sqrt(DOT_SIZE))[:, None] / 2 * fig.dpi / 72
    xy_c = ax.transData.transform(countries[["x", "y"]].to_numpy())
    obstacles = [np.column_stack([xy_c - dot_r, xy_c + dot_r])]
    labels = []
    if points is not None:
        pr = 9 * fig.dpi / 72
        xy_p = ax.transData.transform(points[["x", "y"]].to_numpy())
        obstacles.append(np.column_stack([xy_p - pr, xy_p + pr]))
        labels += [
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
            )
            for j, p in enumerate(points.itertuples())
        ]
    order = _crowding_order(countries[["x", "y"]].to_numpy(), 0.3)
    labels += [
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
        else [{"name": p.name, "group": p.group, "x": r(p.x), "y": r(p.y)} for p in points.itertuples()],
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
    parts = {"TITLE": html.escape(title), "DATA": data, "SCRIPT": _SCRIPT}
    return re.sub(r"%(TITLE|DATA|SCRIPT)%", lambda m: parts[m.group(1)], _HTML)


_HTML = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>%TITLE%</title>
<style>
  body { margin: 12px; font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
         color: #222; background: #fff; }
  #map { width: 100%; max-width: 1400px; height: auto; display: block; user-select: none; touch-action: none;
         cursor: grab; }
  #map.dragging { cursor: grabbing; }
  #map .dot, #map .pt, #map .arrow { cursor: pointer; }
  #map .legend-item { cursor: pointer; }
  #map .legend-item.off { opacity: 0.3; }
  #map text.label { paint-order: stroke; stroke: #fff; stroke-width: 3px; stroke-linejoin: round; }
  #tip { position: fixed; pointer-events: none; display: none; background: rgba(255,255,255,0.96);
         border: 1px solid #888; border-radius: 4px; padding: 4px 8px; font-size: 13px; line-height: 1.35;
         box-shadow: 0 1px 4px rgba(0,0,0,0.2); }
  .hint { font-size: 12px; color: #666; margin: 4px 0 0 0; }
</style>
</head>
<body>
<svg id="map" viewBox="0 0 1200 820" role="img" aria-label="%TITLE%"></svg>
<p class="hint">Scroll to zoom, drag to pan, double-click to reset. Click a legend entry to show or hide it.
Hover a dot for details.</p>
<div id="tip"></div>
<script type="application/json" id="map-data">%DATA%</script>
<script>
%SCRIPT%
</script>
</body>
</html>
"""

_SCRIPT = r"""(function () {
"use strict";
const D = JSON.parse(document.getElementById("map-data").textContent);
const svg = document.getElementById("map");
const tip = document.getElementById("tip");
const NS = svg.namespaceURI;  // taken from the inline <svg>, so the page holds no URL at all
const W = 1200, H = 820, M = {l: 72, r: 250, t: 54, b: 62};
const PW = W - M.l - M.r, PH = H - M.t - M.b;

function el(tag, attrs, parent) {
  const e = document.createElementNS(NS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}
function txt(parent, s, attrs) { const t = el("text", attrs, parent); t.textContent = s; return t; }
const fmt = v => (v >= 0 ? "+" : "\u2212") + Math.abs(v).toFixed(3);

const regionColour = {};
D.regions.forEach(r => { regionColour[r.name] = r.colour; });
const groupStyle = {};
D.groups.forEach((g, i) => { g.index = i; groupStyle[g.name] = g; });

// ---- view: centre (cx, cy) in map units and a scale s in pixels per unit, equal on both axes
const xs = [], ys = [];
D.countries.forEach(c => { xs.push(c.x); ys.push(c.y); });
D.points.forEach(p => { xs.push(p.x); ys.push(p.y); });
D.arrows.forEach(a => { xs.push(a.x0, a.x1); ys.push(a.y0, a.y1); });
const bx0 = Math.min(...xs), bx1 = Math.max(...xs), by0 = Math.min(...ys), by1 = Math.max(...ys);
const pad = 0.06 * Math.max(bx1 - bx0, by1 - by0) + 0.15;
const home = {cx: (bx0 + bx1) / 2, cy: (by0 + by1) / 2,
              s: Math.min(PW / (bx1 - bx0 + 2 * pad), PH / (by1 - by0 + 2 * pad))};
let view = Object.assign({}, home);
const sx = x => M.l + PW / 2 + (x - view.cx) * view.s;
const sy = y => M.t + PH / 2 - (y - view.cy) * view.s;

// ---- static structure
const defs = el("defs", {}, svg);
const clip = el("clipPath", {id: "plot-clip"}, defs);
el("rect", {x: M.l, y: M.t, width: PW, height: PH}, clip);
D.groups.forEach(g => {
  const m = el("marker", {id: "head" + g.index, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 6,
                          markerHeight: 6, orient: "auto"}, defs);
  el("path", {d: "M0,0 L10,5 L0,10 z", fill: g.colour}, m);
});
const bg = el("rect", {x: M.l, y: M.t, width: PW, height: PH, fill: "#fff", stroke: "#aaa"}, svg);
const gridG = el("g", {"clip-path": "url(#plot-clip)"}, svg);
const tickG = el("g", {"font-size": 11, fill: "#555"}, svg);
const plot = el("g", {"clip-path": "url(#plot-clip)"}, svg);
const arrowG = el("g", {}, plot), dotG = el("g", {}, plot), ringG = el("g", {}, plot);
const leaderG = el("g", {}, plot), labelG = el("g", {}, plot), pointG = el("g", {}, plot);
txt(svg, D.title, {x: M.l + PW / 2, y: 30, "text-anchor": "middle", "font-size": 20, "font-weight": 600});
txt(svg, D.xlabel, {x: M.l + PW / 2, y: H - 16, "text-anchor": "middle", "font-size": 13});
txt(svg, D.ylabel, {x: 0, y: 0, "text-anchor": "middle", "font-size": 13,
                    transform: "translate(18," + (M.t + PH / 2) + ") rotate(-90)"});

// ---- marker shapes for extra points (unit polygons, scaled to ~9 px)
function star(n, r1, r2) {
  const p = [];
  for (let i = 0; i < 2 * n; i++) {
    const a = Math.PI * i / n - Math.PI / 2, r = i % 2 ? r2 : r1;
    p.push([r * Math.cos(a), r * Math.sin(a)]);
  }
  return p;
}
const SHAPES = {
  star: star(5, 1.25, 0.5), diamond: [[0, -1.1], [0.8, 0], [0, 1.1], [-0.8, 0]],
  plus: [[-0.3, -1], [0.3, -1], [0.3, -0.3], [1, -0.3], [1, 0.3], [0.3, 0.3], [0.3, 1], [-0.3, 1], [-0.3, 0.3],
         [-1, 0.3], [-1, -0.3], [-0.3, -0.3]],
  triangle: [[0, -1.1], [1, 0.8], [-1, 0.8]], tdown: [[0, 1.1], [1, -0.8], [-1, -0.8]],
  square: [[-0.8, -0.8], [0.8, -0.8], [0.8, 0.8], [-0.8, 0.8]], hexagon: star(3, 1, 1)
};
SHAPES.cross = SHAPES.plus.map(([x, y]) => [(x - y) * 0.7071, (x + y) * 0.7071]);
const shapePath = (shape, r) => "M" + SHAPES[shape].map(([x, y]) => (x * r).toFixed(2) + "," + (y * r).toFixed(2))
  .join("L") + "Z";

// ---- tooltip
function showTip(e, lines) {
  tip.textContent = "";
  lines.forEach((s, i) => {
    const d = document.createElement("div");
    d.textContent = s;
    if (i === 0) d.style.fontWeight = "600";
    tip.appendChild(d);
  });
  tip.style.display = "block";
  moveTip(e);
}
function moveTip(e) {
  tip.style.left = Math.min(e.clientX + 14, window.innerWidth - tip.offsetWidth - 4) + "px";
  tip.style.top = (e.clientY + 14) + "px";
}
function hideTip() { tip.style.display = "none"; }
function hover(node, lines) {
  node.addEventListener("mouseenter", e => showTip(e, lines));
  node.addEventListener("mousemove", moveTip);
  node.addEventListener("mouseleave", hideTip);
}

// ---- data elements; each item remembers its legend key so a legend click can hide it
const hidden = new Set();
const items = [];   // everything that moves with the view
const labels = [];  // text labels taking part in placement
D.arrows.forEach(a => {
  const g = groupStyle[a.group];
  const line = el("line", {class: "arrow", stroke: g.colour, "stroke-width": 1.6, opacity: 0.5,
                           "marker-end": "url(#head" + g.index + ")"}, arrowG);
  hover(line, [a.group, "from (" + fmt(a.x0) + ", " + fmt(a.y0) + ")", "to (" + fmt(a.x1) + ", " + fmt(a.y1) + ")"]);
  items.push({key: "a:" + a.group, node: line, place: () => {
    line.setAttribute("x1", sx(a.x0)); line.setAttribute("y1", sy(a.y0));
    line.setAttribute("x2", sx(a.x1)); line.setAttribute("y2", sy(a.y1));
  }});
});
function addLabel(key, x, y, text, size, weight, colour, gap, r) {  // r: half-size of its marker box
  const t = txt(labelG, text, {class: "label", "font-size": size, "font-weight": weight, fill: colour,
                               "dominant-baseline": "central"});
  const leader = el("line", {stroke: "#888", "stroke-width": 0.6}, leaderG);
  labels.push({key, x, y, node: t, leader, gap, r, w: 0, h: size * 1.2});
}
D.countries.forEach(c => {
  const key = "r:" + c.region;
  const dot = el("circle", {class: "dot", r: 4.5, fill: regionColour[c.region], stroke: "#333",
                            "stroke-width": 0.6}, dotG);
  hover(dot, [c.name, c.region, "x (self-expression) " + fmt(c.x), "y (secular-rational) " + fmt(c.y)]);
  items.push({key, node: dot, place: () => { dot.setAttribute("cx", sx(c.x)); dot.setAttribute("cy", sy(c.y)); }});
  if (c.ring) {
    const ring = el("circle", {r: 9, fill: "none", stroke: "#000", "stroke-width": 1.6}, ringG);
    items.push({key, node: ring, place: () => { ring.setAttribute("cx", sx(c.x)); ring.setAttribute("cy", sy(c.y)); }});
  }
  addLabel(key, c.x, c.y, c.name, 10, "normal", "#222", c.ring ? 11 : 5, c.ring ? 10 : 6);
});
D.points.forEach(p => {
  const g = groupStyle[p.group], key = "p:" + p.group;
  const node = el("path", {class: "pt", d: shapePath(g.shape, 9), fill: g.colour, stroke: "#fff",
                           "stroke-width": 1}, pointG);
  hover(node, [p.name, p.group !== p.name ? p.group : "added point", "x " + fmt(p.x), "y " + fmt(p.y)]);
  items.push({key, node, place: () => node.setAttribute("transform", "translate(" + sx(p.x) + "," + sy(p.y) + ")")});
  addLabel(key, p.x, p.y, p.name, 12, "bold", g.colour, 12, 11);
});
// Measure each label once (font metrics do not change with zoom).
labels.forEach(l => {
  let w = 0;
  try { w = l.node.getComputedTextLength(); } catch (err) { w = 0; }
  l.w = w > 0 ? w : l.node.textContent.length * parseFloat(l.node.getAttribute("font-size")) * 0.56;
});
// Extra-point labels first, then the most crowded countries, as in the static map.
labels.forEach(l => {
  l.crowd = l.key.startsWith("p:") ? 1e9 :
    labels.filter(o => Math.hypot(o.x - l.x, o.y - l.y) < 0.3).length;
});
labels.sort((a, b) => b.crowd - a.crowd);

// ---- greedy label placement: candidate spots around the dot, least overlap wins (second ring gets a leader)
const NEAR = [[1, 0, 0, 0.5], [-1, 0, 1, 0.5], [0.75, -0.75, 0, 1], [0.75, 0.75, 0, 0], [-0.75, -0.75, 1, 1],
              [-0.75, 0.75, 1, 0], [0, -1, 0.5, 1], [0, 1, 0.5, 0]];  // dx, dy (screen, y down), x/y anchor
const CANDS = NEAR.map(c => c.concat([false])).concat(NEAR.map(c => [2.6 * c[0], 2.6 * c[1], c[2], c[3], true]));
function overlap(a, b) {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]), h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  return w > 0 && h > 0 ? w * h : 0;
}
function placeLabels() {
  // Every marker has exactly one label, so the visible labels' anchors are the marker obstacles.
  const visible = labels.filter(l => !hidden.has(l.key));
  const obstacles = visible.map(l => [sx(l.x) - l.r, sy(l.y) - l.r, sx(l.x) + l.r, sy(l.y) + l.r]);
  const placed = [];
  labels.forEach(l => {
    const off = hidden.has(l.key);
    l.node.style.display = l.leader.style.display = off ? "none" : "";
    if (off) return;
    const px = sx(l.x), py = sy(l.y);
    if (px < M.l - 200 || px > M.l + PW + 200 || py < M.t - 50 || py > M.t + PH + 50) {  // far off screen
      l.node.style.display = l.leader.style.display = "none";
      return;
    }
    let best = null;
    CANDS.forEach((c, rank) => {
      const ax = px + c[0] * l.gap, ay = py + c[1] * l.gap;
      const box = [ax - c[2] * l.w, ay - c[3] * l.h, ax - c[2] * l.w + l.w, ay - c[3] * l.h + l.h];
      const area = l.w * l.h;
      const inside = overlap(box, [M.l, M.t, M.l + PW, M.t + PH]);
      let cost = 4 * (area - inside) + 0.002 * rank * area + (c[4] ? 0.25 * area : 0);
      for (const b of placed) cost += overlap(box, b);
      obstacles.forEach((b, k) => { if (visible[k] !== l) cost += 2.5 * overlap(box, b); });
      if (!best || cost < best.cost) best = {cost, box, far: c[4]};
    });
    placed.push(best.box);
    l.node.setAttribute("x", best.box[0]);
    l.node.setAttribute("y", (best.box[1] + best.box[3]) / 2);
    l.leader.style.display = best.far ? "" : "none";
    if (best.far) {
      const tx = Math.max(best.box[0], Math.min(px, best.box[2])), ty = Math.max(best.box[1], Math.min(py, best.box[3]));
      l.leader.setAttribute("x1", px); l.leader.setAttribute("y1", py);
      l.leader.setAttribute("x2", tx); l.leader.setAttribute("y2", ty);
    }
  });
}

// ---- grid and ticks at "nice" steps for the current view
function niceStep(span, n) {
  const raw = span / n, p = Math.pow(10, Math.floor(Math.log10(raw))), f = raw / p;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}
function drawGrid() {
  gridG.textContent = ""; tickG.textContent = "";
  const x0 = view.cx - PW / 2 / view.s, x1 = view.cx + PW / 2 / view.s;
  const y0 = view.cy - PH / 2 / view.s, y1 = view.cy + PH / 2 / view.s;
  const step = niceStep(Math.max(x1 - x0, y1 - y0), 10);
  const digits = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  for (let v = Math.ceil(x0 / step) * step; v <= x1; v += step) {
    const X = sx(v), zero = Math.abs(v) < step / 2;
    el("line", {x1: X, x2: X, y1: M.t, y2: M.t + PH, stroke: zero ? "#bbb" : "#e6e6e6", "stroke-width": zero ? 1.2 : 1}, gridG);
    txt(tickG, (zero ? 0 : v).toFixed(digits), {x: X, y: M.t + PH + 16, "text-anchor": "middle"});
  }
  for (let v = Math.ceil(y0 / step) * step; v <= y1; v += step) {
    const Y = sy(v), zero = Math.abs(v) < step / 2;
    el("line", {x1: M.l, x2: M.l + PW, y1: Y, y2: Y, stroke: zero ? "#bbb" : "#e6e6e6", "stroke-width": zero ? 1.2 : 1}, gridG);
    txt(tickG, (zero ? 0 : v).toFixed(digits), {x: M.l - 6, y: Y + 4, "text-anchor": "end"});
  }
}

function redraw() {
  drawGrid();
  items.forEach(it => {
    it.node.style.display = hidden.has(it.key) ? "none" : "";
    it.place();
  });
  placeLabels();
}
let pending = false;
function schedule() {
  if (pending) return;
  pending = true;
  window.requestAnimationFrame(() => { pending = false; redraw(); });
}

// ---- legend: click toggles a region / group
const legend = el("g", {"font-size": 13}, svg);
let ly = M.t + 6;
const LX = W - M.r + 22;
function legendItem(key, label, drawSymbol) {
  const g = el("g", {class: "legend-item", transform: "translate(" + LX + "," + ly + ")"}, legend);
  el("rect", {x: -6, y: -10, width: M.r - 24, height: 20, fill: "transparent"}, g);
  drawSymbol(g);
  txt(g, label, {x: 20, y: 4.5});
  el("title", {}, g).textContent = "click to show or hide";
  g.addEventListener("click", () => {
    if (hidden.has(key)) hidden.delete(key); else hidden.add(key);
    g.classList.toggle("off", hidden.has(key));
    schedule();
  });
  ly += 22;
}
txt(legend, "Cultural region (n)", {x: LX - 6, y: ly, "font-weight": 600});
ly += 22;
D.regions.forEach(r => {
  const n = D.countries.filter(c => c.region === r.name).length;
  legendItem("r:" + r.name, r.name + " (" + n + ")", g => el("circle", {cx: 6, cy: 0, r: 6, fill: r.colour, stroke: "#333",
                                                                          "stroke-width": 0.6}, g));
});
if (D.groups.length) {
  ly += 12;
  txt(legend, "Added", {x: LX - 6, y: ly, "font-weight": 600});
  ly += 22;
  D.groups.forEach(gs => {
    if (gs.points) legendItem("p:" + gs.name, gs.name, g => el("path", {d: shapePath(gs.shape, 8), fill: gs.colour,
                                                                         transform: "translate(6,0)"}, g));
    if (gs.arrows) legendItem("a:" + gs.name, gs.points ? gs.name + " (shift)" : gs.name, g =>
      el("line", {x1: -4, y1: 0, x2: 14, y2: 0, stroke: gs.colour, "stroke-width": 2, opacity: 0.7,
                  "marker-end": "url(#head" + gs.index + ")"}, g));
  });
}

// ---- zoom (wheel, around the cursor) and pan (drag)
function svgPoint(e) {
  const r = svg.getBoundingClientRect();
  return [(e.clientX - r.left) * W / r.width, (e.clientY - r.top) * H / r.height];
}
svg.addEventListener("wheel", e => {
  e.preventDefault();
  const [mx, my] = svgPoint(e);
  const wx = view.cx + (mx - M.l - PW / 2) / view.s, wy = view.cy - (my - M.t - PH / 2) / view.s;
  view.s = Math.max(home.s / 4, Math.min(home.s * 40, view.s * Math.exp(-e.deltaY * 0.0015)));
  view.cx = wx - (mx - M.l - PW / 2) / view.s;  // keep the point under the cursor fixed
  view.cy = wy + (my - M.t - PH / 2) / view.s;
  schedule();
}, {passive: false});
let drag = null;
svg.addEventListener("pointerdown", e => {
  if (e.button !== 0 || e.target.closest(".legend-item")) return;
  drag = {p: svgPoint(e), cx: view.cx, cy: view.cy};
  svg.setPointerCapture(e.pointerId);
  svg.classList.add("dragging");
});
svg.addEventListener("pointermove", e => {
  if (!drag) return;
  const [mx, my] = svgPoint(e);
  view.cx = drag.cx - (mx - drag.p[0]) / view.s;
  view.cy = drag.cy + (my - drag.p[1]) / view.s;
  hideTip();
  schedule();
});
function endDrag() { drag = null; svg.classList.remove("dragging"); }
svg.addEventListener("pointerup", endDrag);
svg.addEventListener("pointercancel", endDrag);
svg.addEventListener("dblclick", () => { view = Object.assign({}, home); schedule(); });

redraw();
})();"""

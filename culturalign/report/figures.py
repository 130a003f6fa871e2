"""The report's figures by name: each draws a matplotlib figure from a study's tables, and ``report.html`` shows
every registered one (the four built-in ones in their own sections, an extension's under "More figures").

Register one with :func:`culturalign.extend.register_figure`; ``replace=True`` swaps a built-in one for yours."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pandas as pd

from ..registry import Registry


@dataclass(frozen=True)
class Study:
    """What a figure is drawn from, all as ``culturalign report`` computed them: ``table`` (a row per model,
    condition and country), ``held_out`` and ``summary`` (per model and condition, as held_out.csv and
    summary.csv), ``regions`` (by_region.csv's rows for ``region_scope``) and ``names`` (condition -> the
    short name every table and figure of the study uses)."""

    table: pd.DataFrame
    held_out: pd.DataFrame
    summary: pd.DataFrame
    regions: pd.DataFrame
    region_scope: str
    names: dict[str, str]

    @property
    def judged(self) -> pd.DataFrame:
        """The held-out table where the study holds countries out, else the all-countries one."""
        return self.held_out if len(self.held_out) else self.summary


@dataclass(frozen=True)
class ReportFigure:
    """A figure of the report: ``draw(study)`` returns a matplotlib Figure (or None: nothing to draw for this
    study); ``title`` heads its section, ``alt`` describes it to a screen reader."""

    title: str
    draw: Callable[[Study], object]
    alt: str = ""


# the built-in figures, defined beside their drawing code (lazy: listing names imports no matplotlib)
BUILT_IN = ("skill", "distances", "steering", "regions")
FIGURES: Registry[ReportFigure] = Registry(
    "report figure",
    {name: f"culturalign.report.report:{name.upper()}_FIGURE" for name in BUILT_IN},
    extensible=True,
)

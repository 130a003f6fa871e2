"""Extending culturalign: the one public place to register what you add by name.

Each function adds one entry to a :class:`culturalign.registry.Registry`. A name is registered once; registering
it again is an error unless ``replace=True``. Entries may be lazy ``"package.module:attribute"`` targets, imported
on first use. An installed package registers from the function its ``culturalign.plugins`` entry point names
(see ``culturalign/recsys/plugin.py``); a notebook or script may call these directly.

    from culturalign.extend import register_objective
    register_objective("mine", MyObjective)          # then: culturalign compile --objective mine
"""

from __future__ import annotations

from typing import Callable


def register_item_type(cls, *, replace: bool = False):
    """An item type (a subclass of ``culturalign.instrument.items.Item`` with a ``type`` name) that survey files
    name as ``type: <name>``; usable as a class decorator."""
    from .instrument.items import register_item_type as register

    return register(cls, replace=replace)


def register_program(name: str, factory: Callable[[], object] | str, *, replace: bool = False) -> None:
    """A program that ``--program NAME`` finds: a class or function of no arguments that makes one (a DSPy module
    with ``contexts(country)``, or anything with that method)."""
    from .programs import PROGRAMS

    PROGRAMS.register(name, factory, replace=replace)


def register_provider(name: str, provider, *, replace: bool = False) -> None:
    """A model provider: a :class:`culturalign.models.providers.Provider` (how a spec's keys are checked, how a
    client opens, how readiness is told) that ``models.yaml`` entries name as ``provider: <name>``."""
    from .models.providers import PROVIDERS

    PROVIDERS.register(name, provider, replace=replace)


def register_objective(name: str, cls, *, replace: bool = False) -> None:
    """A compile objective (a subclass of ``culturalign.optimization.objectives.Objective``) for ``--objective``."""
    from .optimization.objectives import OBJECTIVES

    OBJECTIVES.register(name, cls, replace=replace)


def register_optimizer(name: str, quirks, *, replace: bool = False) -> None:
    """An optimizer presets may name: an ``OptimizerQuirks`` whose ``target`` is the teleprompter's class."""
    from .optimization.presets import OPTIMIZERS

    OPTIMIZERS.register(name, quirks, replace=replace)


def register_task(kind, *, replace: bool = False) -> None:
    """A task kind (``culturalign.plugins.TaskKind``): how compile and evaluate handle programs that are not survey
    respondents."""
    from .plugins import register_task as register

    register(kind, replace=replace)


def register_figure(name: str, figure, *, replace: bool = False) -> None:
    """A figure of ``report.html`` (a :class:`culturalign.report.figures.ReportFigure`: a title and a function of
    the study's tables that returns a matplotlib Figure), shown under "More figures"; ``replace=True`` with a
    built-in name (skill, distances, steering, regions) draws yours in its place."""
    from .report.figures import FIGURES

    FIGURES.register(name, figure, replace=replace)


def register_command(command, *, replace: bool = False) -> None:
    """A click command or group added to the ``culturalign`` command line."""
    from .plugins import register_command as register

    register(command, replace=replace)


__all__ = [
    "register_command",
    "register_figure",
    "register_item_type",
    "register_objective",
    "register_optimizer",
    "register_program",
    "register_provider",
    "register_task",
]

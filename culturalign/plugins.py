"""Extensions: packages that add programs, task kinds and commands without the core naming them.

An extension declares an entry point in the ``culturalign.plugins`` group (pyproject.toml); its function is
called once, the first time a program, a task kind or the command line is looked up, and registers what it
brings with the ``register_*`` functions of :mod:`culturalign.extend`.
The recommendation explainers (``culturalign/recsys/``) are such an extension.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Callable

from .registry import Registry

GROUP = "culturalign.plugins"


@dataclass(frozen=True)
class TaskKind:
    """Programs that are not survey respondents: how the command line compiles and evaluates them, and
    what a saved program's ``split`` holds (checked on load with the saved-program schema)."""

    name: str
    compile: Callable[..., None]  # (program, options) from `culturalign compile`
    evaluate: Callable[..., None]  # (program_dir, split, model, as_json) from `culturalign evaluate`
    check_split: Callable  # (schema, split) -> None; raise through schema.fail


TASKS: Registry[TaskKind] = Registry("task kind", extensible=True)
COMMANDS: Registry = Registry("command", extensible=True)  # click commands and groups, by their name
_loaded = False


def load() -> None:
    """Call every installed extension's entry point, once."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for point in entry_points(group=GROUP):
        point.load()()


def register_task(kind: TaskKind, *, replace: bool = False) -> None:
    TASKS.register(kind.name, kind, replace=replace)


def register_command(command, *, replace: bool = False) -> None:
    """A click command or group added to ``culturalign``'s command line."""
    COMMANDS.register(command.name, command, replace=replace)


def task_kind(name: str) -> TaskKind | None:
    return TASKS.get(name) if name in TASKS else None


def commands() -> list:
    return [COMMANDS.get(name) for name in COMMANDS.names()]

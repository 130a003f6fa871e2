"""Extensions: packages that add programs, task kinds and commands without the core naming them.

An extension declares an entry point in the ``culturalign.plugins`` group (pyproject.toml); its function is
called once, the first time a program, a task kind or the command line is looked up, and registers what it
brings with :func:`culturalign.programs.programs.register_program`, :func:`register_task` and :func:`register_command`.
The recommendation explainers (``culturalign/recsys/``) are such an extension.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Callable

GROUP = "culturalign.plugins"


@dataclass(frozen=True)
class TaskKind:
    """Programs that are not survey respondents: how the command line compiles and evaluates them, and
    what a saved program's ``split`` holds (checked on load with the saved-program schema)."""

    name: str
    compile: Callable[..., None]  # (program, options) from `culturalign compile`
    evaluate: Callable[..., None]  # (program_dir, split, model, as_json) from `culturalign evaluate`
    check_split: Callable  # (schema, split) -> None; raise through schema.fail


_TASKS: dict[str, TaskKind] = {}
_COMMANDS: list = []
_loaded = False


def load() -> None:
    """Call every installed extension's entry point, once."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for point in entry_points(group=GROUP):
        point.load()()


def register_task(kind: TaskKind) -> None:
    _TASKS[kind.name] = kind


def register_command(command) -> None:
    """A click command or group added to ``culturalign``'s command line."""
    _COMMANDS.append(command)


def task_kind(name: str) -> TaskKind | None:
    load()
    return _TASKS.get(name)


def commands() -> list:
    load()
    return list(_COMMANDS)

"""Optimizer presets: YAML files (optimizers/*.yaml) naming a DSPy optimizer and its budget, seed and threads.

Copy a shipped preset, edit it, and pass its path. Every key is checked against the optimizer's own
constructor and ``compile`` signatures, so a typo fails before any model is called.
"""

from __future__ import annotations

import importlib
import inspect
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ..errors import CulturalignError
from ..fileio import read_yaml, shown
from ..registry import Registry
from ..validation import Keys, Null, Number, OneOf, Place, Text, Whole


@dataclass(frozen=True)
class OptimizerQuirks:
    """An optimizer presets may name, and how it is driven: what it takes, and where."""

    target: str  # its Teleprompter class, "module:Class", imported on first use
    valset: bool = True  # compile() takes a validation set
    metric: bool = True  # the constructor takes a metric (LabeledFewShot: no search, no metric)
    feedback: bool = False  # the metric returns a score with feedback text (GEPA)
    prompt_model: str | None = None  # the constructor argument the prompt / reflection model goes to
    task_model: bool = False  # MIPROv2 insists on a task model (answers come from culturalign's engine anyway)
    seed: str | None = None  # where the seed goes: "init" or "compile" (MIPROv2's constructor default 9 would
    #                          otherwise win silently); None: the optimizer takes none


OPTIMIZERS: Registry[OptimizerQuirks] = Registry(
    "optimizer",
    {
        "RetrievalSearch": OptimizerQuirks("culturalign.optimization.retrieval_search:RetrievalSearch", seed="init"),
        "BootstrapFewShotWithRandomSearch": OptimizerQuirks("dspy:BootstrapFewShotWithRandomSearch"),
        "MIPROv2": OptimizerQuirks("dspy:MIPROv2", prompt_model="prompt_model", task_model=True, seed="compile"),
        "COPRO": OptimizerQuirks("dspy:COPRO", valset=False, prompt_model="prompt_model"),
        "SIMBA": OptimizerQuirks("dspy:SIMBA", valset=False, prompt_model="prompt_model", seed="compile"),
        "GEPA": OptimizerQuirks("dspy:GEPA", feedback=True, prompt_model="reflection_lm", seed="init"),
        "BootstrapFewShot": OptimizerQuirks("dspy:BootstrapFewShot", valset=False),
        "LabeledFewShot": OptimizerQuirks("dspy:LabeledFewShot", valset=False, metric=False),
    },
    extensible=True,
)
# {train: N, val: M}: how many countries the optimizer sees
_BUDGET = Keys(
    allowed=("train", "val"), says="a mapping of 'train' and/or 'val' to a count of countries", each=Whole(1, 10_000)
)
_TOP_KEYS = {"optimizer", "description", "seed", "prompt_model", "settings", "compile", "objective", "tau", "budget"}
# Arguments culturalign supplies itself: the metric, models, data.
_SUPPLIED = {
    "self",
    "metric",
    "prompt_model",
    "task_model",
    "reflection_lm",
    "student",
    "teacher",
    "trainset",
    "valset",
    "seed",
}


@dataclass(frozen=True)
class Preset:
    name: str
    optimizer: str
    seed: int = 0
    description: str = ""
    prompt_model: str | None = None
    settings: dict = field(default_factory=dict)
    compile: dict = field(default_factory=dict)
    path: str = ""
    objective: str = "distance"  # what the optimizer maximises (culturalign.optimization.objectives)
    tau: float | None = None  # the contrastive objective's width in map units (None: its default)
    budget: dict = field(default_factory=dict)  # {train: N, val: M}: how many countries the optimizer sees


def shipped_presets() -> dict[str, Path]:
    return {
        Path(str(p)).stem: Path(str(p))
        for p in resources.files("culturalign.optimizers").iterdir()
        if p.name.endswith(".yaml")
    }


def _accepted(fn) -> set[str] | None:
    params = inspect.signature(fn).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return None  # takes **kwargs: anything goes
    return set(params) - _SUPPLIED


_LARGEST = 1_000_000  # no count or budget of any optimizer comes near this
_NAMES = {int: "int", float: "float", bool: "bool", str: "str", dict: "dict", list: "list", type(None): "none"}
_SAYS = {
    "int": "a whole number from 0 to 1,000,000",
    "float": "a number of 0 or more",
    "bool": "true or false",
    "str": "text",
    "dict": "a mapping",
    "list": "a list",
    "none": "null",
}


def _annotation_kinds(annotation) -> set:
    """What an optimizer's type annotation accepts, as kind names ("int", "none", ...), literal values, or
    "any" for types a YAML file cannot hold (callables, models)."""
    if isinstance(annotation, str):  # postponed annotations: 'int | None', 'dspy.LM | None'
        parts = [part.strip() for part in annotation.split("|")]
        return {p.lower() if p in ("int", "float", "bool", "str", "None") else "any" for p in parts}
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return set(typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return set().union(*(_annotation_kinds(a) for a in typing.get_args(annotation)))
    return {_NAMES.get(origin or annotation, "any")}


# Settings DSPy declares without an annotation and with a default of None: what they take.
_UNTYPED = {
    "num_threads": {"int", "none"},
    "max_errors": {"int", "none"},
    "metric_threshold": {"float", "none"},
    "stop_at_score": {"float", "none"},
    "teacher_settings": {"dict", "none"},
    "eval_kwargs": {"dict", "none"},
}


def _kinds(param: inspect.Parameter | None) -> set:
    """What a setting accepts: from the parameter's annotation, else from its default's type."""
    if param is None:
        return {"any"}  # an optimizer that takes **kwargs
    if param.annotation is not param.empty:
        return _annotation_kinds(param.annotation)
    if param.default is None or param.default is param.empty:
        return _UNTYPED.get(param.name, {"any"})
    return {_NAMES.get(type(param.default), "any")}


def _check_numbers(value, where: str) -> None:
    """Every number in a setting (nested ones too) is finite, not negative and not absurdly large."""
    if isinstance(value, (dict, list)):
        for k, v in value.items() if isinstance(value, dict) else enumerate(value):
            _check_numbers(v, f"{where}.{k}" if isinstance(value, dict) else f"{where}[{k}]")
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and not Number(0, _LARGEST).allows(value):
        raise CulturalignError(f"{where} must be a finite number from 0 to {_LARGEST:,}, got {shown(value)}")


def _fits(value, kinds: set) -> bool:
    if "any" in kinds or any(value == k and type(value) is type(k) for k in kinds if k not in _SAYS):
        return True  # anything, or one of a Literal's values
    kind = "bool" if isinstance(value, bool) else "int" if isinstance(value, int) else _NAMES.get(type(value))
    return kind in kinds or (kind == "int" and "float" in kinds)


def optimizer_class(name: str):
    """The Teleprompter class of the optimizer a preset names."""
    module, attr = OPTIMIZERS.get(name).target.split(":")
    return getattr(importlib.import_module(module), attr)


def check_settings(optimizer: str, section: str, values, where: str) -> dict:
    """Check a preset's ``settings`` (the optimizer's constructor) or ``compile`` (its compile call) before any
    of it reaches DSPy: known keys, values of the type the optimizer takes, finite non-negative numbers."""
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise CulturalignError(f"{where}: '{section}' must be a mapping of setting -> value, got {shown(values)}")
    cls = optimizer_class(optimizer)
    fn = cls.__init__ if section == "settings" else cls.compile
    params = inspect.signature(fn).parameters
    accepted = _accepted(fn)
    bad = sorted(map(str, set(values) - accepted)) if accepted is not None else []
    if bad:
        raise CulturalignError(
            f"{where}: {section} key(s) {', '.join(bad)} are not accepted by {optimizer}"
            f"{'()' if section == 'settings' else '.compile()'}; accepted: "
            f"{', '.join(sorted(accepted))}"
        )
    for key, value in values.items():
        here = f"{where}: {section}.{key}"
        kinds = _kinds(params.get(key))
        if not _fits(value, kinds):
            says = [said for k, said in _SAYS.items() if k in kinds] + sorted(repr(k) for k in kinds if k not in _SAYS)
            raise CulturalignError(f"{here} must be {' or '.join(says)}, got {shown(value)}")
        _check_numbers(value, here)
    return dict(values)


def load_preset(name_or_path: str) -> Preset:
    """A shipped preset by name (``bootstrap-rs``, ``mipro-light``, ``copro``, ``simba``, ``gepa-light``) or a file."""
    path = Path(name_or_path)
    if not path.is_file():
        shipped = shipped_presets()
        if name_or_path not in shipped:
            raise CulturalignError(
                f"unknown optimizer preset {name_or_path!r}: not a file, and not one of {', '.join(sorted(shipped))}"
            )
        path = shipped[name_or_path]
    raw = read_yaml(path, "optimizer preset") or {}
    at = Place(str(path))
    at.check(Keys(allowed=tuple(sorted(_TOP_KEYS))), raw)
    optimizer = at.get(raw, "optimizer", OneOf(tuple(OPTIMIZERS)), None)
    settings = check_settings(optimizer, "settings", raw.get("settings"), str(path))
    compile_ = check_settings(optimizer, "compile", raw.get("compile"), str(path))
    seed = at.get(raw, "seed", Whole(), 0)
    for key in ("prompt_model", "description"):
        at.get(raw, key, Text(10_000, blank=True) | Null(), None)
    budget = at.check(_BUDGET, raw.get("budget") or {}, "budget")  # null or empty: no budget
    from .objectives import make_objective

    with at.about():
        objective = make_objective(raw.get("objective", "distance"), tau=raw.get("tau"))
    return Preset(
        name=path.stem,
        optimizer=optimizer,
        seed=seed,
        description=raw.get("description") or "",
        prompt_model=raw.get("prompt_model"),
        settings=settings,
        compile=compile_,
        path=str(path),
        objective=objective.name,
        tau=raw.get("tau"),
        budget=dict(budget),
    )

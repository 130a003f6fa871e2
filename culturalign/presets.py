"""Optimizer presets: YAML files (optimizers/*.yaml) naming a DSPy optimizer and its budget, seed and threads.

Copy a shipped preset, edit it, and pass its path. Every key is checked against the optimizer's own
constructor and ``compile`` signatures, so a typo fails before any model is called.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path


from .errors import CulturalignError
from .fileio import read_yaml

OPTIMIZERS = ("BootstrapFewShotWithRandomSearch", "MIPROv2", "COPRO", "SIMBA", "GEPA", "BootstrapFewShot",
              "LabeledFewShot")
_TOP_KEYS = {"optimizer", "description", "seed", "prompt_model", "settings", "compile", "objective", "tau", "budget"}
# Arguments culturalign supplies itself: the metric, models, data.
_SUPPLIED = {"self", "metric", "prompt_model", "task_model", "reflection_lm", "student", "teacher", "trainset",
             "valset", "seed"}


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
    objective: str = "distance"  # what the optimizer maximises (culturalign.objectives)
    tau: float | None = None  # the contrastive objective's width in map units (None: its default)
    budget: dict = field(default_factory=dict)  # {train: N, val: M}: how many countries the optimizer sees


def shipped_presets() -> dict[str, Path]:
    return {Path(str(p)).stem: Path(str(p)) for p in resources.files("culturalign.optimizers").iterdir()
            if p.name.endswith(".yaml")}


def _accepted(fn) -> set[str] | None:
    params = inspect.signature(fn).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return None  # takes **kwargs: anything goes
    return set(params) - _SUPPLIED


def load_preset(name_or_path: str) -> Preset:
    """A shipped preset by name (``bootstrap-rs``, ``mipro-light``, ``copro``, ``simba``, ``gepa-light``) or a file."""
    path = Path(name_or_path)
    if not path.is_file():
        shipped = shipped_presets()
        if name_or_path not in shipped:
            raise CulturalignError(f"unknown optimizer preset {name_or_path!r}: not a file, and not one of "
                                   f"{', '.join(sorted(shipped))}")
        path = shipped[name_or_path]
    raw = read_yaml(path, "optimizer preset") or {}
    if not isinstance(raw, dict):
        raise CulturalignError(f"{path}: a preset is a mapping with keys {', '.join(sorted(_TOP_KEYS))}")
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise CulturalignError(f"{path}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_TOP_KEYS))}")
    optimizer = raw.get("optimizer")
    if optimizer not in OPTIMIZERS:
        raise CulturalignError(f"{path}: 'optimizer' must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    import dspy

    cls = getattr(dspy, optimizer)
    for section, fn in (("settings", cls.__init__), ("compile", cls.compile)):
        values = raw.get(section) or {}
        if not isinstance(values, dict):
            raise CulturalignError(f"{path}: '{section}' must be a mapping")
        accepted = _accepted(fn)
        bad = sorted(set(values) - accepted) if accepted is not None else []
        if bad:
            raise CulturalignError(f"{path}: {section} key(s) {', '.join(bad)} are not accepted by {optimizer}"
                                   f"{'()' if section == 'settings' else '.compile()'}; accepted: "
                                   f"{', '.join(sorted(accepted))}")
    seed = raw.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise CulturalignError(f"{path}: 'seed' must be an integer, got {seed!r}")
    from .objectives import make_objective

    budget = raw.get("budget") or {}
    if not isinstance(budget, dict) or set(budget) - {"train", "val"} or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in budget.values()):
        raise CulturalignError(f"{path}: 'budget' is a mapping with 'train' and/or 'val': how many countries the "
                               f"optimizer sees (whole numbers of at least 1), got {budget!r}")

    try:
        objective = make_objective(raw.get("objective", "distance"), tau=raw.get("tau"))
    except CulturalignError as exc:
        raise CulturalignError(f"{path}: {exc}") from None
    return Preset(name=path.stem, optimizer=optimizer, seed=seed, description=str(raw.get("description", "")),
                  prompt_model=raw.get("prompt_model"), settings=dict(raw.get("settings") or {}),
                  compile=dict(raw.get("compile") or {}), path=str(path), objective=objective.name,
                  tau=raw.get("tau"), budget=dict(budget))

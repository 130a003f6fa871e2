"""Experiment files: a comparison study (models x conditions x countries x seeds) as one YAML file.

Everything is validated before any model is called: unknown or misspelt keys, unknown models, conditions,
presets or saved programs, and countries all fail with a message that says where and what is allowed.

    name: local-models              # required
    models: [qwen2.5-coder-0.5b, gemma-3-270m]   # required: registry names
    conditions:                     # required: baselines, saved programs, presets compiled per model
      - no_persona
      - engineered
      - program: programs/respondent-mipro-light-qwen2.5-coder-0.5b
      - compile: bootstrap-rs       # compiled per model and seed during the run
      - {compile: labeled-fewshot, respondent: respondent_knn, objective: contrastive, tau: 0.5}
    countries: all                  # all | train | val | test | [Japan, Nigeria, ...]
    split_seed: 0                   # the train/val/test split; compiled programs are scored on its test split
    mode: logprob                   # logprob | sample
    samples: 10                     # sample mode only
    temperature: 1.0                # sample mode only (0-5)
    variants: 1                     # Tao et al.'s descriptors averaged by the engineered prompt (1-10)
    seeds: 1                        # optimizer seeds for compiled conditions: a count or a list
    parallel: 1                     # models run at once (worth raising for remote endpoints)
    shuffled_control: false         # also ask each country-conditioned condition about shuffled countries
    out: results/local-models       # default results/NAME
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..elicitation import MODES
from ..elicitation.scoring import GenerationConfig
from ..errors import CulturalignError
from ..fileio import read_yaml, shown
from ..instrument.survey import load_survey
from ..map import reference
from ..map.splits import SPLITS, country_splits
from ..map.yardsticks import SHUFFLED_SUFFIX
from ..validation import AnyOf, Bool, Fields, Keys, ListOf, OneOf, Place, Text, Whole, suggestion

BASELINES = ("no_persona", "engineered")
MAX_SEEDS = 50
# optimizer seeds: a count (seeds 0..n-1) or a list of distinct seeds, judged as a whole
_SEEDS = AnyOf(
    (Whole(1, MAX_SEEDS), ListOf(Whole(), 1, MAX_SEEDS, "seeds", unique=True)),
    f"a count from 1 to {MAX_SEEDS}, or a list of 1 to {MAX_SEEDS} distinct whole numbers from 0 to 2**32 - 1",
)
_DOCUMENT = Fields(  # every key of an experiment file and its rule (None: checked where it is used)
    {
        "conditions": ListOf(low=1, says="a non-empty list"),
        "countries": None,
        "description": None,
        "mode": OneOf(MODES),
        "models": AnyOf((Text(200), ListOf(Text(200), 1, says="names")), "a non-empty list of registry model names"),
        "name": Text(
            pattern=r"[A-Za-z0-9_-][A-Za-z0-9._ -]{0,99}",
            says="a folder name of letters, digits, '.', '_', '-' and spaces, not starting with '.' (it names "
            "results/NAME)",
        ),
        "out": None,
        "parallel": Whole(1, 64),
        "samples": Whole(1, 100),
        "seeds": _SEEDS,
        "shuffled_control": Bool(),
        "split_seed": Whole(0, 2**31 - 1),
        "survey": Text(says="the name of a shipped survey or a survey file"),
        "temperature": None,
        "variants": Whole(1, 10),
    },
    ("name", "models", "conditions"),
    "an experiment mapping",
    missing="missing required key(s): ",
)
_COMPILE_KEYS = Fields(
    {
        **dict.fromkeys(("compile", "respondent", "objective", "tau")),
        "seeds": _SEEDS,
        "prompt_format": None,
        "retrieval": Keys(says="a mapping such as {k: 5, evidence: distribution}"),
    },
    ("compile",),
)


@dataclass(frozen=True)
class Condition:
    """One column of the grid: a baseline prompt, a saved program, or a preset compiled per model."""

    name: str  # as shown in tables: no_persona, engineered, program:DIR, compiled:PRESET (NAME:shuffled)
    kind: str  # baseline | program | compile
    source: str = ""  # the program folder or the preset name/path
    shuffled: bool = False  # the condition's shuffled-country control (see culturalign.map.yardsticks)
    program: str = "respondent"  # compile: the registered program compiled
    objective: str | None = None  # compile: overrides the preset's objective
    tau: float | None = None  # compile: overrides the preset's contrastive width
    seeds: tuple[int, ...] | None = None  # compile: its own optimizer seeds instead of the experiment's
    settings: str = ""  # compile: the program's fixed settings (prompt_format, retrieval) as JSON, or ""

    @property
    def names_the_country(self) -> bool:
        """Whether the condition conditions on the target country (no persona does not)."""
        return self.kind != "baseline" or self.name == "engineered"

    def shuffled_control(self) -> "Condition":
        return replace(self, name=self.name + SHUFFLED_SUFFIX, shuffled=True)


@dataclass
class Experiment:
    name: str
    models: list[str]
    conditions: list[Condition]
    countries: list[str]  # for the baselines
    held_out: list[str]  # the test split: the countries compiled programs are judged on
    split_seed: int = 0
    generation: GenerationConfig = GenerationConfig()  # how answers are read (mode, samples, temperature)
    variants: int = 10
    seeds: list[int] = field(default_factory=lambda: [0])
    parallel: int = 1
    shuffled_control: bool = False  # also run each country-conditioned condition on shuffled countries
    survey: str = "ivs-iw10"  # the survey every cell answers: a shipped name or a survey file
    out: Path = Path("results")
    raw: dict = field(default_factory=dict)  # the file as written, kept in the report

    @property
    def mode(self) -> str:
        return self.generation.mode


def _condition(entry, i: int, where: str) -> Condition:
    from ..optimization.presets import load_preset
    from ..optimization.saved import load_manifest

    here = Place(f"{where}: conditions[{i}]")
    if isinstance(entry, str):
        if entry not in BASELINES:
            here.fail(
                f"unknown condition {shown(entry)}{suggestion(entry, BASELINES)}; a condition is one of "
                f"{', '.join(BASELINES)}, or a mapping 'program: FOLDER' or 'compile: PRESET'"
            )
        return Condition(entry, "baseline")
    if isinstance(entry, dict) and "compile" in entry and len(entry) > 1:
        return _compile_condition(entry, here)
    if not isinstance(entry, dict) or len(entry) != 1:
        here.fail(
            f"expected a baseline name or a one-key mapping (program: FOLDER, compile: PRESET), got {shown(entry)}"
        )
    ((key, value),) = entry.items()
    if key not in ("program", "compile"):
        here.fail(f"unknown key {key!r}{suggestion(key, ('program', 'compile'))}; use 'program' or 'compile'")
    if not (isinstance(value, str) and value.strip() and "\x00" not in value):
        names = "saved program folder" if key == "program" else "preset or preset file"
        here.fail(f"'{key}' must name a {names}, got {shown(value)}")
    with here.about():
        if key == "compile":
            return Condition(f"compiled:{load_preset(value).name}", "compile", value)
        manifest = load_manifest(value)
    if manifest.get("task") is not None:
        here.fail(
            f"{value} is a {manifest['program']!r} program ({manifest['task']}); comparisons run survey respondents"
        )
    return Condition(f"program:{Path(value).name}", "program", value)


def _compile_condition(entry: dict, here: Place) -> Condition:
    """``{compile: PRESET, respondent: NAME, objective: contrastive, tau: 0.5, seeds: 3, prompt_format: lean,
    retrieval: {k: 5, evidence: distribution}}``: a preset compiled per model and seed on a registered
    respondent under an objective, at the experiment's seeds or its own, with the program's fixed settings
    (each key but ``compile`` optional)."""
    from ..optimization.compile import apply_program_settings, make_student
    from ..optimization.objectives import make_objective
    from ..optimization.presets import load_preset

    here.check(_COMPILE_KEYS, entry)
    with here.about():
        preset = load_preset(str(entry["compile"]))
        program = str(entry.get("respondent", "respondent"))
        task = getattr(make_student(program), "task", None)
        if task is not None:
            raise CulturalignError(f"{program!r} is a {task} program; comparisons run survey respondents")
        objective = make_objective(entry.get("objective", preset.objective), tau=entry.get("tau", preset.tau))
        settings = {k: entry[k] for k in ("prompt_format", "retrieval") if k in entry}
        apply_program_settings(make_student(program), settings)
    parts = ([program] if program != "respondent" else []) + [preset.name]
    if objective.name != "distance" or "tau" in entry:
        parts.append(objective.name + (f"-tau{objective.tau:g}" if "tau" in entry else ""))
    parts += [f"{k}-{v}" for k, v in sorted(settings.get("retrieval", {}).items())]
    parts += [settings["prompt_format"]] if "prompt_format" in settings else []
    return Condition(
        "compiled:" + "/".join(parts),
        "compile",
        str(entry["compile"]),
        program=program,
        objective=entry.get("objective"),
        tau=entry.get("tau"),
        seeds=tuple(_seeds(entry["seeds"])) if "seeds" in entry else None,
        settings=json.dumps(settings, sort_keys=True) if settings else "",
    )


def _seeds(value) -> list[int]:
    return list(range(value)) if isinstance(value, int) else list(value)  # checked by _SEEDS


def _countries(value, split_seed: int, where: str) -> list[str]:
    if value is None or value == "all":
        return reference.countries().country.tolist()
    if value in SPLITS:
        table = country_splits(split_seed)
        return table.loc[table.split == value, "country"].tolist()
    at = Place(where)
    listed = ListOf(low=1, high=math.inf, says=f"all, {', '.join(SPLITS)}, or a non-empty list of countries")
    at.check(listed, value, "countries")  # repeats are dropped
    with at.about("countries: "):
        return list(dict.fromkeys(reference.resolve_country(str(name)) for name in value))


def parse_experiment(raw, where: str = "experiment") -> Experiment:
    """Validate an experiment mapping (as loaded from YAML); raises CulturalignError on the first problem."""
    from ..models.registry import load_registry

    at = Place(where)
    at.check(_DOCUMENT, raw)
    specs, _ = load_registry()
    models = [raw["models"]] if isinstance(raw["models"], str) else raw["models"]
    for m in models:
        if m not in specs:
            at.fail(
                f"unknown model {shown(m)}{suggestion(m, specs)}; registered: {', '.join(sorted(specs))} "
                "(add your own in ~/.config/culturalign/models.yaml)"
            )
    if len(set(models)) != len(models):
        at.fail("'models' lists a model twice")
    conditions = [_condition(c, i, where) for i, c in enumerate(raw["conditions"])]
    if len({c.name for c in conditions}) != len(conditions):
        at.fail("'conditions' lists a condition twice")
    split_seed, survey = raw.get("split_seed", 0), raw.get("survey", "ivs-iw10")
    with at.about("survey: "):
        found = load_survey(survey)
    if found.map is None:
        at.fail(
            f"survey {survey!r} has no map projection; a comparison scores map points today, so run it with "
            f"`culturalign audit --survey {survey}` (distributions) instead"
        )
    with at.about():  # the one generation config: checked here, before any model starts
        generation = GenerationConfig.of(raw.get("mode", "logprob"), raw.get("samples"), raw.get("temperature"))
    table = country_splits(split_seed)
    return Experiment(
        name=raw["name"],
        models=list(models),
        conditions=conditions,
        countries=_countries(raw.get("countries", "all"), split_seed, where),
        held_out=table.loc[table.split == "test", "country"].tolist(),
        generation=generation,
        seeds=_seeds(raw.get("seeds", 1)),
        out=output_folder(raw.get("out"), raw["name"], where),
        raw=raw,
        # the rest as written, else the Experiment's defaults
        **{k: raw[k] for k in ("split_seed", "variants", "parallel", "shuffled_control", "survey") if k in raw},
    )


def output_folder(out, name: str, where: str = "experiment") -> Path:
    """The results folder: ``out`` as written, or results/NAME. A relative path must stay inside the current
    folder (an experiment may come from someone else: it must not write elsewhere); an absolute one is the
    user's explicit choice."""
    at = Place(where)
    path = Path("results") / name if out is None else Path(at.check(Text(says="a folder path"), out, "out"))
    if not path.is_absolute() and os.path.normpath(path).split(os.sep)[0] == os.pardir:
        at.fail(
            f"'out' {shown(out)} climbs out of the current folder (it resolves to "
            f"{(Path.cwd() / path).resolve()}); use a path inside it, or an absolute path"
        )
    return path


def load_experiment(path) -> Experiment:
    return parse_experiment(read_yaml(path, "experiment file"), str(path))

"""Run an experiment's grid (models x conditions x seeds) and write its results folder.

One cell is one model under one condition (and one optimizer seed for compiled conditions); with
``shuffled_control``, each country-conditioned condition also runs on shuffled countries. The model-free
reference predictors join the tables without a cell (they cost no model call). Each finished
cell is written to ``cells/`` at once (atomically), so a crash or Ctrl-C loses at most the cell in flight,
and its model answers are in the answer cache anyway: re-running the same command resumes. Programs
compiled during the run are saved under ``programs/`` and reused while their manifest matches.

Models run ``parallel`` at a time, each in its own session; that is what spreads a grid over a cluster of
Ollama / vLLM / SGLang endpoints. Within one model, cells run in order.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import yaml

from ..fileio import atomic_write
from ..instrument.survey import load_survey
from ..map import reference
from ..map.yardsticks import SHUFFLED_SUFFIX, ShuffledCountries, with_reference_rows
from .experiment import Condition, Experiment

CELLS = "cells"


def _cell_id(exp: Experiment, model: str, condition: Condition, seed: int | None) -> str:
    """Names a cell by everything that changes its answers, so editing the experiment never reuses a stale cell."""
    countries = exp.countries if condition.kind == "baseline" else []  # the others use their program's test split
    gen = exp.generation.record()  # the one generation config: {mode} or {mode, samples, temperature, max_tokens}
    # (the temperature joins the name only when it is not the default: earlier cells keep their names)
    temperature = [gen["temperature"]] if gen.get("temperature", 1.0) != 1.0 else []
    # (likewise the survey, when it is not the default: its digest, so an edited survey file is a new cell)
    survey = [load_survey(exp.survey).digest] if exp.survey != "ivs-iw10" else []
    key = json.dumps(
        [
            model,
            condition.name,
            condition.source,
            seed,
            gen["mode"],
            gen.get("samples"),
            *temperature,
            exp.variants,
            exp.split_seed,
            countries,
            *survey,
        ]
    )
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _cell_file(exp: Experiment, model: str, condition: Condition, seed: int | None) -> Path:
    return exp.out / CELLS / f"{_cell_id(exp, model, condition, seed)}.csv"


def _dist_file(cell: Path) -> Path:
    """Where a cell's answer distributions per question are kept (beside the cell, in their own folder)."""
    return cell.parent / "distributions" / cell.name


def _folder(name: str) -> str:
    """A model or preset name as one folder name that stays inside the results folder ('..', '/' removed)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).lstrip(".") or "_"


def grid_conditions(exp: Experiment) -> list[Condition]:
    """The grid's columns: each condition, followed by its shuffled-country control when the experiment asks."""
    return [
        c
        for cond in exp.conditions
        for c in ([cond, cond.shuffled_control()] if exp.shuffled_control and cond.names_the_country else [cond])
    ]


def plan(exp: Experiment) -> list[tuple[str, Condition, int | None]]:
    """Every cell of the grid: baselines and saved programs once per model, presets once per model and seed."""
    return [
        (m, c, s)
        for m in exp.models
        for c in grid_conditions(exp)
        for s in ((c.seeds or exp.seeds) if c.kind == "compile" else [None])
    ]


class GridProgress:
    """One line per finished cell: cells done, elapsed, and an ETA from the mean time of the cells that did
    work. Cells answered from the answer cache finish at once and would make the ETA meaningless, so the
    ETA assumes the remaining cells need the model (an upper bound when some are cached too)."""

    QUICK = 5.0  # seconds: a cell this fast was served from the cache

    def __init__(self, total: int, done: int, stream=None):
        self.total, self.done = total, done
        self.worked: list[float] = []  # durations of the cells that called a model
        self.stream = stream or sys.stderr
        self.start = time.monotonic()
        self._lock = threading.Lock()

    def cell_done(self, label: str, seconds: float) -> None:
        with self._lock:
            self.done += 1
            if seconds >= self.QUICK:
                self.worked.append(seconds)
            left = self.total - self.done
            eta = (
                f"ETA {left * sum(self.worked) / len(self.worked) / 60:.1f} min"
                if self.worked and left
                else "ETA -"
                if left
                else "done"
            )
            self.stream.write(
                f"[compare] {self.done}/{self.total} cells ({label}, {seconds / 60:.1f} min); "
                f"{(time.monotonic() - self.start) / 60:.1f} min so far; {eta}\n"
            )
            self.stream.flush()


def _recipe(exp: Experiment, model: str, condition: Condition, seed: int | None):
    """Where a compiled condition's program is kept, its preset, and what its manifest must say to be reused
    (the model's identity aside: only a session knows it)."""
    from ..optimization.presets import load_preset

    recipe = condition.name.removesuffix(SHUFFLED_SUFFIX).removeprefix("compiled:")  # the preset's name by default
    out = exp.out / "programs" / _folder(model) / _folder(recipe) / f"seed-{seed}"
    preset = load_preset(condition.source)
    expected = {
        "seed": seed,
        "split.seed": exp.split_seed,
        "optimizer.settings": preset.settings,
        "optimizer.budget": preset.budget or None,
        "program": condition.program,
    }
    if condition.objective or condition.tau is not None or preset.objective != "distance":
        expected["metric.name"] = condition.objective or preset.objective
    settings = json.loads(condition.settings) if condition.settings else {}
    if "prompt_format" in settings:
        expected["program_settings.prompt_format"] = settings["prompt_format"]
    expected.update({f"program_settings.retrieval.{k}": v for k, v in settings.get("retrieval", {}).items()})
    return out, preset, expected


def _stale(exp: Experiment, model: str, condition: Condition, seed: int | None) -> bool:
    """A done cell of a compiled condition whose program no longer matches its recipe (an edited preset, say):
    its answers came from another program, so the cell is run again."""
    from ..optimization.saved import MANIFEST_FILE, manifest_matches

    if condition.kind != "compile":
        return False
    out, _, expected = _recipe(exp, model, condition, seed)
    return (out / MANIFEST_FILE).is_file() and not manifest_matches(out, expected)


def _program_for(exp: Experiment, condition: Condition, seed: int | None, session, survey):
    """The respondent a cell runs, and the countries it is judged on."""
    from ..optimization.compile import run_compile
    from ..optimization.saved import load_program, manifest_matches
    from ..programs.programs import baseline

    if condition.kind == "baseline":
        return baseline(condition.name.removesuffix(SHUFFLED_SUFFIX), exp.variants), exp.countries
    if condition.kind == "program":
        program, manifest = load_program(condition.source, survey)
        return program, manifest["split"]["test"]
    out, preset, expected = _recipe(exp, session.spec.name, condition, seed)
    settings = json.loads(condition.settings) if condition.settings else {}
    if not manifest_matches(out, {**expected, "model_identity": session.identity}):
        run_compile(
            condition.program,
            preset,
            out=out,
            seed=seed,
            split_seed=exp.split_seed,
            session=session,
            score_splits=("test",),
            progress=True,
            objective=condition.objective,
            tau=condition.tau,
            program_settings=settings,
        )
    program, manifest = load_program(out, survey)
    return program, manifest["split"]["test"]


def _run_cell(
    exp: Experiment, model: str, condition: Condition, seed: int | None, session, survey
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The cell's per-country table and its answer distributions per question (both with model and seed)."""
    from ..elicitation.scoring import score

    program, countries = _program_for(exp, condition, seed, session, survey)
    if condition.shuffled:
        program = ShuffledCountries(program, countries)
    kind = "shuffled" if condition.shuffled else condition.kind
    scored = score(session, [(condition.name, kind, program)], countries, survey, exp.generation, progress=True)
    table = scored.table
    table.insert(0, "model", model)
    table.insert(table.columns.get_loc("kind") + 1, "seed", -1 if seed is None else seed)
    table.insert(table.columns.get_loc("country") + 1, "held_out", table.country.isin(exp.held_out))
    dists = scored.distributions.assign(model=model, seed=-1 if seed is None else seed)
    return table, dists


class RunRecord:
    """``meta.json``: each model's identity, endpoint and this run's usage, the versions and the run time.
    Rewritten after every cell, so a killed run still says which model digests made its cells."""

    def __init__(self, path: Path, exp: Experiment, survey):
        from ..optimization.saved import versions

        self.path = path
        self.meta = {"models": {}, "wall_seconds": 0.0, **(json.loads(path.read_text()) if path.is_file() else {})}
        self.meta.update({"name": exp.name, "versions": versions(), "survey": survey.name, "mode": exp.mode})
        self.before, self.start = self.meta["wall_seconds"], time.monotonic()
        self._lock = threading.Lock()

    def update(self, model: str | None = None, session=None) -> None:
        with self._lock:
            if model is not None:
                self.meta["models"][model] = {
                    "identity": session.identity,
                    "endpoint": session.endpoint,
                    "usage": session.usage.as_dict(),
                }
            self.meta["wall_seconds"] = round(self.before + time.monotonic() - self.start, 1)
            atomic_write(self.path, json.dumps(self.meta, indent=2, default=str))


def _run_model(exp: Experiment, model: str, cells, progress: GridProgress, survey, record: RunRecord) -> None:
    from ..models.session import ModelSession

    session = ModelSession(model)
    try:
        record.update(model, session)
        for _, condition, seed in cells:
            began = time.monotonic()
            table, dists = _run_cell(exp, model, condition, seed, session, survey)
            cell = _cell_file(exp, model, condition, seed)
            atomic_write(_dist_file(cell), dists.to_csv(index=False))  # before the cell file, which marks it done
            atomic_write(cell, table.to_csv(index=False))
            record.update(model, session)
            progress.cell_done(
                f"{model} · {condition.name}" + ("" if seed is None else f" · seed {seed}"), time.monotonic() - began
            )
    finally:
        session.close()


def _run_models(exp: Experiment, by_model: dict, progress: GridProgress, survey, record: RunRecord) -> None:
    """Every model with cells to run. One at a time in this thread (Ctrl-C stops it at once and closes the
    session); with ``parallel`` > 1, in daemon threads, ``parallel`` at a time. Not an executor: its worker
    threads keep the process alive after Ctrl-C until they finish all their cells. Stopping mid-cell loses
    nothing: every answer is already in the cache and every finished cell on disk."""
    work = [(m, cs) for m, cs in by_model.items() if cs]
    if exp.parallel == 1:
        for model, cells in work:
            _run_model(exp, model, cells, progress, survey, record)
        return
    slots, errors = threading.Semaphore(exp.parallel), []

    def run(model, cells):
        with slots:
            try:
                _run_model(exp, model, cells, progress, survey, record)
            except BaseException as exc:  # reported by the main thread once every model has stopped
                errors.append(exc)

    threads = [threading.Thread(target=run, args=w, daemon=True, name=f"compare-{w[0]}") for w in work]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.5)  # a bounded join, so Ctrl-C reaches this thread
    if errors:
        raise errors[0]


def write_tables(exp: Experiment, cells) -> pd.DataFrame:
    """Gather the finished cells into the tidy tables (distances with each item's value; answers long)."""
    tables = [pd.read_csv(_cell_file(exp, *c)) for c in cells]
    distances = with_reference_rows(pd.concat(tables, ignore_index=True), exp.split_seed)
    region = reference.countries().set_index("country").region
    distances.insert(distances.columns.get_loc("country") + 1, "region", distances.country.map(region))
    atomic_write(exp.out / "distances.csv", distances.to_csv(index=False))
    atomic_write(exp.out / "distances.parquet", lambda fh: distances.to_parquet(fh, index=False))
    items = [c for c in distances.columns if c.startswith("item_")]
    answers = distances.melt(
        id_vars=["model", "condition", "seed", "country"], value_vars=items, var_name="item", value_name="value"
    ).assign(item=lambda d: d.item.str.removeprefix("item_"))
    atomic_write(exp.out / "answers.csv", answers.to_csv(index=False))
    atomic_write(exp.out / "answers.parquet", lambda fh: answers.to_parquet(fh, index=False))
    write_distribution_tables(exp, cells)
    return distances


def write_distribution_tables(exp: Experiment, cells) -> None:
    """The distributional block: every cell's answer distributions scored per question against each society's
    (with the yardsticks: held-out countries predicted from the training countries only, the others
    leave-one-out), into distribution_scores.csv and distribution_summary.json per model. Cells run before
    distributions were recorded are left out and counted."""
    from ..distribution.scores import cells as score_cells
    from ..distribution.scores import floor_cells, summarize
    from ..distribution.yardsticks import predictions
    from ..fileio import json_safe
    from ..instrument.populations import question_keys, target_distributions
    from ..map.splits import country_splits

    files = [_dist_file(_cell_file(exp, *c)) for c in cells]
    found = [pd.read_csv(f, keep_default_na=False, na_values=[""]) for f in files if f.is_file()]
    found = [f for f in found if len(f)]
    if not found:
        return
    survey = load_survey(exp.survey)
    keys, targets = question_keys(survey), target_distributions(survey)
    split = country_splits(exp.split_seed)
    train = split.loc[split.split == "train", "country"].tolist()
    dists = pd.concat(found, ignore_index=True)
    dists["part"] = dists.part.map(lambda v: v if isinstance(v, str) else "")
    tables, summaries = [], {}
    for model, sub in dists.groupby("model", sort=False):
        countries = sorted(sub.country.unique())
        held, seen = [c for c in countries if c in exp.held_out], [c for c in countries if c not in exp.held_out]
        refs = [predictions(survey, held, known=train), predictions(survey, seen)]
        both = pd.concat([sub.drop(columns=["model", "seed"]), *[r for r in refs if len(r)]], ignore_index=True)
        table = score_cells(both, targets, keys).assign(model=model)
        tables.append(table)
        summaries[model] = summarize(table, floor_cells(targets, countries))
    summaries["cells_without_distributions"] = len(files) - len(found)
    atomic_write(exp.out / "distribution_scores.csv", pd.concat(tables, ignore_index=True).to_csv(index=False))
    atomic_write(exp.out / "distribution_summary.json", json.dumps(json_safe(summaries), indent=2))


def run_compare(exp: Experiment, *, out: str | Path | None = None) -> Path:
    """Run every missing cell of the grid, then write the tables, figures and report. Returns the folder."""
    from ..report.report import write_report

    if out is not None:
        exp.out = Path(out)
    exp.out.mkdir(parents=True, exist_ok=True)
    atomic_write(exp.out / "experiment.yaml", yaml.safe_dump(exp.raw, sort_keys=False))
    survey = load_survey(exp.survey)
    cells = plan(exp)
    todo = [c for c in cells if not _cell_file(exp, *c).is_file() or _stale(exp, *c)]
    progress = GridProgress(len(cells), len(cells) - len(todo))
    if len(todo) < len(cells):
        sys.stderr.write(f"[compare] resuming: {len(cells) - len(todo)} of {len(cells)} cells already done\n")
    record = RunRecord(exp.out / "meta.json", exp, survey)
    _run_models(exp, {m: [c for c in todo if c[0] == m] for m in exp.models}, progress, survey, record)
    write_tables(exp, cells)
    record.update()
    write_report(exp.out)
    return exp.out

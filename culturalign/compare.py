"""Run an experiment's grid (models x conditions x seeds) and write its results folder.

One cell is one model under one condition (and one optimizer seed for compiled conditions). Each finished
cell is written to ``cells/`` at once (atomically), so a crash or Ctrl-C loses at most the cell in flight,
and its model answers are in the answer cache anyway: re-running the same command resumes. Programs
compiled during the run are saved under ``programs/`` and reused while their manifest matches.

Models run ``parallel`` at a time, each in its own session; that is what spreads a grid over a cluster of
Ollama / vLLM / SGLang endpoints. Within one model, cells run in order.
"""
from __future__ import annotations

import hashlib
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import yaml

from . import reference
from .experiment import Condition, Experiment
from .fileio import atomic_write

CELLS = "cells"


def _cell_id(exp: Experiment, model: str, condition: Condition, seed: int | None) -> str:
    """Names a cell by everything that changes its answers, so editing the experiment never reuses a stale cell."""
    countries = exp.countries if condition.kind == "baseline" else []  # the others use their program's test split
    samples = exp.samples if exp.mode == "sample" else None
    key = json.dumps([model, condition.name, condition.source, seed, exp.mode, samples, exp.variants,
                      exp.split_seed, countries])
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _cell_file(exp: Experiment, model: str, condition: Condition, seed: int | None) -> Path:
    return exp.out / CELLS / f"{_cell_id(exp, model, condition, seed)}.csv"


def plan(exp: Experiment) -> list[tuple[str, Condition, int | None]]:
    """Every cell of the grid: baselines and saved programs once per model, presets once per model and seed."""
    return [(m, c, s) for m in exp.models for c in exp.conditions
            for s in (exp.seeds if c.kind == "compile" else [None])]


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
            eta = (f"ETA {left * sum(self.worked) / len(self.worked) / 60:.1f} min" if self.worked and left
                   else "ETA -" if left else "done")
            self.stream.write(f"[compare] {self.done}/{self.total} cells ({label}, {seconds / 60:.1f} min); "
                              f"{(time.monotonic() - self.start) / 60:.1f} min so far; {eta}\n")
            self.stream.flush()


def _program_for(exp: Experiment, condition: Condition, seed: int | None, session, survey):
    """The respondent a cell runs, and the countries it is judged on."""
    from .compile import run_compile
    from .programs import baseline
    from .presets import load_preset
    from .saved import load_program, manifest_matches

    if condition.kind == "baseline":
        return baseline(condition.name, exp.variants), exp.countries
    if condition.kind == "program":
        program, manifest = load_program(condition.source, survey)
        return program, manifest["split"]["test"]
    out = exp.out / "programs" / session.spec.name / Path(condition.source).stem / f"seed-{seed}"
    preset = load_preset(condition.source)
    if not manifest_matches(out, {"seed": seed, "model_identity": session.identity, "split.seed": exp.split_seed,
                                  "optimizer.settings": preset.settings}):
        run_compile("respondent", preset, out=out, seed=seed, split_seed=exp.split_seed,
                    session=session, score_splits=("test",), progress=True)
    program, manifest = load_program(out, survey)
    return program, manifest["split"]["test"]


def _run_cell(exp: Experiment, model: str, condition: Condition, seed: int | None, session, survey) -> pd.DataFrame:
    from .compile import score_split

    program, countries = _program_for(exp, condition, seed, session, survey)
    table = score_split(session, program, countries, survey, progress=True, mode=exp.mode, samples=exp.samples,
                        items=True).drop(columns="score")
    table.insert(0, "model", model)
    table.insert(1, "condition", condition.name)
    table.insert(2, "kind", condition.kind)
    table.insert(3, "seed", -1 if seed is None else seed)
    table.insert(5, "held_out", table.country.isin(exp.held_out))
    return table


def _run_model(exp: Experiment, model: str, cells, progress: GridProgress, survey) -> dict:
    from .models.session import ModelSession

    session = ModelSession(model)
    try:
        for _, condition, seed in cells:
            began = time.monotonic()
            table = _run_cell(exp, model, condition, seed, session, survey)
            atomic_write(_cell_file(exp, model, condition, seed), table.to_csv(index=False))
            progress.cell_done(f"{model} · {condition.name}" + ("" if seed is None else f" · seed {seed}"),
                               time.monotonic() - began)
        return {"identity": session.identity, "endpoint": session.endpoint, "usage": session.usage.as_dict()}
    finally:
        session.close()


def write_tables(exp: Experiment, cells) -> pd.DataFrame:
    """Gather the finished cells into the tidy tables (distances with each item's value; answers long)."""
    tables = [pd.read_csv(_cell_file(exp, *c)) for c in cells]
    distances = pd.concat(tables, ignore_index=True)
    region = reference.countries().set_index("country").region
    distances.insert(distances.columns.get_loc("country") + 1, "region", distances.country.map(region))
    atomic_write(exp.out / "distances.csv", distances.to_csv(index=False))
    atomic_write(exp.out / "distances.parquet", lambda fh: distances.to_parquet(fh, index=False))
    items = [c for c in distances.columns if c.startswith("item_")]
    answers = distances.melt(id_vars=["model", "condition", "seed", "country"], value_vars=items, var_name="item",
                             value_name="value").assign(item=lambda d: d.item.str.removeprefix("item_"))
    atomic_write(exp.out / "answers.csv", answers.to_csv(index=False))
    atomic_write(exp.out / "answers.parquet", lambda fh: answers.to_parquet(fh, index=False))
    return distances


def run_compare(exp: Experiment, *, out: str | Path | None = None) -> Path:
    """Run every missing cell of the grid, then write the tables, figures and report. Returns the folder."""
    from .report import write_report
    from .saved import versions
    from .survey import load_survey

    if out is not None:
        exp.out = Path(out)
    exp.out.mkdir(parents=True, exist_ok=True)
    atomic_write(exp.out / "experiment.yaml", yaml.safe_dump(exp.raw, sort_keys=False))
    survey = load_survey()
    cells = plan(exp)
    todo = [c for c in cells if not _cell_file(exp, *c).is_file()]
    progress = GridProgress(len(cells), len(cells) - len(todo))
    if len(todo) < len(cells):
        sys.stderr.write(f"[compare] resuming: {len(cells) - len(todo)} of {len(cells)} cells already done\n")
    meta_path = exp.out / "meta.json"
    meta = {"models": {}, "wall_seconds": 0.0, **(json.loads(meta_path.read_text()) if meta_path.is_file() else {})}
    start = time.monotonic()
    by_model = {m: [c for c in todo if c[0] == m] for m in exp.models}
    with ThreadPoolExecutor(max_workers=exp.parallel) as pool:
        futures = {m: pool.submit(_run_model, exp, m, cs, progress, survey) for m, cs in by_model.items() if cs}
        for m, fut in futures.items():
            meta["models"][m] = fut.result()  # re-raises the first failure, after the others finish
    meta.update({"name": exp.name, "versions": versions(), "survey": survey.name, "mode": exp.mode,
                 "wall_seconds": round(meta["wall_seconds"] + time.monotonic() - start, 1)})
    write_tables(exp, cells)
    atomic_write(meta_path, json.dumps(meta, indent=2, default=str))
    write_report(exp.out)
    return exp.out

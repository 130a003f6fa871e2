"""Experiment files, the comparison grid and its report: validation with real files, control flow with the
scripted model (the real-model run is tests/test_compare_e2e.py)."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from culturalign.errors import CulturalignError
from culturalign.models.cache import AnswerCache
from culturalign.runs.experiment import load_experiment, parse_experiment

from fakes import ctrl_c_answered, fake_model_session

GOOD = {
    "name": "tiny",
    "models": ["qwen2.5-coder-0.5b"],
    "conditions": ["no_persona", "engineered"],
    "countries": ["Japan", "Nigeria", "Sweden"],
    "variants": 1,
}


def test_a_valid_file_parses_with_defaults(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text(
        "name: tiny\nmodels: [qwen2.5-coder-0.5b, gemma-3-270m]\n"
        "conditions: [no_persona, engineered, {compile: bootstrap-rs}]\ncountries: test\nseeds: 2\n"
    )
    exp = load_experiment(path)
    assert exp.models == ["qwen2.5-coder-0.5b", "gemma-3-270m"] and exp.seeds == [0, 1]
    assert [c.name for c in exp.conditions] == ["no_persona", "engineered", "compiled:bootstrap-rs"]
    assert exp.countries == exp.held_out and len(exp.held_out) == 21
    assert str(exp.out) == "results/tiny" and exp.mode == "logprob" and exp.variants == 10


@pytest.mark.parametrize(
    "change, message",
    [
        ({"models": ["qwen-9000"]}, "unknown model 'qwen-9000'"),
        (
            {"conditions": ["no_persona", {"compile": "mipro-heavy"}]},
            "conditions[1]: unknown optimizer preset 'mipro-heavy'",
        ),
        ({"conditons": ["no_persona"]}, "unknown key(s) 'conditons' (did you mean 'conditions'?)"),
        ({"name": None}, "'name' must be a folder name"),
        ({"conditions": ["engineerd"]}, "unknown condition 'engineerd' (did you mean 'engineered'?)"),
        ({"conditions": [{"program": "no/such/folder"}]}, "no saved program at no/such/folder"),
        ({"countries": ["Atlantis"]}, "Atlantis"),
        ({"seeds": [0, 0]}, "'seeds' must be a count"),
        ({"mode": "vibes"}, "'mode' must be one of logprob, sample"),
        ({"variants": 11}, "'variants' must be a whole number from 1 to 10"),
    ],
)
def test_invalid_experiments_fail_with_a_clear_message(change, message):
    raw = {**GOOD, **change}
    if "conditons" in change:
        del raw["conditions"]
    with pytest.raises(CulturalignError) as err:
        parse_experiment(raw, "exp.yaml")
    assert message in str(err.value) and str(err.value).startswith("exp.yaml")


def test_missing_fields_and_broken_files(tmp_path):
    with pytest.raises(CulturalignError, match="missing required key.*models"):
        parse_experiment({"name": "x", "conditions": ["no_persona"]})
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(CulturalignError, match="not valid YAML"):
        load_experiment(bad)
    with pytest.raises(CulturalignError, match="not found"):
        load_experiment(tmp_path / "none.yaml")


def test_cli_reports_the_error_before_any_model_starts(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text("name: tiny\nmodels: [qwen2.5-coder-0.5b]\nconditions: [no_persona]\ncountres: all\n")
    proc = subprocess.run(
        [sys.executable, "-m", "culturalign.cli", "compare", str(path)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2 and "did you mean 'countries'" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "results").exists()


def _bind_real_sessions():
    """Import the modules that bind ``ModelSession`` by name before it is faked: imported lazily under the fake,
    they would keep it after the test, and a later test in the process would compile against a fake model."""
    import culturalign.optimization.compile  # noqa: F401
    import culturalign.runs.audit  # noqa: F401
    import culturalign.runs.evaluate  # noqa: F401


def test_grid_runs_resumes_and_rerenders_without_a_model(tmp_path, monkeypatch):
    from culturalign.runs import compare
    from culturalign.models import session as session_module

    _bind_real_sessions()

    started = []

    def fake(name):
        started.append(name)
        s = fake_model_session(AnswerCache(tmp_path / "answers.sqlite"))
        return s

    monkeypatch.setattr(session_module, "ModelSession", fake)
    preset = tmp_path / "boot.yaml"
    preset.write_text(
        "optimizer: BootstrapFewShot\nsettings: {max_bootstrapped_demos: 1, max_labeled_demos: 0,"
        " metric_threshold: 0.0}\n"
    )
    exp = parse_experiment(
        {
            **GOOD,
            "conditions": ["no_persona", "engineered", {"compile": str(preset)}],
            "seeds": 2,
            "out": str(tmp_path / "res"),
            "shuffled_control": True,
        }
    )
    # two baselines, the preset once per seed, and a shuffled control of each condition that names the country
    assert len(compare.plan(exp)) == 7
    folder = compare.run_compare(exp)
    d = pd.read_parquet(folder / "distances.parquet")
    assert set(d.condition) == {
        "no_persona",
        "engineered",
        "compiled:boot",
        "engineered:shuffled",
        "compiled:boot:shuffled",
        "centroid",
        "region_centroid",
        "neighbours",
    }
    assert set(d[d.kind == "reference"].country) == set(d[d.kind != "reference"].country)  # no model call
    assert set(d[d.condition == "engineered:shuffled"].country) == {"Japan", "Nigeria", "Sweden"}
    assert set(d[d.condition == "engineered"].country) == {"Japan", "Nigeria", "Sweden"}
    held = set(d[d.condition == "compiled:boot"].country)
    assert held == set(exp.held_out) and d[d.condition == "compiled:boot"].seed.nunique() == 2
    answers = pd.read_csv(folder / "answers.csv")
    assert len(answers) == len(d) * 10 and set(answers.item) >= {"A008", "Y003"}
    for name in (
        "summary.csv",
        "held_out.csv",
        "by_region.csv",
        "stability.csv",
        "report.html",
        "figures/skill.png",
        "figures/distances.png",
        "figures/regions.png",
        "figures/steering.png",
        "figures/map_qwen2.5-coder-0.5b.png",
    ):
        assert (folder / name).is_file(), name
    held_out = pd.read_csv(folder / "held_out.csv").set_index("condition")
    # held-out rows only: of the baselines' countries only Sweden is in the test split
    assert held_out.countries.to_dict() == {
        "no_persona": 1,
        "engineered": 1,
        "compiled:boot": 21,
        "centroid": 21,
        "region_centroid": 21,
        "neighbours": 21,
    }
    assert held_out.loc["centroid", "skill"] == 0 and held_out.loc["compiled:boot", "lead_over_shuffled"] == 0
    assert pd.read_csv(folder / "summary.csv").set_index("condition").loc["engineered", "countries"] == 3
    assert set(pd.read_csv(folder / "stability.csv").seed) == {0, 1}
    assert held_out.loc["compiled:boot", "improved_vs_engineered"] in (0.0, 1.0)  # judged on Sweden alone
    regions = pd.read_csv(folder / "by_region.csv")
    assert set(regions.scope) == {"all run", "held out"}
    held_regions = regions[(regions.scope == "held out") & ~regions.condition.str.endswith(":shuffled")]
    assert held_regions.groupby("condition").countries.sum().to_dict() == held_out.countries.to_dict()
    # the compiled condition ran on other countries than the baselines: the heat map compares held-out ones
    assert "By cultural region (held out countries)" in (folder / "report.html").read_text()
    assert (folder / "programs" / "fake" / "boot" / "seed-1" / "manifest.json").is_file()

    # resume: nothing is recomputed; after losing one cell only that cell runs
    calls_before = len(started)
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps({"models": meta["models"]}))  # an older or hand-edited meta
    compare.run_compare(exp)
    assert len(started) == calls_before  # no model session was even opened
    next((folder / "cells").glob("*.csv")).unlink()
    compare.run_compare(exp)
    assert len(started) == calls_before + 1
    # editing the experiment never reuses a stale cell: more countries rerun the baselines, not the programs
    wider = parse_experiment({**exp.raw, "countries": ["Japan", "Nigeria", "Sweden", "Brazil"]})
    compare.run_compare(wider)
    assert len(started) == calls_before + 2
    d = pd.read_csv(folder / "distances.csv").query("kind != 'reference'")
    assert set(d[d.condition == "engineered"].country) == {"Japan", "Nigeria", "Sweden", "Brazil"}
    assert len(d[d.condition == "compiled:boot"]) == 2 * len(exp.held_out)

    # re-render in a fresh process that could not start a model
    (folder / "report.html").unlink()
    (folder / "figures" / "regions.png").unlink()
    env_python = [sys.executable, "-m", "culturalign.cli", "report", str(folder)]
    proc = subprocess.run(env_python, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    page = (folder / "report.html").read_text()
    assert (folder / "figures" / "regions.png").is_file()
    assert "data:image/png;base64," in page and "http://" not in page and "https://" not in page
    assert "Held-out countries" in page and "compiled:boot" in page and "name: tiny" in page
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["models"]["qwen2.5-coder-0.5b"]["identity"] == "fake"


def test_report_needs_results(tmp_path):
    from culturalign.report.report import write_report

    with pytest.raises(CulturalignError, match="no comparison results"):
        write_report(tmp_path)


def test_grid_progress_eta_ignores_cells_served_from_the_cache():
    import io

    from culturalign.runs.compare import GridProgress

    out = io.StringIO()
    progress = GridProgress(total=4, done=0, stream=out)
    progress.cell_done("a", 0.2)  # from the cache: no basis for an ETA yet
    progress.cell_done("b", 120.0)  # a real cell: two left at two minutes each
    progress.cell_done("c", 0.1)
    progress.cell_done("d", 60.0)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("[compare] 1/4 cells (a,") and lines[0].endswith("ETA -")
    assert lines[1].endswith("ETA 4.0 min") and lines[2].endswith("ETA 2.0 min")
    assert lines[3].endswith("done")


def _fake_sessions(tmp_path, monkeypatch):
    from culturalign.models import session as session_module

    _bind_real_sessions()
    monkeypatch.setattr(
        session_module, "ModelSession", lambda name: fake_model_session(AnswerCache(tmp_path / "answers.sqlite"))
    )


def test_ctrl_c_stops_the_grid_keeps_finished_cells_and_resumes(tmp_path, monkeypatch):
    from culturalign.runs import compare

    _fake_sessions(tmp_path, monkeypatch)
    exp = parse_experiment({**GOOD, "out": str(tmp_path / "res")})
    real, calls = compare._run_cell, []

    def interrupted_second_cell(*args):
        calls.append(args[2].name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(compare, "_run_cell", interrupted_second_cell)
    with pytest.raises(KeyboardInterrupt):
        compare.run_compare(exp)
    assert len(list((tmp_path / "res" / "cells").glob("*.csv"))) == 1
    assert json.loads((tmp_path / "res" / "meta.json").read_text())["models"]["qwen2.5-coder-0.5b"]["identity"]
    monkeypatch.setattr(compare, "_run_cell", real)
    calls.clear()
    compare.run_compare(exp)
    assert len(list((tmp_path / "res" / "cells").glob("*.csv"))) == 2


_PARALLEL_CTRL_C = """
import _thread, sys, threading, time
sys.path.insert(0, sys.argv[2])
from fakes import fake_model_session
from culturalign.models import session as session_module
from culturalign.models.cache import AnswerCache
from culturalign.runs import compare
from culturalign.runs.experiment import parse_experiment

session_module.ModelSession = lambda name: fake_model_session(AnswerCache(sys.argv[1] + "/answers.sqlite"))
compare._run_cell = lambda *a: time.sleep(60)  # two long cells in flight
exp = parse_experiment({"name": "tiny", "models": ["qwen2.5-coder-0.5b", "gemma-3-270m"], "parallel": 2,
                        "conditions": ["no_persona"], "countries": ["Japan"], "out": sys.argv[1] + "/res"})
threading.Timer(1.0, _thread.interrupt_main).start()  # Ctrl-C after a second
start = time.monotonic()
try:
    compare.run_compare(exp)
except KeyboardInterrupt:
    print(f"interrupted after {time.monotonic() - start:.1f} s")
"""


def test_ctrl_c_is_not_held_up_by_models_running_in_parallel(tmp_path):
    # in a fresh interpreter: models started in-process by earlier tests must not decide how Ctrl-C lands
    tests = str(Path(__file__).parent)
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", _PARALLEL_CTRL_C, str(tmp_path), tests],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=ctrl_c_answered,
    )
    assert proc.returncode == 0 and "interrupted after" in proc.stdout, proc.stderr[-2000:]
    assert time.monotonic() - start < 30  # not the 60 s the cells would take
    assert float(proc.stdout.split()[-2]) < 15


def test_a_study_without_held_out_countries_still_reports_skill(tmp_path, monkeypatch):
    from culturalign.runs import compare
    from culturalign.models import session as session_module

    _bind_real_sessions()
    monkeypatch.setattr(
        session_module, "ModelSession", lambda name: fake_model_session(AnswerCache(tmp_path / "a.sqlite"))
    )
    exp = parse_experiment({**GOOD, "countries": ["Japan", "Nigeria"], "out": str(tmp_path / "res")})
    folder = compare.run_compare(exp)
    assert (folder / "figures" / "skill.png").is_file()
    assert "Skill against the centroid (all run countries)" in (folder / "report.html").read_text()
    assert pd.read_csv(folder / "summary.csv").set_index("condition").loc["centroid", "skill"] == 0


def test_a_done_cell_whose_program_no_longer_matches_its_preset_is_run_again(tmp_path):
    """Resuming reuses a finished cell only while the program it ran is the one its recipe compiles: an edited
    preset (here, another grid) makes the compiled cells and their shuffled controls stale, never the baselines."""
    import shutil

    from culturalign.runs import compare

    exp = load_experiment(Path(__file__).parents[1] / "experiments" / "evidence.yaml")
    committed = exp.out
    cells = compare.plan(exp)
    assert not any(compare._stale(exp, *c) for c in cells)  # the committed study matches today's presets
    exp.out = tmp_path
    shutil.copytree(committed / "programs", tmp_path / "programs")
    for manifest in (tmp_path / "programs").rglob("manifest.json"):
        if "retrieval-search" in str(manifest):
            data = json.loads(manifest.read_text())
            data["optimizer"]["settings"]["grid"] = {"evidence": ["typical"], "k": [3]}
            manifest.write_text(json.dumps(data))
    stale = {(c[1].name, c[2]) for c in cells if compare._stale(exp, *c)}
    recipe = "compiled:respondent_knn/retrieval-search/contrastive"
    assert stale == {(name, seed) for name in (recipe, recipe + ":shuffled") for seed in (0, 1, 2)}

"""The committed studies (results/local-models/, results/qwen-1.5b/) are complete for their experiment files,
and their reports re-render from the committed tables to the numbers their READMEs quote (no model needed)."""

import shutil
from pathlib import Path

import pandas as pd
import pytest

from culturalign.report.report import write_report
from culturalign.runs import compare
from culturalign.runs.experiment import load_experiment

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "results" / "local-models"
STUDIES = ["local-models", "qwen-1.5b", "evidence"]


@pytest.mark.parametrize("name", STUDIES)
def test_every_cell_of_the_experiment_is_committed(name):
    exp = load_experiment(ROOT / "experiments" / f"{name}.yaml")
    exp.out = ROOT / "results" / name
    cells = compare.plan(exp)
    assert [c for c in cells if not compare._cell_file(exp, *c).is_file()] == []


def test_the_main_study_runs_the_baselines_on_every_country():
    exp = load_experiment(ROOT / "experiments" / "local-models.yaml")
    d = pd.read_parquet(STUDY / "distances.parquet")
    baselines = d[d.kind == "baseline"].groupby(["model", "condition"]).country.nunique()
    assert len(baselines) == 4 and (baselines == 107).all()
    compiled = d[d.kind.isin(["program", "compile"])]
    assert compiled.held_out.all() and set(compiled.country) == set(exp.held_out)


@pytest.mark.parametrize("name", STUDIES)
def test_report_rerenders_to_the_committed_numbers(name, tmp_path):
    study = ROOT / "results" / name
    for file in ("distances.parquet", "meta.json", "experiment.yaml"):
        shutil.copy(study / file, tmp_path / file)
    write_report(tmp_path)
    for table in ("summary.csv", "held_out.csv", "by_region.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / table), pd.read_csv(study / table), rtol=1e-9)
    held = pd.read_csv(tmp_path / "held_out.csv").set_index(["model", "condition"]).mean_distance
    quoted = study.joinpath("README.md").read_text()  # the study's own reading quotes every held-out mean
    for value in held:
        assert f"{value:.3f}" in quoted
    # ... and every claim stands against the constant: each held-out skill is quoted too
    skill = pd.read_csv(tmp_path / "held_out.csv").query("condition != 'centroid'").skill
    for value in skill:
        assert f"{value:+.2f}".replace("-", "−") in quoted
    assert (tmp_path / "report.html").stat().st_size > 100_000  # figures embedded


def test_the_main_study_carries_every_yardstick():
    """Reference predictors for every model and country, a shuffled control for every condition that names the
    country, and three optimizer seeds for the compiled condition."""
    d = pd.read_parquet(STUDY / "distances.parquet")
    ran = d[d.kind != "reference"]
    for model, sub in d.groupby("model"):
        refs = sub[sub.kind == "reference"]
        assert set(refs.condition) == {"centroid", "region_centroid"}
        assert set(refs.country) == set(ran[ran.model == model].country)
    controlled = {c.removesuffix(":shuffled") for c in d[d.kind == "shuffled"].condition}
    assert controlled == {
        "engineered",
        "program:respondent-mipro-light-qwen2.5-coder-0.5b",
        "compiled:labeled-fewshot",
        "program:respondent_knn-bootstrap-steer-contrastive-qwen2.5-coder-0.5b",
    }
    assert set(d[d.kind == "compile"].seed) == {0, 1, 2}
    held = pd.read_csv(STUDY / "held_out.csv").set_index(["model", "condition"])
    assert (held.xs("centroid", level="condition").skill == 0).all()
    assert held.lead_over_shuffled.notna().sum() == 8  # 4 controlled conditions x 2 models

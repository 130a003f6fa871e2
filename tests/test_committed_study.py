"""The committed study (results/local-models/) is complete for its experiment file, and its report re-renders
from the committed tables to the same numbers (no model needed)."""
import shutil
from pathlib import Path

import pandas as pd

from culturalign import compare
from culturalign.experiment import load_experiment
from culturalign.report import write_report

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "results" / "local-models"


def test_every_cell_of_the_experiment_is_committed():
    exp = load_experiment(ROOT / "experiments" / "local-models.yaml")
    exp.out = STUDY
    cells = compare.plan(exp)
    assert [c for c in cells if not compare._cell_file(exp, *c).is_file()] == []
    d = pd.read_parquet(STUDY / "distances.parquet")
    baselines = d[d.kind == "baseline"].groupby(["model", "condition"]).country.nunique()
    assert len(baselines) == 4 and (baselines == 107).all()
    compiled = d[d.kind != "baseline"]
    assert compiled.held_out.all() and set(compiled.country) == set(exp.held_out)


def test_report_rerenders_to_the_committed_numbers(tmp_path):
    for name in ("distances.parquet", "meta.json", "experiment.yaml"):
        shutil.copy(STUDY / name, tmp_path / name)
    write_report(tmp_path)
    for table in ("summary.csv", "held_out.csv", "by_region.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / table), pd.read_csv(STUDY / table), rtol=1e-9)
    held = pd.read_csv(tmp_path / "held_out.csv").set_index(["model", "condition"]).mean_distance
    # the numbers quoted in results/local-models/README.md and the README
    quoted = STUDY.joinpath("README.md").read_text()
    for value in held:
        assert f"{value:.3f}" in quoted
    assert held["gemma-3-270m", "no_persona"] < held["gemma-3-270m", "engineered"]
    assert (tmp_path / "report.html").stat().st_size > 100_000  # figures embedded

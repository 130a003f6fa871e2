"""A small comparison end to end with the real embedded default model, and its report re-rendered in a
process that could not start any model."""

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from cli_runner import cli

pytestmark = [pytest.mark.model, pytest.mark.timeout(3000)]


def test_compare_two_conditions_then_rerender_without_a_model(cache_root, tmp_path):
    exp = tmp_path / "exp.yaml"
    exp.write_text(
        "name: e2e\nmodels: [qwen2.5-coder-0.5b]\nconditions: [no_persona, engineered]\n"
        "countries: [Japan, Nigeria, Sweden]\nvariants: 1\n"
    )
    out = tmp_path / "res"
    printed = cli("compare", str(exp), "--out", str(out))
    assert "engineered" in printed and "report.html" in printed
    d = pd.read_parquet(out / "distances.parquet")
    # two conditions answered by the model, three model-free yardsticks beside them
    assert len(d) == 15 and set(d.country) == {"Japan", "Nigeria", "Sweden"}
    assert d.groupby("kind").size().to_dict() == {"baseline": 6, "reference": 9}
    assert set(d[d.kind == "reference"].condition) == {"centroid", "region_centroid", "neighbours"}
    no_persona = d[d.condition == "no_persona"]
    assert no_persona[["x", "y"]].nunique().max() == 1  # no persona: one point whatever the target
    engineered = d[d.condition == "engineered"]
    assert engineered[["x", "y"]].drop_duplicates().shape[0] == 3  # the cultural prompt moves the model
    assert d.distance.between(0, 8).all()
    summary = pd.read_csv(out / "summary.csv").set_index("condition")
    assert summary.loc["engineered", "countries"] == 3
    assert summary.loc["engineered", "mean_distance"] == pytest.approx(engineered.distance.mean())
    assert 0 <= summary.loc["engineered", "improved_vs_no_persona"] <= 1
    assert summary.loc["centroid", "skill"] == 0 and summary.loc["engineered", "skill"] < 1
    # the distributional block: the same answers, per question, against each society's published distribution
    dist = pd.read_csv(out / "distribution_scores.csv")
    assert {"no_persona", "engineered", "uniform", "marginal", "region_marginal", "neighbours"} <= set(dist.condition)
    assert set(dist.country) == {"Japan", "Nigeria"}  # Sweden has no published WVS-7 shares
    assert dist.tv.between(0, 1).all() and dist.question.nunique() == 13
    found = json.loads((out / "distribution_summary.json").read_text())["qwen2.5-coder-0.5b"]
    assert found["marginal"]["skill_tv"] == 0 and found["noise_floor"]["tv"] < found["marginal"]["tv"]

    # the report is rebuilt from the tables alone: a broken model registry cannot matter
    before = (out / "summary.csv").read_text()
    (out / "report.html").unlink()
    broken = tmp_path / "models.yaml"
    broken.write_text("models: [unclosed\n")
    env = {**os.environ, "CULTURALIGN_MODELS": str(broken)}
    proc = subprocess.run(
        [sys.executable, "-m", "culturalign.cli", "report", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / "report.html").stat().st_size > 50_000 and (out / "summary.csv").read_text() == before
    assert "Answer distributions per question" in (out / "report.html").read_text()

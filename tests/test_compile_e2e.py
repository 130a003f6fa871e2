"""Compile, save, reload in a fresh process and evaluate, with the real embedded default model."""

import json

import pytest

from cli_runner import cli

pytestmark = [pytest.mark.model, pytest.mark.timeout(3000)]

SMALL_PRESET = """optimizer: BootstrapFewShotWithRandomSearch
description: a CI-sized random search over bootstrapped demo sets
seed: 0
settings: {max_bootstrapped_demos: 2, max_labeled_demos: 0, num_candidate_programs: 1, num_threads: 1,
           metric_threshold: 0.01}
"""


def test_compile_save_reload_in_a_fresh_process_and_evaluate(cache_root, tmp_path):
    preset = tmp_path / "small.yaml"
    preset.write_text(SMALL_PRESET)
    out = tmp_path / "prog"
    cli(
        "compile",
        "--program",
        "respondent",
        "--optimizer",
        str(preset),
        "--train",
        "Sweden,Nigeria",
        "--val",
        "Japan",
        "--test",
        "Brazil",
        "--out",
        str(out),
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["name"] == "qwen2.5-coder-0.5b" and manifest["model_identity"].startswith("gguf-sha256:")
    assert manifest["split"]["test"] == ["Brazil"] and "Brazil" not in manifest["split"]["train"]
    assert manifest["optimizer"]["optimizer"] == "BootstrapFewShotWithRandomSearch"
    assert manifest["usage"]["calls"] > 0 and manifest["wall_seconds"] > 0
    state = json.loads((out / "program.json").read_text())
    demos = state["respond"]["demos"]
    assert 1 <= len(demos) <= 2  # bootstrapped from training countries' own answers
    assert {d["country"] for d in demos} <= {"Sweden", "Nigeria"} and all(d["answer"].isdigit() for d in demos)

    # a fresh process reloads the program and gives the same answers (the test score is recomputed)
    summary = json.loads(cli("evaluate", str(out), "--split", "test", "--variants", "1", "--json"))
    assert summary["countries"] == ["Brazil"] and summary["split"] == "test"
    assert summary["compiled"]["mean_distance"] == pytest.approx(manifest["scores"]["test"]["mean_distance"], abs=1e-9)
    for cond in ("compiled", "engineered", "no_persona"):
        assert summary[cond]["mean_distance"] > 0
    assert summary["improved_share_vs_engineered"] in (0.0, 1.0)

    # stability: the same recipe compiled with a second optimizer seed, evaluated on the same countries
    spread = json.loads(cli("evaluate", str(out), "--split", "test", "--variants", "1", "--seeds", "2", "--json"))
    assert [r["seed"] for r in spread["seeds"]] == [0, 1]
    assert spread["seeds"][0]["mean_distance"] == pytest.approx(summary["compiled"]["mean_distance"], abs=1e-9)
    assert json.loads((out / "seeds" / "seed-1" / "manifest.json").read_text())["seed"] == 1
    assert spread["seed_spread"]["mean_distance_sd"] >= 0

"""The steering respondents compile, save, reload in a fresh process and evaluate to their saved figures,
with the real embedded default model, on a CI-sized budget (three training countries, two test countries)."""

import json

import pytest

from cli_runner import cli

pytestmark = [pytest.mark.model, pytest.mark.timeout(1800)]

BOOTSTRAP = """optimizer: BootstrapFewShot
description: CI-sized bootstrap of one demo
settings: {max_bootstrapped_demos: 1, max_labeled_demos: 1, metric_threshold: 0.0}
"""


@pytest.mark.parametrize("program", ["respondent_knn", "respondent_profile"])
def test_steering_program_compiles_reloads_and_evaluates(program, cache_root, tmp_path):
    preset = tmp_path / "boot.yaml"
    preset.write_text(BOOTSTRAP)
    out = tmp_path / program
    cli(
        "compile",
        "--program",
        program,
        "--optimizer",
        str(preset),
        "--objective",
        "contrastive",
        "--train",
        "Nigeria,Japan,Mexico",
        "--val",
        "Chile",
        "--test",
        "Peru,Kenya",
        "--out",
        str(out),
        "--skip-train-score",
        "--no-progress",
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["program"] == program and manifest["objective"] == "contrastive"
    assert manifest["metric"]["candidates"] == 4 and manifest["metric"]["metric_threshold"] == pytest.approx(2 / 4)
    state = json.loads((out / "program.json").read_text())
    if program == "respondent_knn":
        assert state["retrieval"]["pool"] == ["Japan", "Mexico", "Nigeria"]
        assert state["prompt_format"] == "lean" and state["retrieval"]["evidence"] == "typical"
        assert manifest["program_settings"] == {
            "prompt_format": "lean",
            "retrieval": {
                "k": 3,
                "weighting": "uniform",
                "evidence": "typical",
                "per_neighbour": 0,
                "anchor": "region",
                "pool_size": 3,
            },
        }
    else:
        assert {"describe", "respond"} <= set(state)

    # a fresh process reloads the program and reproduces the saved test distance
    summary = json.loads(
        cli("evaluate", str(out), "--split", "test", "--variants", "1", "--shuffled-control", "--json")
    )
    assert summary["countries"] == ["Kenya", "Peru"]
    assert summary["compiled"]["mean_distance"] == pytest.approx(manifest["scores"]["test"]["mean_distance"], abs=1e-9)
    assert summary["compiled"]["shuffled_control"]["shuffled_mean_distance"] > 0
    lead = summary["compiled"]["lead_over_neighbours"]  # the model-free retrieval it must beat
    assert lead["lead"] == pytest.approx(summary["neighbours"]["mean_distance"] - summary["compiled"]["mean_distance"])
    assert (
        manifest["timing"]["scored_splits"] == ["val", "test"] and manifest["scores"]["train"]["mean_distance"] is None
    )
    if program == "respondent_profile":  # what the model believed about the country is shown
        profile = summary["compiled"]["profiles"]["Peru"]
        assert isinstance(profile, str) and len(profile) > 20 and "[[" not in profile

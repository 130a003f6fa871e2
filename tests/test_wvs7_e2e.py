"""The whole survey end to end with the real embedded default model: the issue's audit command, the survey
list, and a program compiled on the IVS items evaluated on WVS-7 questions in the four held-out cells."""

import json

import pytest

from cli_runner import cli

pytestmark = [pytest.mark.model, pytest.mark.timeout(3000)]
KNN = "programs/respondent_knn-bootstrap-steer-contrastive-qwen2.5-coder-0.5b"


def test_audit_on_wvs7_prints_a_distribution_block_with_the_yardsticks(cache_root, tmp_path):
    out = cli(
        "audit",
        "--survey",
        "wvs7",
        "--questions",
        "Q1,Q46,Q164",
        "--countries",
        "Japan,Nigeria,Germany",
        "--variants",
        "1",
        "--json",
        "--out",
        str(tmp_path / "a"),
        "--no-progress",
    )
    summary = json.loads(out)
    dist = summary["distribution"]
    assert {"no_persona", "engineered", "uniform", "marginal", "region_marginal", "noise_floor"} <= set(dist)
    for cond in ("no_persona", "engineered", "uniform", "marginal"):
        d = dist[cond]
        for key in ("one_minus_jsd", "tv", "emd", "skill_tv"):
            assert isinstance(d[key], float) and len(d[f"{key}_ci95"]) == 2
        assert d["n_questions"] == 3 and d["n_countries"] == 3
        assert 0 <= d["one_minus_jsd"] <= 1 and 0 <= d["tv"] <= 1
    assert dist["marginal"]["skill_tv"] == 0
    assert summary["points"] == {} and summary["config"]["survey"] == "wvs7"  # no map for this survey
    assert (tmp_path / "a" / "figures" / "distribution_by_theme.png").is_file()


def test_surveys_lists_wvs7_with_its_counts():
    rows = {r["name"]: r for r in json.loads(cli("surveys", "--json"))}
    assert rows["wvs7"]["items"] >= 150 and rows["wvs7"]["societies"] == 67 and len(rows["wvs7"]["themes"]) == 18
    assert rows["ivs-iw10"]["map"] != "none" and rows["wvs7"]["map"] == "none"


def test_a_program_compiled_on_the_ivs_items_evaluates_on_wvs7_questions(cache_root):
    out = json.loads(
        cli(
            "evaluate",
            KNN,
            "--survey",
            "wvs7",
            "--questions",
            "Q57",
            "--split",
            "train+test",
            "--variants",
            "1",
            "--json",
        )
    )
    assert out["other_survey"] and out["compiled_on_survey"] == "ivs-iw10" and out["survey"] == "wvs7"
    cells = out["held_out_cells"]
    # Q57 is the IVS item A165: a question the program saw; the rest of WVS-7 it never saw
    assert set(cells) == {"seen countries, seen questions", "unseen countries, seen questions"}
    assert {"compiled", "engineered", "marginal"} <= set(cells["unseen countries, seen questions"])
    assert out["distribution"]["compiled"]["n_questions"] == 1

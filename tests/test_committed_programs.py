"""The programs committed under programs/ reload from a clean checkout and reproduce their saved scores
with the real embedded default model."""
import json
from pathlib import Path

import pytest

from cli_runner import cli

pytestmark = [pytest.mark.model, pytest.mark.timeout(3000)]

PROGRAMS = Path(__file__).resolve().parents[1] / "programs"
RESPONDENT = PROGRAMS / "respondent-mipro-light-qwen2.5-coder-0.5b"


def test_committed_respondent_reproduces_its_validation_distance(cache_root):
    manifest = json.loads((RESPONDENT / "manifest.json").read_text())
    summary = json.loads(cli("evaluate", str(RESPONDENT), "--split", "val", "--variants", "1", "--json"))
    assert summary["countries"] == manifest["split"]["val"]
    # same model file, same prompts, answers read from logprobs: only float noise across machines
    assert summary["compiled"]["mean_distance"] == pytest.approx(manifest["scores"]["val"]["mean_distance"], abs=0.02)
    assert {"engineered", "no_persona"} <= set(summary)

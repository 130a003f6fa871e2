"""Bad input gets one clear error (exit 2, no traceback) before any model is started (fast, no model).

Each case below was seen ending in a traceback, a crash after the model calls, or silent acceptance."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from culturalign.errors import CulturalignError
from culturalign.models.cache import AnswerCache

from fakes import fake_model_session

ROOT = Path(__file__).resolve().parents[1]
RESPONDENT = ROOT / "programs" / "respondent-mipro-light-qwen2.5-coder-0.5b"
EXPERIMENT = "name: ok\nmodels: [qwen2.5-coder-0.5b]\nconditions: [no_persona]\ncountries: [Japan]\n"


def run(tmp_path, *args):
    env = {
        **os.environ,
        "CULTURALIGN_CACHE_DIR": str(tmp_path / "cache"),
        "CULTURALIGN_MODELS": str(tmp_path / "no-user-models.yaml"),
    }
    # a model started by mistake would take far longer than this to answer anything
    return subprocess.run(
        [sys.executable, "-m", "culturalign.cli", *args],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
        cwd=tmp_path,
    )


def make(tmp_path, name, content):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is None:
        path.mkdir()
    else:
        path.write_text(content)
    return name


def program_with(tmp_path, manifest=None, state=None):
    folder = tmp_path / "prog"
    shutil.copytree(RESPONDENT, folder)
    if manifest is not None:
        (folder / "manifest.json").write_bytes(
            manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
        )
    if state is not None:
        (folder / "program.json").write_bytes(state)
    return "prog"


def empty_test_split(tmp_path):
    manifest = json.loads((RESPONDENT / "manifest.json").read_text())
    manifest["split"]["test"] = []
    return ["evaluate", program_with(tmp_path, manifest=manifest)]


CASES = {
    "no conditions": (lambda t: ["audit", "--conditions", ""], "no conditions given"),
    "variants above ten": (lambda t: ["audit", "--variants", "11"], "--variants must be a number from 1 to 10"),
    "temperature nan": (lambda t: ["audit", "--mode", "sample", "--temperature", "nan"], "temperature must be"),
    "temperature inf": (lambda t: ["audit", "--mode", "sample", "--temperature", "inf"], "temperature must be"),
    "negative temperature": (lambda t: ["audit", "--mode", "sample", "--temperature", "-1"], "temperature must be"),
    "huge sample count": (lambda t: ["audit", "--mode", "sample", "--samples", "300000000"], "samples must be"),
    "temperature in logprob mode": (lambda t: ["audit", "--temperature", "-5"], "apply to mode 'sample' only"),
    "samples in logprob mode": (lambda t: ["audit", "--samples", "0"], "apply to mode 'sample' only"),
    "template under a built-in name": (
        lambda t: ["audit", "--template", "cultural_prompt=You live in {country}."],
        "cannot be named 'cultural_prompt'",
    ),
    "30,000 countries": (
        lambda t: ["audit", "--countries", ",".join(["SE"] * 30_000)],  # one argument < 128 KiB
        "30,000 country entries given; at most 1,000",
    ),
    "empty test split": (empty_test_split, "the program's test split is empty"),
    "empty model name": (lambda t: ["audit", "--model", ""], "a model name must be non-empty"),
    "empty region": (lambda t: ["countries", "--region", ""], "--region is empty"),
    "template with a format spec": (lambda t: ["audit", "--template", "You live in {country:d}."], "format spec"),
    "out is a file": (lambda t: ["audit", "--out", make(t, "f.txt", "x")], "is a file"),
    "out is empty": (lambda t: ["audit", "--out", ""], "--out must name a folder"),
    "test country also in train": (
        lambda t: ["compile", "--train", "Japan,Chile", "--val", "Peru", "--test", "Japan"],
        "Japan is in both the test and the train countries",
    ),
    "port out of range": (lambda t: ["serve", "--port", "99999"], "99999 is not in the range"),
    "negative parallel": (lambda t: ["serve", "--parallel", "-1"], "-1 is not in the range"),
    "not a gguf file": (lambda t: ["serve", str(t / make(t, "fake.gguf", b"\x00" * 64))], "is not a GGUF model file"),
    "duplicate yaml keys": (
        lambda t: ["compare", make(t, "e.yaml", EXPERIMENT + "countries: all\n"), "--check"],
        "key 'countries' appears twice",
    ),
    "experiment is a folder": (lambda t: ["compare", make(t, "e.yaml", None), "--check"], "is a directory"),
    "experiment not utf-8": (lambda t: ["compare", make(t, "e.yaml", b"name: \xff\xfe\n"), "--check"], "is not UTF-8"),
    "deeply nested yaml": (lambda t: ["compare", make(t, "e.yaml", "[" * 5000 + "]" * 5000), "--check"], "e.yaml"),
    "points file is a folder": (lambda t: ["map", "--points", make(t, "p.json", None)], "is a directory"),
    "answers not utf-8": (lambda t: ["project", make(t, "a.json", b"\x89PNG\r\n")], "is not UTF-8"),
    "deeply nested json": (lambda t: ["project", make(t, "a.json", "[" * 100000 + "]" * 100000)], "nested too deeply"),
    "manifest is a list": (lambda t: ["evaluate", program_with(t, manifest=[1, 2])], "a manifest is a JSON object"),
    "program state is binary": (lambda t: ["evaluate", program_with(t, state=b"\x00\x01\xff")], "is not UTF-8"),
    "models file with duplicate keys": (lambda t: ["models"], None),
}


@pytest.mark.parametrize("case", sorted(set(CASES) - {"models file with duplicate keys"}))
def test_bad_input_is_one_clear_error(tmp_path, case):
    args, message = CASES[case]
    proc = run(tmp_path, *args(tmp_path))
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr and message in proc.stderr, proc.stderr[-2000:]


def test_a_users_models_file_with_a_duplicate_key_is_an_error(tmp_path):
    models = tmp_path / "models.yaml"
    models.write_text("models:\n  a: {provider: ollama, model: x}\n  a: {provider: ollama, model: y}\n")
    env = {**os.environ, "CULTURALIGN_MODELS": str(models), "CULTURALIGN_CACHE_DIR": str(tmp_path / "c")}
    proc = subprocess.run(
        [sys.executable, "-m", "culturalign.cli", "models"], capture_output=True, text=True, timeout=90, env=env
    )
    assert proc.returncode == 2 and "key 'a' appears twice" in proc.stderr and "Traceback" not in proc.stderr


def test_an_audit_with_a_single_condition_finishes(tmp_path):
    """Only no persona (no country condition, so no specificity table) used to crash after the model calls."""
    from culturalign.runs.audit import run_audit

    session = fake_model_session(AnswerCache(tmp_path / "a.sqlite"))
    for conditions, name in ((["no_persona"], "no_persona"), (["cultural_prompt"], "engineered")):
        result = run_audit(
            countries=["Japan", "Chile"], conditions=conditions, variants=1, progress=False, session=session
        )
        assert set(result.summary()["yardsticks"]) == {name, "centroid", "region_centroid", "neighbours"}
        result.save(tmp_path / name)


def test_the_python_api_checks_settings_before_any_model_call(tmp_path):
    from culturalign.runs.audit import run_audit

    session = fake_model_session(AnswerCache(tmp_path / "b.sqlite"))
    for kwargs, message in (
        ({"conditions": []}, "no conditions"),
        ({"variants": 11}, "variants must be"),
        ({"mode": "sample", "temperature": float("nan")}, "temperature must be"),
        ({"mode": "sample", "samples": True}, "samples must be"),
        ({"temperature": -5}, "apply to mode 'sample' only"),
        ({"countries": ["Sweden"] * 100_000}, "100,000 country entries given"),
    ):
        with pytest.raises(CulturalignError, match=message):
            run_audit(**{"countries": ["Japan"], **kwargs}, session=session, progress=False)
    assert session.calls == 0

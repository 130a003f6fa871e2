"""Commands that need no model start light: run one after another in a fresh interpreter, none of them imports DSPy,
LiteLLM or the llama.cpp binding (nor optuna or openai, which they pull in). ``import culturalign``
sets no environment variable. The start-up time itself is measured by bench/bench_startup.py."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("dspy", "litellm", "xllamacpp", "optuna", "openai")
THIRD_PARTY_ENV = {"KMP_DUPLICATE_LIB_OK", "KMP_INIT_AT_FORK"}  # scikit-learn sets these when it is imported
PROBE = """
import json, os, sys
if os.environ.get("PROBE_WITHOUT_LLAMA"):
    sys.modules["xllamacpp"] = None  # as if installed without the [models] extra: importing it fails
before = dict(os.environ)
from culturalign import cli
out = []
for args in json.loads(sys.argv[1]):  # one command after another: what none of them loads, no one of them loads
    try:
        cli.main(args)
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
    changed = sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k))
    out.append({"args": args, "code": code, "env": changed,
                "heavy": sorted({m.split(".")[0] for m in sys.modules} & set(%r))})
print(json.dumps(out))
""" % (HEAVY,)


def _probe(*commands, cwd, models=None, without_llama=False) -> list[dict]:
    """Run the commands, in order, in one fresh interpreter; for each: its exit code, the environment variables
    changed and the heavy modules loaded so far."""
    env = {**os.environ, "CULTURALIGN_MODELS": str(models or Path(cwd) / "none.yaml")}
    if without_llama:
        env["PROBE_WITHOUT_LLAMA"] = "1"
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(commands)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
        env=env,
    )
    assert proc.stdout.strip(), proc.stderr[-3000:]
    return [{**r, "stderr": proc.stderr} for r in json.loads(proc.stdout.strip().splitlines()[-1])]


def _answers(tmp_path) -> str:
    path = tmp_path / "answers.json"
    path.write_text(
        json.dumps(
            {
                "name": "me",
                "F063": 5,
                "Y003": 1,
                "F120": 3,
                "G006": 3,
                "E018": 2,
                "Y002": 2,
                "A008": 2,
                "F118": 5,
                "E025": 2,
                "A165": 2,
            }
        )
    )
    return str(path)


COMMANDS = {
    "help": lambda tmp: ["--help"],
    "countries": lambda tmp: ["countries", "--json"],
    "countries by region": lambda tmp: ["countries", "--region", "Protestant Europe"],
    "surveys": lambda tmp: ["surveys"],
    "survey questions": lambda tmp: ["surveys", "wvs7", "--questions"],
    "models": lambda tmp: ["models"],
    "map": lambda tmp: ["map", "--out", str(tmp / "map.png")],
    "project": lambda tmp: ["project", _answers(tmp)],
    "compile --help": lambda tmp: ["compile", "--help"],
    "report": lambda tmp: ["report", str(shutil.copytree(ROOT / "results" / "local-models", tmp / "study"))],
}


def test_commands_without_a_model_import_no_model_stack_and_set_no_environment(tmp_path):
    results = _probe(*(make(tmp_path) for make in COMMANDS.values()), cwd=tmp_path)
    for name, out in zip(COMMANDS, results):
        assert out["code"] in (0, None), (name, out["stderr"][-2000:])
        assert out["heavy"] == [], f"culturalign {name} (or a command before it) imported {out['heavy']}"
        assert set(out["env"]) <= THIRD_PARTY_ENV, f"culturalign {name} changed the environment: {out['env']}"


def test_importing_culturalign_sets_no_environment_variable_and_loads_names_on_first_use():
    code = (
        "import json, os, sys; before = dict(os.environ); import culturalign; "
        "after = dict(os.environ); lazy = 'culturalign.runs.audit' not in sys.modules; "
        "culturalign.run_audit; print(json.dumps({'same': before == after, 'lazy': lazy, "
        "'loaded': 'culturalign.runs.audit' in sys.modules, 'all': sorted(culturalign.__all__) == "
        "sorted(n for n in culturalign.__all__ if hasattr(culturalign, n))}))"
    )
    out = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert out == {"same": True, "lazy": True, "loaded": True, "all": True}


def test_without_the_llama_binding_light_commands_and_a_served_model_work_and_the_embedded_one_says_why(tmp_path):
    from culturalign.models.stub_server import StubServer

    light = _probe(["countries"], ["map", "--out", str(tmp_path / "map.png")], cwd=tmp_path, without_llama=True)
    assert [r["code"] in (0, None) for r in light] == [True, True]
    with StubServer() as stub:
        models = tmp_path / "models.yaml"
        models.write_text(
            json.dumps({"models": {"served": {"provider": "openai", "model": "stub", "base_url": stub.base_url}}})
        )
        (out,) = _probe(
            [
                "audit",
                "--model",
                "served",
                "--countries",
                "Sweden",
                "--variants",
                "1",
                "--out",
                str(tmp_path / "audit"),
            ],
            cwd=tmp_path,
            models=models,
            without_llama=True,
        )
        assert out["code"] in (0, None), out["stderr"][-2000:]
        assert (tmp_path / "audit" / "map.png").is_file() and stub.stats()["requests"] > 0
    (out,) = _probe(
        ["audit", "--countries", "Sweden", "--variants", "1", "--out", str(tmp_path / "embedded")],
        cwd=tmp_path,
        without_llama=True,
    )  # the embedded default model
    assert out["code"] == 2 and "xllamacpp package, which is not installed" in out["stderr"]
    assert "Traceback" not in out["stderr"]

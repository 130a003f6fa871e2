"""Saved programs and experiment files are data that may come from anyone: they must not choose an endpoint, a
credential or a place to write. Each hostile file below must contact nothing and write nothing (fast, no model)."""

import json
import os
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESPONDENT = ROOT / "programs" / "respondent-mipro-light-qwen2.5-coder-0.5b"


class Listener:
    """A loopback HTTP server that records every request it gets (and answers none usefully)."""

    def __init__(self):
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self):
                outer.requests.append((self.command, self.path, self.headers.get("Authorization")))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"data": [{"id": "evil"}]}')

            do_GET = do_POST = _record

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.close()


def run_cli(tmp_path, *args, env=None):
    """The real CLI in a fresh process, with its own cache and no user registry."""
    full = {
        **os.environ,
        "CULTURALIGN_CACHE_DIR": str(tmp_path / "cache"),
        "CULTURALIGN_MODELS": str(tmp_path / "no-user-models.yaml"),
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "culturalign.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=full,
        cwd=tmp_path,
    )


def hostile_program(tmp_path, model: dict, **extra) -> Path:
    folder = tmp_path / "downloaded-program"
    shutil.copytree(RESPONDENT, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["model"] = model
    manifest.update(extra)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def files_under(folder: Path) -> set:
    return {p.relative_to(folder) for p in folder.rglob("*")}


def test_a_manifest_cannot_send_a_secret_to_its_own_endpoint(tmp_path, listener):
    program = hostile_program(
        tmp_path,
        {
            "name": "evil",
            "provider": "openai",
            "style": "chat",
            "model": "evil",
            "base_url": listener.url + "/v1",
            "api_key_env": "MY_SECRET",
        },
    )
    proc = run_cli(tmp_path, "evaluate", str(program), "--split", "val", "--json", env={"MY_SECRET": "s3cr3t"})
    assert proc.returncode == 2, proc.stderr
    assert "not in your model registry" in proc.stderr and "--model" in proc.stderr
    assert "Traceback" not in proc.stderr and "s3cr3t" not in proc.stderr + proc.stdout
    assert listener.requests == []  # nothing was contacted


def test_a_manifest_holding_a_key_is_refused(tmp_path, listener):
    program = hostile_program(
        tmp_path,
        {
            "name": "qwen2.5-coder-0.5b",
            "provider": "openai",
            "model": "x",
            "base_url": listener.url,
            "api_key": "sk-leaked",
        },
    )
    proc = run_cli(tmp_path, "evaluate", str(program), "--json")
    assert proc.returncode == 2 and "secret field (model.api_key)" in proc.stderr, proc.stderr
    assert "sk-leaked" not in proc.stderr and listener.requests == []


def test_a_registered_name_in_a_manifest_uses_the_users_spec_not_the_manifests(monkeypatch):
    """A manifest that names a registered model but carries another endpoint gets the registry's model."""
    from culturalign.runs import evaluate
    from culturalign.models.registry import load_registry

    built = []

    class Recorder:
        def __init__(self, spec):
            built.append(spec)
            self.identity = "gguf-sha256:whatever"

    monkeypatch.setattr(evaluate, "ModelSession", Recorder)
    manifest = {
        "model": {
            "name": "qwen2.5-coder-0.5b",
            "provider": "openai",
            "base_url": "http://198.51.100.7/v1",
            "model": "x",
            "api_key_env": "HOME",
        },
        "model_identity": "gguf-sha256:whatever",
    }
    evaluate.session_for(manifest, None)
    assert built == [load_registry()[0]["qwen2.5-coder-0.5b"]] and built[0].provider == "embedded"


def test_a_manifest_cannot_make_culturalign_write_beside_any_file(tmp_path):
    victim_dir = tmp_path / "victim"
    victim_dir.mkdir()
    (victim_dir / "notes.txt").write_text("private")
    program = hostile_program(
        tmp_path, {"name": "evil", "provider": "embedded", "source": {"path": str(victim_dir / "notes.txt")}}
    )
    proc = run_cli(tmp_path, "evaluate", str(program), "--split", "val")
    assert proc.returncode == 2 and "not in your model registry" in proc.stderr, proc.stderr
    assert files_under(victim_dir) == {Path("notes.txt")}


def test_model_digests_are_remembered_in_the_cache_not_beside_the_file(tmp_path, monkeypatch):
    from culturalign.models import embedded

    monkeypatch.setenv("CULTURALIGN_CACHE_DIR", str(tmp_path / "cache"))
    victim_dir = tmp_path / "models"
    victim_dir.mkdir()
    gguf = victim_dir / "m.gguf"
    gguf.write_bytes(b"GGUF" + bytes(100))
    digest = embedded.verified_digest(gguf, None)
    assert files_under(victim_dir) == {Path("m.gguf")}
    assert list((tmp_path / "cache" / "digests").glob("*.json"))
    hashed = []
    monkeypatch.setattr(embedded, "sha256_file", lambda p: hashed.append(p) or "x")
    assert embedded.verified_digest(gguf, None) == digest and hashed == []  # remembered
    gguf.write_bytes(b"GGUF" + bytes(101))  # a changed file is hashed again
    assert embedded.verified_digest(gguf, None) == "x" and hashed == [gguf]


EXPERIMENT = "name: {name}\nmodels: [qwen2.5-coder-0.5b]\nconditions: [no_persona]\ncountries: [Japan]\n"


@pytest.mark.parametrize(
    "name, out, message",
    [
        ("ok", "../../somewhere", "'out' '../../somewhere' climbs out of the current folder"),
        ("ok", "results/../../x", "climbs out of the current folder"),
        ("..", None, "'name' must be a folder name"),
        (".hidden", None, "'name' must be a folder name"),
        ("a/b", None, "'name' must be a folder name"),
    ],
)
def test_experiment_output_paths_cannot_climb_out(tmp_path, name, out, message):
    (tmp_path / "exp.yaml").write_text(EXPERIMENT.format(name=json.dumps(name)) + (f"out: {out}\n" if out else ""))
    proc = run_cli(tmp_path, "compare", "exp.yaml", "--check")
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    if out:  # the error shows where it would have written
        assert str((tmp_path / out).resolve()) in proc.stderr
    written = files_under(tmp_path) - {Path("exp.yaml")}
    assert all(p.parts[0] == "cache" for p in written), written


def test_check_prints_the_resolved_output_folder_and_an_absolute_out_is_allowed(tmp_path):
    target = tmp_path / "elsewhere" / "study"
    (tmp_path / "exp.yaml").write_text(EXPERIMENT.format(name="ok") + f"out: {target}\n")
    proc = run_cli(tmp_path, "compare", "exp.yaml", "--check")
    assert proc.returncode == 0, proc.stderr
    assert f"results in {target}" in proc.stderr and not target.exists()
    (tmp_path / "exp.yaml").write_text(EXPERIMENT.format(name="ok"))
    proc = run_cli(tmp_path, "compare", "exp.yaml", "--check")
    assert f"results in {tmp_path / 'results' / 'ok'}" in proc.stderr


def test_compare_folders_named_after_models_stay_inside_the_results_folder():
    from culturalign.runs.compare import _folder

    assert _folder("..") == "_" and "/" not in _folder("../../etc")
    assert _folder("qwen2.5-coder-0.5b") == "qwen2.5-coder-0.5b"

"""culturalign against a real OpenAI-compatible server: llama.cpp's own HTTP server in a separate process
(``culturalign serve``), reached through a ``provider: openai`` registry spec. Each test starts and stops its
own server on loopback. No mocks; the default model, 2 countries at most, one descriptor."""

import dataclasses
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import httpx
import pytest

from culturalign.elicitation.conditions import CULTURAL_PROMPT
from culturalign.elicitation.elicit import Context, elicit
from culturalign.instrument.survey import load_survey
from culturalign.models import ModelSession
from culturalign.models.cache import AnswerCache
from culturalign.models.embedded import free_port
from culturalign.models.stub_server import StubServer
from culturalign.runs.audit import run_audit

pytestmark = pytest.mark.model
MODEL = "qwen2.5-coder-0.5b"
COUNTRIES = ["Sweden", "Nigeria"]
SURVEY = load_survey()


class Served:
    """``culturalign serve`` in a subprocess, as a user would start it."""

    def __init__(self, port: int, parallel: int):
        self.port, self.parallel, self.lines = port, parallel, []
        self.proc = None

    def start(self) -> "Served":
        self.lines = []
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "culturalign.cli",
                "serve",
                MODEL,
                "--port",
                str(self.port),
                "--parallel",
                str(self.parallel),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=lambda: self.lines.extend(self.proc.stderr), daemon=True).start()
        deadline = time.time() + 300
        while not any(ln.startswith("serving ") for ln in self.lines):
            assert self.proc.poll() is None and time.time() < deadline, "".join(self.lines)
            time.sleep(0.1)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def metrics(self) -> dict:
        text = httpx.get(self.url + "/metrics", timeout=10).text
        return {
            name: float(value)
            for name, _, value in (ln.rpartition(" ") for ln in text.splitlines())
            if name and not name.startswith("#")
        }

    def stop(self, sig=signal.SIGTERM) -> None:
        """Stop as a user or a service manager would; culturalign serve must exit 0 and say so."""
        self.proc.send_signal(sig)
        assert self.proc.wait(timeout=60) == 0, "".join(self.lines)
        time.sleep(0.2)
        assert any(ln.startswith("stopped serving ") for ln in self.lines), "".join(self.lines)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=60)


@pytest.fixture
def registry(tmp_path, monkeypatch, cache_root):
    """A models file with an openai spec for the given server; returns a function (port, parallel) -> name."""
    path = tmp_path / "models.yaml"
    monkeypatch.setenv("CULTURALIGN_MODELS", str(path))

    def register(port: int, parallel: int) -> str:
        path.write_text(
            f"models:\n  served:\n    provider: openai\n    base_url: http://127.0.0.1:{port}/v1\n"
            f"    model: {MODEL}\n    parallel: {parallel}\n"
        )
        return "served"

    return register


def test_serve_binds_loopback_prints_its_url_and_stops_cleanly(cache_root):
    port = free_port()
    served = Served(port, 1).start()
    line = next(ln for ln in served.lines if ln.startswith("serving "))
    assert f"at http://127.0.0.1:{port}/v1 (model id {MODEL})" in line
    host_ip = socket.gethostbyname(socket.gethostname())
    if host_ip != "127.0.0.1":  # another interface of this machine does not answer
        with pytest.raises(OSError), socket.create_connection((host_ip, port), timeout=2):
            pass
    taken = subprocess.run(
        [sys.executable, "-m", "culturalign.cli", "serve", MODEL, "--port", str(port)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert taken.returncode == 2 and "choose another --port" in taken.stderr and "Traceback" not in taken.stderr
    served.stop(signal.SIGINT)
    Served(port, 1).start().stop(signal.SIGTERM)  # the port is free again at once


def _shape(value):
    """The key structure of a JSON value (lists by their first element)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__.replace("int", "float")


def test_stub_replies_have_llamacpps_shape(cache_root):
    """The stub the fast tests and the benchmark use answers in the JSON shape of this llama.cpp server."""
    served = Served(free_port(), 1).start()
    try:
        with StubServer() as stub:
            for path, body in [
                (
                    "/v1/chat/completions",
                    {"messages": [{"role": "user", "content": "Say 1"}], "logprobs": True, "top_logprobs": 3},
                ),
                ("/v1/completions", {"prompt": "Answer: ", "logprobs": 3}),
            ]:
                body = {"model": MODEL, "max_tokens": 1, "temperature": 0.0, **body}
                real = httpx.post(served.url + path, json=body, timeout=120).json()
                fake = httpx.post(stub.base_url.removesuffix("/v1") + path, json=body, timeout=10).json()
                assert _shape(fake) == _shape(real), path
    finally:
        served.stop()


def test_audit_through_the_server_agrees_with_the_embedded_path_and_caches_per_endpoint(cache_root, registry, tmp_path):
    port = free_port()
    served = Served(port, 1).start()  # one slot, one request at a time: the embedded path's own settings
    cache = AnswerCache(tmp_path / "answers.sqlite")
    try:
        remote = run_audit(
            countries=COUNTRIES, variants=1, progress=False, session=ModelSession(registry(port, 1), cache=cache)
        )
        assert remote.usage["calls"] == 3 * 20 and remote.config["endpoint"] == f"http://127.0.0.1:{port}/v1"
        assert served.metrics()["llamacpp:tokens_predicted_total"] == 60  # one token per request, all 60 served
        again = run_audit(
            countries=COUNTRIES,
            variants=1,
            progress=False,
            session=ModelSession("served", cache=AnswerCache(tmp_path / "answers.sqlite")),
        )
        assert again.usage["calls"] == 0 and again.usage["cache_hits"] == 60
        assert served.metrics()["llamacpp:tokens_predicted_total"] == 60  # the re-run sent nothing
    finally:
        served.stop()
    # the embedded path on the same cache file: another endpoint, so its own 60 answers, none read back
    embedded = run_audit(countries=COUNTRIES, variants=1, progress=False, session=ModelSession(MODEL, cache=cache))
    assert embedded.usage["calls"] == 60 and len(cache) == 120
    # Same server code and settings, one slot, the same prompts in the same order: the same answers. Measured
    # identical to the last bit (README's 0.04 recompute tolerance is for answers recomputed after a resume,
    # where llama.cpp reuses its prompt cache at other boundaries; several slots move them by about 1%).
    a, b = remote.answers.probability.to_numpy(), embedded.answers.probability.to_numpy()
    gap = abs(remote.points[["x", "y"]].to_numpy() - embedded.points[["x", "y"]].to_numpy()).max()
    print(f"\nserver vs embedded: largest option-probability difference {abs(a - b).max():.2e}, point {gap:.2e}")
    assert (remote.points[["condition", "country"]] == embedded.points[["condition", "country"]]).all().all()
    assert abs(a - b).max() <= 1e-6 and gap <= 1e-6


def test_client_parallel_overlaps_requests_on_the_server(cache_root, registry, tmp_path):
    port = free_port()
    served = Served(port, 2).start()
    in_flight, most = [0], [0]
    lock = threading.Lock()
    try:
        session = ModelSession(registry(port, 2), cache=AnswerCache(tmp_path / "a.sqlite"))
        ask = session.top_logprobs

        def counted(*args, **kwargs):  # the client's own view: requests awaiting the server at once
            with lock:
                in_flight[0] += 1
                most[0] = max(most[0], in_flight[0])
            try:
                return ask(*args, **kwargs)
            finally:
                with lock:
                    in_flight[0] -= 1

        session.top_logprobs = counted
        three_items = dataclasses.replace(SURVEY, items=SURVEY.items[:3])  # 8 requests in one context
        elicit(session, three_items, [Context(CULTURAL_PROMPT, "Japan", "an average human being")], progress=False)
        metrics = served.metrics()
    finally:
        served.stop(signal.SIGINT)
    assert session.usage.calls == metrics["llamacpp:tokens_predicted_total"] == 8
    # Whether the server then runs both in one decode step is chance, not the client's doing: a one-token request
    # is a single step, so two share one only when both arrive before the step starts. Asserting it (by polling
    # /slots, or llamacpp:n_busy_slots_per_decode > 1) failed on CI and on 4 of 17 local runs.
    assert most[0] == 2, "the client should keep both of the server's slots asked"


def _rows(db) -> int:
    with sqlite3.connect(db) as conn:
        try:
            return conn.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
        except sqlite3.OperationalError:
            return 0


def test_a_killed_server_is_named_and_the_same_command_resumes_after_a_restart(cache_root, registry, tmp_path):
    port = free_port()
    db = tmp_path / "answers.sqlite"
    env = {**os.environ, "CULTURALIGN_ANSWER_CACHE": str(db), "CULTURALIGN_MODELS": os.environ["CULTURALIGN_MODELS"]}
    cmd = [
        sys.executable,
        "-m",
        "culturalign.cli",
        "audit",
        "--model",
        registry(port, 2),
        "--conditions",
        "no_persona",
        "--variants",
        "1",
        "--out",
        str(tmp_path / "out"),
        "--json",
        "--no-progress",
    ]
    served = Served(port, 2).start()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while (not db.exists() or _rows(db) < 4) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    served.kill()  # the server crashes mid-run
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and f"http://127.0.0.1:{port}/v1" in err and "Traceback" not in err, err
    kept = _rows(db)
    assert 4 <= kept < 20, "the server should be killed mid-way"
    served = Served(port, 2).start()  # restarted on the same port
    try:
        resumed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        assert resumed.returncode == 0, resumed.stderr
        assert json.loads(resumed.stdout)["model_calls"] == 20 - kept  # only the missing answers were asked
        assert served.metrics()["llamacpp:tokens_predicted_total"] == 20 - kept
        assert _rows(db) == 20  # one context's 20 requests: none lost, none twice
    finally:
        served.stop()

"""The OpenAI-compatible client path over real HTTP, against the stub server (fast; no model).

The stub (culturalign/models/stub_server.py) answers in llama.cpp's JSON shapes with fixed log-probabilities;
it checks culturalign's client, cache and concurrency, never a model's answers (test_openai_server.py runs
the same path against llama.cpp's own server).
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from culturalign.elicitation.conditions import CULTURAL_PROMPT, NO_PERSONA
from culturalign.elicitation.elicit import TOP_K, Context, _run_calls, elicit, logprob_prompts
from culturalign.errors import ModelError
from culturalign.instrument.survey import load_survey
from culturalign.models import ModelSession, Prompt
from culturalign.models.cache import AnswerCache
from culturalign.models.clients import OpenAICompatClient, _openai_usage, _top_from_openai
from culturalign.models.stub_server import StubServer, completion_body, top_tokens

SURVEY = load_survey()
PROMPT = Prompt("You are a person.", (("user", "How proud are you?\n1. Very\n2. Not"),), prefill="")
STUB_SPEC = (
    "models:\n  stubbed:\n    provider: openai\n    base_url: {url}\n    model: stub\n    parallel: {parallel}\n"
    "    style: {style}\n"
)


def register(tmp_path, monkeypatch, url, parallel=4, style="chat"):
    """Register the stub as a user would: a model file named by $CULTURALIGN_MODELS."""
    path = tmp_path / "models.yaml"
    path.write_text(STUB_SPEC.format(url=url, parallel=parallel, style=style))
    monkeypatch.setenv("CULTURALIGN_MODELS", str(path))
    return "stubbed"


@pytest.fixture
def stub():
    with StubServer() as server:
        yield server


def expected_top(body_prompt, k=TOP_K):
    return top_tokens(json.dumps(body_prompt, sort_keys=True).encode(), k)


# ------------------------------------------------------------------ parsing llama.cpp's reply shapes


def test_parsers_read_chat_completion_and_legacy_logprobs():
    chat = completion_body(
        "/v1/chat/completions", {"messages": PROMPT.messages(), "logprobs": True, "top_logprobs": 5}, "m"
    )
    assert "top_logprobs" in chat["choices"][0]["logprobs"]["content"][0]
    top = _top_from_openai(chat["choices"][0])
    assert top == expected_top(PROMPT.messages(), 5) and top[0][0].isdigit()
    assert sum(2.718281828**lp for _, lp in top) < 1  # valid log-probabilities
    text = PROMPT.completion_text()
    completion = completion_body("/v1/completions", {"prompt": text, "logprobs": 5}, "m")  # llama.cpp's shape
    legacy = completion_body("/v1/completions", {"prompt": text, "logprobs": 5}, "m", legacy=True)  # OpenAI's
    assert isinstance(legacy["choices"][0]["logprobs"]["top_logprobs"][0], dict)
    assert _top_from_openai(completion["choices"][0]) == _top_from_openai(legacy["choices"][0]) == expected_top(text, 5)
    with pytest.raises(ModelError, match="no log-probabilities"):
        _top_from_openai({"text": "1", "logprobs": None})


def test_usage_reads_cached_tokens_or_llamacpps_timings():
    usage = _openai_usage
    assert (
        usage({"usage": {"prompt_tokens": 9, "completion_tokens": 1, "prompt_tokens_details": {"cached_tokens": 4}}})[
            "cached_tokens"
        ]
        == 4
    )
    assert usage({"usage": {"prompt_tokens": 9}, "timings": {"cache_n": 7}})["cached_tokens"] == 7
    assert usage({}) == {"prompt_tokens": 0, "completion_tokens": 0, "cached_tokens": 0}


# ------------------------------------------------------------------ the session over HTTP


@pytest.mark.parametrize(
    "style, legacy, path",
    [
        ("chat", False, "/v1/chat/completions"),
        ("completion", False, "/v1/completions"),
        ("completion", True, "/v1/completions"),
    ],
)
def test_session_answers_over_http_and_caches_per_endpoint(tmp_path, monkeypatch, style, legacy, path):
    ctx = Context(NO_PERSONA, "", "an average human being")
    prompts = [p for item in SURVEY.items for q in item.questions() for p in logprob_prompts(ctx, q)]
    with StubServer(legacy=legacy) as one, StubServer(legacy=legacy) as two:
        cache = AnswerCache(tmp_path / "answers.sqlite")
        session = ModelSession(register(tmp_path, monkeypatch, one.base_url, style=style), cache=cache)
        out = elicit(session, SURVEY, [ctx], progress=False)
        assert one.stats()["by_path"] == {path: 20} and session.usage.calls == 20
        assert (out["values"].status == "ok").all() and len(cache) == 20
        first = prompts[0]
        key = first.completion_text() if style == "completion" else first.messages()
        assert session.top_logprobs(first).top == expected_top(key)  # each prompt gets its own answer back
        # the same endpoint again, from a fresh session on the same cache file: no request at all
        again = ModelSession("stubbed", cache=AnswerCache(tmp_path / "answers.sqlite"))
        elicit(again, SURVEY, [ctx], progress=False)
        assert again.usage.calls == 0 and again.usage.cache_hits == 20 and one.stats()["requests"] == 20
        # another endpoint serving a model of the same name: its own answers, not the first one's
        other = ModelSession(register(tmp_path, monkeypatch, two.base_url, style=style), cache=cache)
        elicit(other, SURVEY, [ctx], progress=False)
        assert other.usage.calls == 20 and two.stats()["requests"] == 20 and len(cache) == 40


def test_a_server_restarted_between_requests_is_reconnected_transparently(tmp_path, monkeypatch, stub):
    session = ModelSession(register(tmp_path, monkeypatch, stub.base_url), cache=AnswerCache(tmp_path / "a.sqlite"))
    session.top_logprobs(PROMPT)  # leaves a keep-alive connection to the first process
    stub.kill()
    with StubServer(port=stub.port) as again:
        reply = session.top_logprobs(Prompt("Another person.", PROMPT.turns))
        assert reply.top[0][0].isdigit() and again.stats()["requests"] == 1


def test_unknown_model_and_http_errors_name_the_server(tmp_path, monkeypatch, stub):
    path = tmp_path / "models.yaml"
    path.write_text(f"models:\n  wrong:\n    provider: openai\n    base_url: {stub.base_url}\n    model: other\n")
    monkeypatch.setenv("CULTURALIGN_MODELS", str(path))
    with pytest.raises(ModelError, match="does not serve 'other'; it serves stub"):
        ModelSession("wrong")
    client = OpenAICompatClient(stub.base_url, "stub")
    with pytest.raises(ModelError, match=f"{stub.base_url}/nothing answered HTTP 404"):
        client._post("/nothing", {})


# ------------------------------------------------------------------ concurrency


def test_parallel_requests_really_overlap_even_within_one_context(tmp_path, monkeypatch):
    ctx = [Context(CULTURAL_PROMPT, "Japan", "an average human being")]  # one context: 20 requests
    with StubServer(latency=0.05) as stub:
        for parallel in (1, 8):
            session = ModelSession(
                register(tmp_path, monkeypatch, stub.base_url, parallel),
                cache=AnswerCache(tmp_path / f"p{parallel}.sqlite"),
            )
            start = time.monotonic()
            elicit(session, SURVEY, ctx, progress=False)
            took = time.monotonic() - start
            stats = stub.stats(reset=True)
            assert stats["requests"] == 20 and stats["max_concurrent"] == parallel
        assert took < 20 * 0.05 / 2  # 8 at a time: 3 rounds of 50 ms, not 20


def test_run_calls_keeps_the_order_with_one_slot_and_returns_results_in_order():
    started, lock, running, most = [], threading.Lock(), [0], [0]

    def call(i):
        with lock:
            started.append(i)
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.005)
        with lock:
            running[0] -= 1
        return i * i

    calls = [lambda i=i: call(i) for i in range(30)]
    assert _run_calls(calls, 1, False, "x") == [i * i for i in range(30)]
    assert started == list(range(30)) and most[0] == 1
    started.clear()
    assert _run_calls(calls, 6, False, "x") == [i * i for i in range(30)]
    assert most[0] == 6 and sorted(started) == list(range(30))


# ------------------------------------------------------------------ crashes: the server's and the client's


def _rows(db) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        try:
            return conn.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
        except sqlite3.OperationalError:  # the table is not created yet
            return 0


def _audit(tmp_path):
    env = {
        **os.environ,
        "CULTURALIGN_ANSWER_CACHE": str(tmp_path / "answers.sqlite"),
        "CULTURALIGN_CACHE_DIR": str(tmp_path / "cache"),
    }
    cmd = [
        sys.executable,
        "-m",
        "culturalign.cli",
        "audit",
        "--model",
        "stubbed",
        "--countries",
        "Sweden",
        "--variants",
        "1",
        "--out",
        str(tmp_path / "out"),
        "--json",
        "--no-progress",
    ]
    return cmd, env


def _run_until(cmd, env, db, rows, then):
    """Start the CLI, wait until the cache holds ``rows`` answers, call ``then(proc)``; its exit code, stderr."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and _rows(db) < rows and proc.poll() is None:
        time.sleep(0.02)
    then(proc)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


def test_a_killed_server_or_client_loses_and_duplicates_no_answer(tmp_path, monkeypatch):
    db = tmp_path / "answers.sqlite"
    with StubServer(latency=0.05) as stub:
        register(tmp_path, monkeypatch, stub.base_url, parallel=2)
        cmd, env = _audit(tmp_path)
        # the server dies mid-run: one clear error naming it, exit 2, no traceback
        rc, err = _run_until(cmd, env, db, 6, lambda proc: stub.kill())
        assert rc == 2 and stub.base_url in err and "Traceback" not in err, err
        after_server = _rows(db)
        assert 6 <= after_server < 40
    with StubServer(latency=0.05, port=stub.port) as restarted:
        # the client dies (SIGKILL) mid-run: every answer it had received is in the cache
        _run_until(cmd, env, db, after_server + 6, lambda proc: proc.send_signal(signal.SIGKILL))
        kept = _rows(db)
        assert after_server < kept < 40, "the audit should be killed mid-way"
        served = restarted.stats(reset=True)["requests"]
        assert kept - after_server <= served <= kept - after_server + 2  # at most the 2 in flight were lost
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["model_calls"] == 40 - kept  # only the missing answers were asked
        assert restarted.stats()["requests"] == 40 - kept and _rows(db) == 40  # 2 contexts x 20, none twice


def test_bench_client_prints_one_json_object_of_rates():
    bench = os.path.join(os.path.dirname(__file__), "..", "bench", "bench_client.py")
    proc = subprocess.run(
        [sys.executable, bench, "--json", "--latency-ms", "0", "10", "--parallel", "1", "4", "--countries", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)  # the whole of stdout is one JSON object
    for key in ("answers_per_s", "plain_http_answers_per_s"):
        assert set(out[key]) == {"0", "10"} and all(set(v) == {"1", "4"} for v in out[key].values())
        assert all(rate > 0 for v in out[key].values() for rate in v.values())


# ------------------------------------------------------------------ one model at several addresses


def test_replicas_share_the_requests_and_the_cache(tmp_path, monkeypatch):
    """A spec with ``replicas:`` spreads one run's requests over every server and caches them under the first
    address, so a run without the replicas reuses every answer."""
    contexts = [Context(CULTURAL_PROMPT, c, "an average human being") for c in ("Japan", "Peru", "Kenya")]
    with StubServer(latency=0.02) as one, StubServer(latency=0.02) as two:
        path = tmp_path / "models.yaml"
        path.write_text(
            f"models:\n  spread:\n    provider: openai\n    base_url: {one.base_url}\n    model: stub\n"
            f"    parallel: 4\n    replicas: [{two.base_url}]\n"
            f"  single:\n    provider: openai\n    base_url: {one.base_url}\n    model: stub\n"
        )
        monkeypatch.setenv("CULTURALIGN_MODELS", str(path))
        cache = AnswerCache(tmp_path / "answers.sqlite")
        session = ModelSession("spread", cache=cache)
        assert session.parallel == 8 and session.endpoint == one.base_url
        spread = elicit(session, SURVEY, contexts, progress=False)
        first, second = one.stats()["requests"], two.stats()["requests"]
        assert first + second == session.usage.calls == 60
        assert min(first, second) >= 20, (first, second)  # both kept busy, neither left idle
        assert session.client.served == [first, second]
        again = ModelSession("single", cache=cache)
        single = elicit(again, SURVEY, contexts, progress=False)
        assert again.usage.calls == 0 and again.usage.cache_hits == 60
        assert single["values"].equals(spread["values"])


def test_a_replica_that_is_down_is_named(tmp_path, monkeypatch):
    with StubServer() as one, StubServer() as two:
        path = tmp_path / "models.yaml"
        path.write_text(
            f"models:\n  spread:\n    provider: openai\n    base_url: {one.base_url}\n    model: stub\n"
            f"    replicas: [{two.base_url}]\n"
        )
        monkeypatch.setenv("CULTURALIGN_MODELS", str(path))
        two.kill()
        with pytest.raises(ModelError, match=two.base_url.replace(".", r"\.")):
            ModelSession("spread")


@pytest.mark.parametrize(
    "replicas, message",
    [
        ("http://a:1/v1", "must be a list of 1 to 64"),
        ("[]", "must be a list of 1 to 64"),
        ("[ftp://a:1]", "must be a list of 1 to 64"),
        ("[http://base:1]", "repeats an address"),
        ("[http://a:1, http://a:1/v1]", "repeats an address"),
    ],
)
def test_bad_replicas_are_refused_clearly(tmp_path, monkeypatch, replicas, message):
    from culturalign.models.registry import get_spec

    path = tmp_path / "models.yaml"
    path.write_text(
        f"models:\n  spread:\n    provider: openai\n    base_url: http://base:1/v1\n    model: m\n"
        f"    replicas: {replicas}\n"
    )
    monkeypatch.setenv("CULTURALIGN_MODELS", str(path))
    with pytest.raises(ModelError, match=f"model 'spread': 'replicas' {message}"):
        get_spec("spread")


def test_evaluate_shows_its_progress_on_stderr_and_keeps_stdout_json(tmp_path, monkeypatch, stub):
    """A saved program evaluated through a served model: a progress bar (done, rate, ETA) on stderr while the
    model answers, the JSON alone on stdout."""
    from pathlib import Path

    name = register(tmp_path, monkeypatch, stub.base_url)
    program = Path(__file__).resolve().parents[1] / "programs" / "respondent-mipro-light-qwen2.5-coder-0.5b"
    env = {**os.environ, "CULTURALIGN_CACHE_DIR": str(tmp_path / "cache")}
    args = [sys.executable, "-m", "culturalign.cli", "evaluate", str(program), "--model", name, "--variants", "1"]
    shown = subprocess.run([*args, "--json"], capture_output=True, text=True, env=env, timeout=600)
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert json.loads(shown.stdout)["countries"] and "answers:" in shown.stderr and "answer/s" in shown.stderr

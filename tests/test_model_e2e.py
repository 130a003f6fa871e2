"""End to end with the real embedded models (llama.cpp serving real GGUF weights from PyPI). No mocks."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from culturalign.elicitation.conditions import NO_PERSONA
from culturalign.elicitation.elicit import Context, elicit
from culturalign.instrument.survey import load_survey
from culturalign.models import ModelSession
from culturalign.models.cache import AnswerCache
from culturalign.runs.audit import run_audit

from fakes import ctrl_c_answered

pytestmark = pytest.mark.model
COUNTRIES = ["Sweden", "Nigeria", "Japan"]
SURVEY = load_survey()


@pytest.fixture(scope="module")
def logprob_audit(cache_root, tmp_path_factory):
    """A fresh answer cache for this module (other modules' answers must not count as cached here); the
    CLI subprocesses below inherit it through the environment."""
    old = os.environ.get("CULTURALIGN_ANSWER_CACHE")
    os.environ["CULTURALIGN_ANSWER_CACHE"] = str(tmp_path_factory.mktemp("e2e") / "answers.sqlite")
    yield run_audit(countries=COUNTRIES, variants=1, progress=False)
    if old is None:
        os.environ.pop("CULTURALIGN_ANSWER_CACHE")
    else:
        os.environ["CULTURALIGN_ANSWER_CACHE"] = old


def _in_range(values):
    for item in SURVEY.items:
        v = values[values["item"] == item.code]["value"].dropna()
        assert ((v >= item.range[0] - 1e-9) & (v <= item.range[1] + 1e-9)).all(), item.code


def test_logprob_audit_gives_exact_distributions(logprob_audit):
    r = logprob_audit
    assert r.usage["calls"] == 4 * 20  # fresh cache: 4 contexts x 20 requests, nothing else
    assert (r.values.status == "ok").all()
    _in_range(r.values)
    sums = r.answers.groupby(["condition", "country", "variant", "item", "question"]).probability.sum()
    assert np.allclose(sums, 1.0)
    assert (r.answers.valid_mass > 0.3).all()  # the model mostly answers with an option code
    assert set(r.points.condition) == {"no_persona", "engineered"}
    assert np.isfinite(r.points[["x", "y"]].to_numpy()).all()
    summary = json.loads(json.dumps(r.summary()))
    assert set(summary["distances"]["engineered"]) == set(COUNTRIES)
    assert 0 <= summary["improved_share"] <= 1
    assert set(summary["steerability"]["engineered"]) == {"x", "y"}
    # every claim stands beside the model-free yardsticks (they cost no model call: calls counted above)
    y = summary["yardsticks"]
    assert y["centroid"]["skill"] == 0 and np.isfinite(y["engineered"]["skill"])
    assert y["engineered"]["mean_distance"] == pytest.approx(np.mean(list(summary["distances"]["engineered"].values())))


def test_cached_rerun_makes_no_model_call(logprob_audit):
    again = run_audit(countries=COUNTRIES, variants=1, progress=False)
    assert again.usage["calls"] == 0 and again.usage["cache_hits"] == 80
    pd.testing.assert_frame_equal(again.points, logprob_audit.points)


def test_sample_mode_parses_and_counts_every_answer(cache_root):
    r = run_audit(countries=COUNTRIES, variants=1, mode="sample", samples=2, progress=False)
    assert len(r.values) == 4 * 10 * 2  # contexts x items x samples: nothing dropped
    assert set(r.answers.status) <= {"ok", "out_of_range", "refusal", "unparseable", "ambiguous"}
    assert (r.answers.status == "ok").mean() > 0.5
    ok = r.answers[r.answers.status == "ok"]
    assert ok.code.notna().all() and r.answers[r.answers.status != "ok"].code.isna().all()
    _in_range(r.values)
    assert r.usage["calls"] > 0 and r.usage["completion_tokens"] > r.usage["calls"]


def test_cli_audit_json_and_outputs(logprob_audit, tmp_path):
    out = tmp_path / "audit"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "culturalign.cli",
            "audit",
            "--countries",
            ",".join(COUNTRIES),
            "--variants",
            "1",
            "--out",
            str(out),
            "--json",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["model"] == "qwen2.5-coder-0.5b" and summary["model_calls"] == 0
    assert set(summary["points"]) == {"no_persona", "engineered"}
    assert summary["points"]["no_persona"]["x"] == pytest.approx(float(logprob_audit.points.x.iloc[0]))
    assert set(summary["distances"]["engineered"]) == set(COUNTRIES)
    assert {"improved_share", "steerability"} <= set(summary)
    for name in ("map.png", "map.html", "answers.csv", "points.csv", "distances.csv", "summary.json"):
        assert (out / name).stat().st_size > 0, name


def _answers_in(db) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        try:
            return conn.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
        except sqlite3.OperationalError:  # the audit has created the file but not yet its table
            return 0


def _stop_after(cmd, env, db, n_answers, sig):
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=ctrl_c_answered
    )
    deadline = time.time() + 300
    while time.time() < deadline and _answers_in(db) < n_answers and proc.poll() is None:
        time.sleep(0.3)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=300)
    return proc.returncode, err


def test_interrupted_and_killed_audit_resumes_without_lost_or_duplicated_answers(logprob_audit, tmp_path):
    answers_db = tmp_path / "answers.sqlite"
    env = {**os.environ, "CULTURALIGN_ANSWER_CACHE": str(answers_db)}
    cmd = [
        sys.executable,
        "-m",
        "culturalign.cli",
        "audit",
        "--countries",
        "Sweden",
        "--variants",
        "1",
        "--out",
        str(tmp_path / "out"),
        "--json",
        "--no-progress",
    ]
    # Ctrl-C: a clean stop with a message, answers so far kept
    rc, err = _stop_after(cmd, env, answers_db, 5, signal.SIGINT)
    assert rc == 130 and "run the same command again to resume" in err and "Traceback" not in err
    after_interrupt = _answers_in(answers_db)
    assert 5 <= after_interrupt < 40
    # a crash: SIGKILL mid-way
    _stop_after(cmd, env, answers_db, after_interrupt + 6, signal.SIGKILL)
    kept = _answers_in(answers_db)
    assert after_interrupt < kept < 40, "the audit should be killed mid-way"
    resumed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["model_calls"] == 40 - kept  # only the missing answers were asked
    assert len(AnswerCache(answers_db)) == 40  # 2 contexts x 20 requests, none twice
    # and the results agree with the uninterrupted audit. Not to the last digit: answers recomputed after a
    # resume reuse llama.cpp's prompt cache at other boundaries, which moved this 0.5B Q4 model's points by up
    # to 0.044 on the map (measured); answers read back from the cache are always exact.
    ref = logprob_audit.summary()
    assert summary["points"]["no_persona"] == pytest.approx(ref["points"]["no_persona"], abs=0.1)
    sweden = summary["points"]["engineered"]["countries"]["Sweden"]
    assert sweden == pytest.approx(ref["points"]["engineered"]["countries"]["Sweden"], abs=0.1)


def test_base_model_answers_completion_style_prompts(cache_root, tmp_path):
    with ModelSession("gemma-3-270m", cache=AnswerCache(tmp_path / "g.sqlite")) as session:
        assert session.style == "completion"
        out = elicit(session, SURVEY, [Context(NO_PERSONA, "", "a person")], progress=False)
    values = out["values"]
    assert len(values) == 10 and values.value.notna().all()
    _in_range(values)
    assert np.allclose(out["answers"].groupby(["item", "question"]).probability.sum(), 1.0)


def test_the_embedded_model_embeds_country_names_for_the_embedding_anchor(cache_root, tmp_path):
    """The real model's /v1/embeddings (a second llama.cpp server of the same GGUF, mean pooling): one vector per
    name, deterministic, cached; answers still come from the answering server, unchanged by it."""
    from culturalign.map.neighbours import Retrieval, neighbours
    from culturalign.map.splits import country_splits

    names = ["Chile", "Peru", "Japan", "Chile"]
    with ModelSession(cache=AnswerCache(tmp_path / "e.sqlite")) as session:
        vectors = session.embed(names)
        assert len({len(v) for v in vectors}) == 1 and len(vectors[0]) >= 256
        assert vectors[0] == vectors[3] and vectors[0] != vectors[1]
        assert np.isfinite(vectors).all() and np.linalg.norm(vectors[1]) > 0
        session.client.close()  # both servers stop; the cache answers the same texts again
        assert session.embed(names[:2]) == vectors[:2] and session.client._embedder is None
    split = country_splits(0)
    train = split.loc[split.split == "train", "country"].tolist()
    with ModelSession(cache=AnswerCache(tmp_path / "e.sqlite")) as session:
        from culturalign.map import reference

        all_names = list(reference.countries().country)
        table = dict(zip(all_names, session.embed(all_names)))
    found = neighbours("Japan", train, Retrieval(k=5, anchor="embedding").with_vectors(table))
    assert len(found) == 5 and "Japan" not in dict(found) and set(dict(found)) <= set(train)

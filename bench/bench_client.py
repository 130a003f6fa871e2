"""Benchmark: how fast culturalign's client side drives an OpenAI-compatible server.

Runs the real elicitation path (a ModelSession with a ``provider: openai`` spec, a fresh answer cache per run,
logprob mode, no persona + cultural prompt, one descriptor) against the stub server
(``culturalign/models/stub_server.py``: fixed log-probabilities after a set latency, in its own process; no
model) and reports answers/s against the client's ``parallel`` at each latency. At latency 0 the figure is
what culturalign itself costs per answer (prompt formatting, the SQLite cache, bookkeeping); at 50 ms the
ideal is parallel / latency. Two ratios from the same run are less sensitive to a busy machine than the rates:
culturalign against a plain HTTP client sending the same requests at the same concurrency to the same stub
(stdlib ``http.client``, no cache, nothing else), and at 50 ms the rate over the ideal.

    python bench/bench_client.py                      # the table
    python bench/bench_client.py --json               # {"answers_per_s": {"<latency_ms>": {"<parallel>": float}},
                                                      #  "plain_http_answers_per_s": {...the same shape}}
    python bench/bench_client.py --latency-ms 0 --parallel 8 --profile   # cProfile of one configuration
    python bench/bench_client.py --full-protocol --latency-ms 50 --parallel 256   # Tao et al.'s whole audit

Timings are only meaningful on a quiet machine: other processes on the same cores slow the client.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from culturalign.elicitation.conditions import resolve_condition
from culturalign.elicitation.elicit import TOP_K, elicit, logprob_prompts
from culturalign.instrument.survey import load_survey
from culturalign.map import reference
from culturalign.models import ModelSession, ModelSpec
from culturalign.models.cache import AnswerCache
from culturalign.models.stub_server import StubServer
from culturalign.runs.audit import build_contexts, run_audit

REQUESTS_PER_CONTEXT = 20  # the ten IVS items in logprob mode


def n_countries(latency: float, parallel: int, max_countries: int) -> int:
    """Enough requests for a run of about two seconds at the ideal rate (all countries at latency 0)."""
    if latency == 0:
        return max_countries
    wanted = 2.0 * parallel / latency
    return max(1, min(max_countries, math.ceil(wanted / REQUESTS_PER_CONTEXT) - 1))


def plain_rate(stub: StubServer, parallel: int, contexts, survey) -> float:
    """The same requests, in the same order and concurrency, from the plainest client: one keep-alive
    ``http.client`` connection per thread, the JSON body built and the reply parsed, nothing else."""
    bodies = []
    for ctx in contexts:
        for item in survey.items:
            for q in item.questions():
                bodies += [
                    {
                        "model": stub.model,
                        "messages": p.messages(),
                        "max_tokens": 1,
                        "temperature": 0.0,
                        "logprobs": True,
                        "top_logprobs": TOP_K,
                    }
                    for p in logprob_prompts(ctx, q)
                ]
    local = threading.local()

    def post(body):
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection("127.0.0.1", stub.port, timeout=60)
        local.conn.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
        return json.loads(local.conn.getresponse().read())["choices"][0]["logprobs"]["content"][0]["top_logprobs"]

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        start = time.monotonic()
        n = len(list(pool.map(post, bodies)))
        return n / (time.monotonic() - start)


def run_once(stub: StubServer, parallel: int, countries: list[str], survey, profile: bool = False) -> dict:
    spec = ModelSpec(
        name="stub", provider="openai", settings={"base_url": stub.base_url, "model": stub.model, "parallel": parallel}
    )
    contexts = build_contexts([resolve_condition("no_persona"), resolve_condition("cultural_prompt")], countries, 1)
    with tempfile.TemporaryDirectory() as tmp:
        session = ModelSession(spec, cache=AnswerCache(Path(tmp) / "answers.sqlite"))
        stub.stats(reset=True)
        if profile:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            out = prof.runcall(elicit, session, survey, contexts, progress=False)
            pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
            pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(25)
        else:
            out = elicit(session, survey, contexts, progress=False)
        stats = stub.stats()
        calls = session.usage.calls
        session.close()
    expected = len(contexts) * REQUESTS_PER_CONTEXT
    if calls != expected or stats["requests"] != expected:  # a fresh cache: every answer is one request
        raise SystemExit(f"expected {expected} requests, the session made {calls} and the stub saw {stats['requests']}")
    return {
        "requests": calls,
        "seconds": out["seconds"],
        "answers_per_s": calls / out["seconds"],
        "max_concurrent": stats["max_concurrent"],
        "plain": plain_rate(stub, parallel, contexts, survey),
    }


def full_protocol(latency: float, parallel: int) -> None:
    """The whole audit (107 countries x Tao et al.'s 10 descriptors x both conditions) through the stub: its
    request count and wall time. The stub's answers are no model's; only the count and the time mean anything."""
    with StubServer(latency=latency) as stub, tempfile.TemporaryDirectory() as tmp:
        spec = ModelSpec(
            name="stub",
            provider="openai",
            settings={"base_url": stub.base_url, "model": stub.model, "parallel": parallel},
        )
        result = run_audit(
            countries="all",
            variants="all",
            progress=False,
            session=ModelSession(spec, cache=AnswerCache(Path(tmp) / "answers.sqlite")),
        )
        u, served = result.usage, stub.stats()
    print(
        f"full protocol at {latency * 1000:g} ms, parallel {parallel}: {u['contexts']} contexts, {u['calls']} requests "
        f"(the stub served {served['requests']}, at most {served['max_concurrent']} at once), elicitation "
        f"{u['seconds']:.1f} s = {u['calls'] / u['seconds']:.0f} answers/s (ideal {parallel / latency:.0f})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency-ms", type=float, nargs="+", default=[0, 50])
    ap.add_argument("--parallel", type=int, nargs="+", default=[1, 8, 64, 256])
    ap.add_argument("--countries", type=int, default=107, help="at most this many countries per run")
    ap.add_argument("--json", action="store_true", help="print one JSON object (answers/s) instead of the table")
    ap.add_argument("--profile", action="store_true", help="cProfile each run (to stderr)")
    ap.add_argument(
        "--full-protocol",
        action="store_true",
        help="time the whole audit (107 countries x 10 descriptors x 2 conditions) at each latency "
        "(> 0) and parallel instead",
    )
    args = ap.parse_args()
    if args.full_protocol:
        for latency_ms in args.latency_ms:
            for parallel in args.parallel:
                if latency_ms > 0:
                    full_protocol(latency_ms / 1000, parallel)
        return

    survey = load_survey()
    all_countries = reference.countries().country.tolist()
    rates: dict[str, dict[str, float]] = {}
    plain: dict[str, dict[str, float]] = {}
    rows = []
    for latency_ms in args.latency_ms:
        latency = latency_ms / 1000
        with StubServer(latency=latency) as stub:
            for parallel in args.parallel:
                countries = all_countries[: n_countries(latency, parallel, args.countries)]
                r = run_once(stub, parallel, countries, survey, args.profile)
                rates.setdefault(f"{latency_ms:g}", {})[str(parallel)] = round(r["answers_per_s"], 1)
                plain.setdefault(f"{latency_ms:g}", {})[str(parallel)] = round(r["plain"], 1)
                target = 1000.0 if latency == 0 else (0.8 * parallel / latency if parallel <= 64 else None)
                rows.append((latency_ms, parallel, r, target))
                if not args.json:
                    print(
                        f"  latency {latency_ms:g} ms, parallel {parallel}: {r['answers_per_s']:.0f} answers/s",
                        file=sys.stderr,
                    )
    if args.json:
        print(json.dumps({"answers_per_s": rates, "plain_http_answers_per_s": plain}))
        return
    print(
        f"\n{'latency':>7} {'parallel':>8} {'requests':>8} {'answers/s':>9} {'target':>6} {'met':>3} "
        f"{'plain HTTP':>10} {'/plain':>6} {'/ideal':>6} {'in flight':>9}"
    )
    for latency_ms, parallel, r, target in rows:
        met = "-" if target is None else ("yes" if r["answers_per_s"] >= target else "NO")
        of_ideal = f"{r['answers_per_s'] / (parallel / (latency_ms / 1000)):.2f}" if latency_ms else "-"
        print(
            f"{latency_ms:>5g}ms {parallel:>8} {r['requests']:>8} {r['answers_per_s']:>9.0f} "
            f"{'-' if target is None else f'{target:.0f}':>6} {met:>3} {r['plain']:>10.0f} "
            f"{r['answers_per_s'] / r['plain']:>6.2f} {of_ideal:>6} {r['max_concurrent']:>9}"
        )
    print(
        "\ntargets: >= 1000 answers/s at latency 0; >= 0.8 x parallel / latency (/ideal >= 0.8) at 50 ms up to "
        "parallel 64.\n/plain: culturalign over a plain HTTP client sending the same requests in the same run. "
        "Rates need a quiet machine."
    )


if __name__ == "__main__":
    main()

"""Benchmark: a logprob audit on the default model, against the same prompts sent by a plain HTTP client.

Prints, from one run:
  * culturalign's answers/s vs a plain httpx loop sending the same requests to the same server at the same
    concurrency (the ratio is culturalign's overhead: caching, planning, parsing);
  * the share of prompt tokens served from llama.cpp's prefix cache;
  * logprob mode's model calls and generated tokens against sample mode with N samples (per context);
  * the wall time of the whole audit (extrapolate: contexts x seconds per context);
  * the embedded path's bound: llama.cpp's prefill rate, measured in the same run, and the audit's wall time over
    (uncached prompt tokens / prefill rate); 1.0 would mean the model's prefill is the only cost;
  * with --program DIR: what one country costs a compiled program (in its own prompt format) against the
    engineered prompt, each on a fresh server and cache: seconds, prompt tokens and the prefix-cache share.

    python bench/bench_audit.py                      # 20 countries x 10 items, 1 descriptor variant
    python bench/bench_audit.py --countries all      # all 107 countries
    python bench/bench_audit.py --program programs/respondent-mipro-light-qwen2.5-coder-0.5b
    python bench/bench_audit.py --survey wvs7 --per-theme 1 --countries 8 --no-compare   # the whole survey
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import uuid
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from culturalign.elicitation.conditions import resolve_condition
from culturalign.elicitation.elicit import logprob_prompts, TOP_K
from culturalign.elicitation.scoring import score
from culturalign.instrument.populations import countries_with_data
from culturalign.instrument.question_splits import stratified_questions
from culturalign.instrument.survey import load_survey
from culturalign.map import reference
from culturalign.models import EmbeddedServer, ModelSession
from culturalign.models.cache import AnswerCache
from culturalign.optimization.saved import load_program
from culturalign.programs.programs import baseline
from culturalign.runs.audit import build_contexts, run_audit

PREFILL_LINES = 30  # about 1,100 prompt tokens (the nonce is ~16): long, yet inside one slot's context


def raw_answers_per_second(base_url: str, model: str, chains, parallel: int) -> tuple[float, int]:
    """Send the same requests with plain httpx, one chain per worker, and time them."""
    http = httpx.Client(timeout=600)

    def run_chain(prompts):
        for p in prompts:
            body = {
                "model": model,
                "messages": p.messages(),
                "max_tokens": 1,
                "temperature": 0.0,
                "logprobs": True,
                "top_logprobs": TOP_K,
            }
            http.post(base_url + "/chat/completions", json=body).raise_for_status()
        return len(prompts)

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        n = sum(pool.map(run_chain, chains))
    return n / (time.monotonic() - start), n


def prefill_tokens_per_second(base_url: str, model: str, repeats: int = 3) -> float:
    """llama.cpp's prefill rate on this machine: long prompts that no cache has seen (a fresh nonce each),
    one generated token, timed by the server itself (its ``timings``) where it reports them."""
    http = httpx.Client(timeout=600)
    rates = []
    for _ in range(repeats):
        nonce = uuid.uuid4().hex
        text = "\n".join(
            f"{nonce} line {i}: the survey asks about family, work, religion and trust." for i in range(PREFILL_LINES)
        )
        start = time.monotonic()
        reply = http.post(
            base_url + "/chat/completions",
            json={"model": model, "messages": [{"role": "user", "content": text}], "max_tokens": 1, "temperature": 0.0},
        )
        wall = time.monotonic() - start
        reply.raise_for_status()
        body = reply.json()
        timings = body.get("timings") or {}
        if timings.get("prompt_n") and timings.get("prompt_ms"):
            rates.append(timings["prompt_n"] / (timings["prompt_ms"] / 1000))
        else:
            rates.append(body["usage"]["prompt_tokens"] / wall)
    return statistics.median(rates)


def country_cost(model, respondent, countries, survey) -> dict:
    """Seconds, prompt tokens and uncached prompt tokens per country for one respondent, on a fresh server
    (no KV state from earlier runs) and a fresh answer cache."""
    with tempfile.TemporaryDirectory() as tmp, ModelSession(model, cache=AnswerCache(Path(tmp) / "a.sqlite")) as s:
        scored = score(s, [("bench", "bench", respondent)], countries, survey)
        u = s.usage
    n = len(countries)
    return {
        "seconds": scored.seconds / n,
        "prompt_tokens": u.prompt_tokens / n,
        "uncached": (u.prompt_tokens - u.cached_prompt_tokens) / n,
        "cached_share": u.cached_prompt_tokens / max(1, u.prompt_tokens),
    }


def program_cost(model, path: str, few: list[str], survey) -> None:
    """What one country costs a saved program against the engineered prompt, each on a fresh server."""
    program, _ = load_program(path, survey)
    costs = {
        "engineered prompt": country_cost(model, baseline("engineered", 1), few, survey),
        "compiled program": country_cost(model, program, few, survey),
    }
    print(f"per country ({len(few)} countries, fresh server each; {path}):")
    for name, c in costs.items():
        print(
            f"  {name:18} {c['seconds']:6.1f} s, {c['prompt_tokens']:7.0f} prompt tokens, "
            f"{c['uncached']:6.0f} uncached (prefix-cache share {c['cached_share']:.2f})"
        )
    e, p = costs["engineered prompt"], costs["compiled program"]
    print(
        f"  program / engineered: time {p['seconds'] / e['seconds']:.2f}x, prompt tokens "
        f"{p['prompt_tokens'] / e['prompt_tokens']:.2f}x, uncached tokens {p['uncached'] / e['uncached']:.2f}x"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--countries", default="20", help="a number (the first N, spread over regions) or 'all'")
    ap.add_argument("--variants", type=int, default=1)
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--sample-countries", type=int, default=2, help="countries for the sample-mode comparison")
    ap.add_argument("--no-compare", action="store_true", help="time the audit only (no plain-HTTP or sample runs)")
    ap.add_argument("--out", help="also save the audit's tables and map here")
    ap.add_argument(
        "--program", help="also measure what one country costs this saved program against the engineered prompt"
    )
    ap.add_argument("--survey", default="ivs-iw10", help="a shipped survey's name or a survey file")
    ap.add_argument(
        "--per-theme",
        type=int,
        default=None,
        help="only a seeded, theme-stratified subset of this many questions per theme",
    )
    args = ap.parse_args()

    survey = load_survey(args.survey)
    if args.per_theme:
        survey = survey.select(stratified_questions(survey, args.per_theme))
    table = reference.countries().sort_values(["region", "country"])
    if survey.map is None:  # only the societies the survey has answer shares for
        table = table[table.country.isin(countries_with_data(survey))]
    if args.countries == "all":
        countries = table.country.tolist()
    else:  # round-robin over regions so a small benchmark still spans the map
        by_region = [g.country.tolist() for _, g in table.groupby("region")]
        order = [c for i in range(max(map(len, by_region))) for g in by_region if i < len(g) for c in [g[i]]]
        countries = order[: int(args.countries)]
    conditions = [resolve_condition("no_persona"), resolve_condition("cultural_prompt")]

    with tempfile.TemporaryDirectory() as tmp:
        session = ModelSession(args.model, cache=AnswerCache(Path(tmp) / "answers.sqlite"))
        raw_rate = raw_n = None
        if not args.no_compare:
            # The same requests, same order and concurrency, sent by a plain HTTP client to a fresh server of
            # the same model and settings. Fresh, because llama.cpp keeps earlier prompts' KV state in host
            # memory: a server that has already seen these prompts answers them far faster.
            contexts = build_contexts(conditions, countries, args.variants)
            chains = []
            for ctx in contexts:
                chain = []
                for item in survey.items:
                    for q in item.questions():
                        chain += [p for p in logprob_prompts(ctx, q) if p not in chain]
                chains.append(chain)
            with EmbeddedServer(session.spec, n_parallel=session.parallel) as server:
                raw_rate, raw_n = raw_answers_per_second(
                    server.base_url + "/v1", session.spec.name, chains, session.parallel
                )
        with session:
            result = run_audit(
                countries=countries, variants=args.variants, session=session, progress=True, survey=survey
            )
            usage = result.usage
            audit_rate = usage["calls"] / usage["seconds"]
            prefill = prefill_tokens_per_second(session.base_url, session.spec.name)
            uncached = usage["prompt_tokens"] - usage["cached_prompt_tokens"]
            bound = (
                f"prefill {prefill:.1f} tokens/s; bound ratio (wall / (uncached tokens / prefill)) "
                f"{usage['seconds'] / (uncached / prefill):.3f} ({uncached} uncached prompt tokens)"
            )
            if args.out:
                result.save(args.out)
            if args.no_compare:
                print(
                    f"\n{len(countries)} countries, {usage['contexts']} contexts: audit wall time "
                    f"{usage['seconds']:.1f} s ({usage['seconds'] / usage['contexts']:.2f} s per context), "
                    f"{usage['calls']} model calls, {audit_rate:.3f} answers/s, prefix-cache share "
                    f"{usage['cached_prompt_tokens'] / usage['prompt_tokens']:.3f}; {bound}"
                )
                if args.program:
                    program_cost(args.model, args.program, countries[:5], survey)
                return

        sample_countries = countries[: args.sample_countries]
        with ModelSession(args.model, cache=AnswerCache(Path(tmp) / "sample.sqlite")) as s2:
            sampled = run_audit(
                countries=sample_countries,
                variants=args.variants,
                mode="sample",
                samples=args.samples,
                session=s2,
                progress=True,
                survey=survey,
            )
        with ModelSession(args.model, cache=AnswerCache(Path(tmp) / "lp.sqlite")) as s3:
            lp = run_audit(
                countries=sample_countries, variants=args.variants, session=s3, progress=False, survey=survey
            )

    n_ctx = usage["contexts"]
    print(
        f"\nmodel {result.model}; {len(countries)} countries x {len(survey.items)} items, "
        f"{args.variants} descriptor variant(s), {n_ctx} contexts, parallel slots {session.parallel}"
    )
    print(
        f"audit wall time            {usage['seconds']:.1f} s  ({usage['seconds'] / n_ctx:.2f} s per context; "
        f"{usage['calls']} model calls)"
    )
    print(f"culturalign answers/s      {audit_rate:.3f}")
    print(f"plain HTTP answers/s       {raw_rate:.3f}  ({raw_n} identical requests)")
    print(f"ratio culturalign / plain  {audit_rate / raw_rate:.3f}")
    print(
        f"prefix-cache share         {usage['cached_prompt_tokens'] / usage['prompt_tokens']:.3f} of "
        f"{usage['prompt_tokens']} prompt tokens"
    )
    lu, su = lp.usage, sampled.usage
    print(
        f"per context, {len(sample_countries)} countries: logprob {lu['calls'] / lu['contexts']:.1f} calls, "
        f"{lu['completion_tokens'] / lu['contexts']:.1f} generated tokens, {lu['seconds'] / lu['contexts']:.1f} s | "
        f"sample x{args.samples}: {su['calls'] / su['contexts']:.1f} calls, "
        f"{su['completion_tokens'] / su['contexts']:.1f} generated tokens, {su['seconds'] / su['contexts']:.1f} s"
    )
    print(
        f"sample/logprob ratios      calls {su['calls'] / lu['calls']:.1f}x, generated tokens "
        f"{su['completion_tokens'] / max(1, lu['completion_tokens']):.1f}x, time {su['seconds'] / lu['seconds']:.1f}x"
    )
    print(f"embedded path bound        {bound}")
    if args.program:
        program_cost(args.model, args.program, countries[:5], survey)
    per_ctx = usage["seconds"] / n_ctx
    print(
        f"all 107 countries at this rate: {(107 + 1) * per_ctx / 60:.0f} min with 1 descriptor, "
        f"{(107 + 1) * 10 * per_ctx / 3600:.1f} h with Tao et al.'s 10"
    )


if __name__ == "__main__":
    main()

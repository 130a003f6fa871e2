"""Benchmark: one compile from a cold answer cache, as a new user runs it, split into search and final scoring.

Prints, from one run on a fresh server and an empty answer cache:
  * wall time of the optimizer's search and of scoring the compiled program (the held-out splits by default,
    the training split too with --score-train), and the model calls of each;
  * prompt tokens, those served from llama.cpp's prefix cache, and the uncached rest;
  * the bound ratio: wall / (uncached prompt tokens / llama.cpp's prefill rate measured in the same run); 1.0
    would mean the model's prefill is the only cost.

    python bench/bench_compile.py                                         # respondent_knn, bootstrap-steer, contrastive
    python bench/bench_compile.py --prompt-format chat                    # the same with DSPy's ChatAdapter
    python bench/bench_compile.py --program respondent --optimizer zero-shot --score-train
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench_audit import prefill_tokens_per_second

from culturalign.models import ModelSession
from culturalign.models.cache import AnswerCache
from culturalign.optimization.compile import run_compile, settings_from_text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--program", default="respondent_knn")
    ap.add_argument("--optimizer", default="bootstrap-steer")
    ap.add_argument("--objective", default="contrastive")
    ap.add_argument("--model", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--prompt-format", choices=["chat", "lean"], default=None)
    ap.add_argument("--retrieval", default=None, help="KEY=VALUE,... as `culturalign compile --retrieval`")
    ap.add_argument("--score-train", action="store_true", help="also score every training country")
    args = ap.parse_args()

    retrieval = settings_from_text(args.retrieval, "--retrieval")
    splits = ("train", "val", "test") if args.score_train else ("val", "test")
    with tempfile.TemporaryDirectory() as tmp:
        with ModelSession(args.model, cache=AnswerCache(Path(tmp) / "answers.sqlite")) as session:
            start = time.monotonic()
            _, manifest = run_compile(
                args.program,
                args.optimizer,
                out=Path(tmp) / "program",
                seed=args.seed,
                session=session,
                objective=args.objective,
                score_splits=splits,
                progress=True,
                program_settings={"prompt_format": args.prompt_format, "retrieval": retrieval},
            )
            wall = time.monotonic() - start
            usage = session.usage
            prefill = prefill_tokens_per_second(session.base_url, session.spec.name)
    t = manifest["timing"]
    uncached = usage.prompt_tokens - usage.cached_prompt_tokens
    print(
        f"\n{args.program} / {args.optimizer} / {args.objective} on {manifest['model']['name']}, cold cache; "
        f"settings {manifest['program_settings']}"
    )
    print(
        f"wall time                  {wall:.1f} s = search {t['search_seconds']:.1f} s "
        f"({t['search_model_calls']} model calls) + scoring {'+'.join(t['scored_splits'])} "
        f"{t['scoring_seconds']:.1f} s ({t['scoring_model_calls']} model calls) + start/save"
    )
    print(
        f"prompt tokens              {usage.prompt_tokens} ({usage.cached_prompt_tokens} from the prefix cache, "
        f"share {usage.cached_prompt_tokens / max(1, usage.prompt_tokens):.3f}); {uncached} uncached"
    )
    print(f"prefill                    {prefill:.1f} tokens/s (measured in this run)")
    print(f"bound ratio                {wall / (uncached / prefill):.3f}  (wall / (uncached tokens / prefill))")
    scores = ", ".join(
        f"{k} {v['mean_distance']:.3f}" for k, v in manifest["scores"].items() if v["mean_distance"] is not None
    )
    print(f"mean distance              {scores}")


if __name__ == "__main__":
    main()

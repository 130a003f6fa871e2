"""Elicitation: ask a model the survey items under a condition and record its answers.

Work is planned as *questions* (one model-facing question, e.g. the Y002 second choice given first
choice 3), each asked in a *context* (condition, country, descriptor variant). Two modes:

* ``logprob`` — the exact probability of every answer code from next-token log-probabilities. A code
  such as "10" shares its first token with "1", so each proper prefix ("1") gets a second request with
  the prefix as assistant prefill: P(10) = P("1") * P("0" | "1"), P(1) = P("1") * P(anything else | "1").
  Mass on tokens that are no answer code is reported as ``valid_mass`` and the rest renormalised.
  Every request is independent of every other, so all run concurrently.
* ``sample`` — N sampled answers per question at a temperature, parsed; refusals and unparseable
  answers are kept as such, never coerced.
* ``verbalized`` — the model is asked what share of people like it would choose each option (Meister et al.:
  models describe distributions better than their log-probabilities show); the greedy reply is parsed
  strictly, and one that does not give every option exactly once, or does not add up to 100 +- 5, is recorded
  as such (``unparseable``, ``bad_sum``), never coerced.
"""

from __future__ import annotations

import math
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pandas as pd

from ..errors import CulturalignError
from ..instrument.questions import Answer, Question
from ..instrument.survey import Survey
from ..models.clients import Prompt
from . import MODES
from .conditions import Persona

TOP_K = 20


@dataclass(frozen=True)
class Context:
    """Who is answering: a condition, the target country (if the condition names one) and a descriptor."""

    condition: Persona
    country: str
    variant: str

    @property
    def system(self) -> str:
        return self.condition.system(self.country, self.variant)

    @property
    def condition_name(self) -> str:
        return self.condition.name

    def prompt(self, q: "Question", prefix: str = "") -> Prompt:
        """The request for question ``q``; ``prefix`` is the start of the answer (e.g. "1" before "10").
        Other respondents (compiled programs) provide the same method with their own prompt format."""
        return Prompt(self.system, q.turns, prefill=prefix)


# ---------------------------------------------------------------- logprob mode


def _prefixes(codes) -> list[str]:
    strings = [str(c) for c in codes]
    return sorted({s[:i] for s in strings for i in range(1, len(s))})


def logprob_prompts(ctx: Context, q: Question) -> list[Prompt]:
    """The requests one question needs: the question itself, plus one prefill per ambiguous prefix."""
    return [ctx.prompt(q)] + [ctx.prompt(q, p) for p in _prefixes(q.codes)]


_LEADING = re.compile(r"^\s*(\d+)(.*)$", re.S)


def option_distribution(q: Question, tops: list[list[tuple[str, float]]]) -> tuple[dict[int, float], float]:
    """Exact answer-code distribution from the replies of :func:`logprob_prompts`, and the valid mass."""
    strings = {str(c): c for c in q.codes}
    prefixes = _prefixes(q.codes)
    continuation = dict(zip(prefixes, tops[1:]))
    probs = {c: 0.0 for c in q.codes}
    for token, logprob in tops[0]:
        match = _LEADING.match(token)
        if not match:
            continue
        digits, tail = match.groups()
        p = math.exp(logprob)
        if digits in continuation and not tail:  # "1" may be the answer 1 or the start of 10
            extended = 0.0
            for cont, clp in continuation[digits]:
                if cont[:1].isdigit():  # a digit straight after: the answer goes on
                    q_cont = math.exp(clp)
                    extended += q_cont
                    longer = digits + _LEADING.match(cont).group(1)
                    if longer in strings:
                        probs[strings[longer]] += p * q_cont
            if digits in strings:
                probs[strings[digits]] += p * max(0.0, 1.0 - extended)
        elif digits in strings:
            probs[strings[digits]] += p
    valid = sum(probs.values())
    if valid <= 0:
        return {c: math.nan for c in q.codes}, 0.0
    return {c: v / valid for c, v in probs.items()}, valid


# ---------------------------------------------------------------- sample mode

# A reply is coded the way a survey coder would code it: an answer given first (a number or an option's
# label) is the answer; otherwise a refusal is a refusal, whatever numbers it mentions; otherwise the one
# number left once the reply's restatement of the scale is set aside ("on a scale of 1 to 10", "1 = never",
# "7/10", "out of 4"), and only when it is marked as the answer ("I'd say 7"). Two candidate answers
# ("3 or 4", "between 6 and 7") are ambiguous; nothing is coerced.
_REFUSAL = re.compile(
    r"\b(sorry|apologi[sz]e|cannot|can't|can not|unable|won't|will not|decline|as an ai|ai model|"
    r"language model|i don't have|i do not have|i don't know|not able to|prefer not|not comfortable|"
    r"personal (opinions?|beliefs?|views?|preferences?)|"
    r"lo siento|no puedo|no es posible|como (una |un )?(ia|inteligencia artificial|modelo de lenguaje)|"
    r"no tengo (opiniones|una opini[oó]n|opini[oó]n|preferencias|creencias)|prefiero no|"
    r"je ne (peux|suis) pas|je suis d[ée]sol[ée]e?|d[ée]sol[ée]e?|en tant qu'(ia|intelligence artificielle|"
    r"assistant|mod[eè]le)|je n'ai pas d'(opinion|avis)|je pr[ée]f[eè]re ne pas|"
    r"ich kann (das |diese frage |dazu |hier )?(nicht|keine)|kann ich nicht|tut mir leid|leider|"
    r"als (eine? )?(ki|k\.i\.|sprachmodell)|keine (pers[öo]nliche[n]? )?meinung|nicht in der lage|"
    r"m[öo]chte (ich )?nicht)\b"
    r"|我不能|我无法|无法回答|不能回答|抱歉|对不起|很遗憾|作为(一个|一名)?(人工智能|AI|语言模型)|我没有个人",
    re.I,
)
_NUMBER = re.compile(r"(?:(?<![A-Za-z0-9_.])-)?(?<![A-Za-z0-9_.,])\d+(?:\.\d+)?(?![A-Za-z0-9_])")
_OR = ("or", "o", "ou", "oder", "或")
# what stands between two numbers of a range or of two alternatives
_RANGE = re.compile(r"\s*(to|-|–|—|and|through|thru|or|y|e|et|und|bis|à|a|al|hasta|o|ou|oder|到|至|和|或)\s*$", re.I)
_ANCHOR = re.compile(r"^\s*(=|(being|means|stands for|is for)\b)", re.I)  # "1 = never justifiable"
_DENOMINATOR = re.compile(r"(/|\bof)\s*$", re.I)  # "7/10", "3 out of 4": the 10 and the 4 restate the scale
_SCALE_WORD = re.compile(r"\b(scale|range|escala|[ée]chelle|skala)\s*(of|from|de|von)?\s*$", re.I)  # "a scale of 10"
# a number marked as the answer: the marker right before it ("I'd say 7", "Answer: 7"), not across a clause
# ("hard to say, 7" declines, then mentions a number)
_MARKER = re.compile(
    r"(answer|choice|choose|chose|pick|select|rate|rating|score|say|go with|opt for|would be|"
    r"is|option|:)\s*:?\s*$",
    re.I,
)


def _candidates(text: str, bounds: tuple[int, int]) -> tuple[list[tuple[float, int]], bool, bool]:
    """The numbers of ``text`` that may be answers, as (value, position), with the restatements of the scale
    set aside; whether the reply hedges between two answers ("3 or 4"); and whether a number is marked as
    the answer ("I'd say 7", "Answer: 7", "7/10")."""
    found = [(m, float(m.group())) for m in _NUMBER.finditer(text)]
    dropped, hedge, marked = set(), False, False
    for i, (m, value) in enumerate(found):
        before = text[found[i - 1][0].end() : m.start()] if i else text[: m.start()]
        if _ANCHOR.match(text[m.end() :]) or _SCALE_WORD.search(text[: m.start()]):
            dropped.add(i)
        if i and _DENOMINATOR.search(before) and i - 1 not in dropped:
            dropped.add(i)
            marked = True
            continue
        if i and _RANGE.match(before):
            pair = sorted((found[i - 1][1], value))
            if tuple(pair) == bounds and before.strip().lower() not in _OR:
                dropped |= {i - 1, i}  # "from 1 to 10", "between 1 and 4": the scale, not an answer
            elif i - 1 not in dropped:
                hedge = True
    kept = [(value, m.start()) for i, (m, value) in enumerate(found) if i not in dropped]
    marked = marked or any(_MARKER.search(text[:pos]) for _, pos in kept)
    return kept, hedge, marked


def parse_answer(text: str, codes, labels) -> tuple[int | None, str]:
    """Parse a sampled answer into a code. Status: ok, out_of_range, ambiguous, refusal or unparseable."""
    stripped = re.sub(r"[*_`#]+", "", text).strip().strip("\"'")
    if not stripped:
        return None, "unparseable"
    known = set(codes) | {c for c, _ in labels}
    kept, hedge, marked = _candidates(stripped, (min(known), max(known)))
    values = {v for v, _ in kept}
    low = stripped.lower()

    def coded(value):
        if value != int(value) or int(value) not in codes:
            return None, "out_of_range"
        return int(value), "ok"

    if kept and re.fullmatch(r"[\W_]*", stripped[: kept[0][1]]):  # the reply starts with a number
        value = kept[0][0]
        if hedge:
            return None, "ambiguous"
        # "1. No, not mentioned": the number names one option and the words another; keep neither.
        rest = low[kept[0][1] :]
        named = {c for c, label in labels if c in codes and label.lower() in rest}
        if named and value not in named:
            return None, "ambiguous"
        return coded(value)
    for code, label in sorted(labels, key=lambda cl: -len(cl[1])):  # "Not very proud" before "Very proud"
        if code in codes and low.startswith(label.lower()):
            return (None, "ambiguous") if values - {code} or hedge else (code, "ok")
    if _REFUSAL.search(stripped):
        return None, "refusal"
    if hedge or len(values) > 1:
        return None, "ambiguous"
    if values and marked:  # a reply that does not open with its answer is coded only from a marked one
        return coded(kept[0][0])
    return None, "unparseable"


# ---------------------------------------------------------------- verbalized mode

VERBALIZED_INSTRUCTION = (
    "What percentage of people like you would choose each option? For each option from "
    "{first} to {last}, write its number, a colon and the percentage, one option per line; the "
    "percentages add up to 100."
)
# one line per option: its number, optionally its label, then the percentage ("2: 40%", "2. Quite happy: 40 %")
_SHARE = re.compile(r"^\W*(\d+)(?:[:=)\-.,]|\s)[^\d%]*?(\d+(?:\.\d+)?)\s*%?\s*$")
SUM_TOLERANCE = 5.0


def verbalized_question(q: Question) -> Question:
    """``q`` with its answer instruction replaced by the request for a distribution."""
    role, text = q.turns[-1]
    lines = text.split("\n")
    lines[-1] = VERBALIZED_INSTRUCTION.format(first=q.codes[0], last=q.codes[-1])
    turns = (*q.turns[:-1], (role, "\n".join(lines)))
    return Question(q.item, q.part, turns, q.codes, q.labels, "\n".join(lines))


def parse_distribution(text: str, codes) -> tuple[dict[int, float] | None, str]:
    """A stated distribution ``{code: share}`` (shares renormalised) and ``ok``; or None and why: every option
    exactly once (``unparseable`` otherwise) and a total of 100 +- 5 (``bad_sum`` otherwise)."""
    found: dict[int, float] = {}
    for line in text.strip().splitlines():
        if not line.strip():
            continue
        match = _SHARE.match(line.strip().replace("*", ""))
        if not match:
            return None, "unparseable"
        code, share = int(match.group(1)), float(match.group(2))
        if code not in codes or code in found:
            return None, "unparseable"
        found[code] = share
    if set(found) != set(codes):
        return None, "unparseable"
    total = sum(found.values())
    if abs(total - 100) > SUM_TOLERANCE:
        return None, "bad_sum"
    return {c: found[c] / total for c in codes}, "ok"


# ---------------------------------------------------------------- running


def _run_calls(calls: list, parallel: int, progress: bool, desc: str) -> list:
    """Run callables ``parallel`` at a time, started in the order given; their results, in that order.

    Callers list their requests context by context, so the requests started one after another, and those in
    flight together, share their prompt prefix (system line, item text): llama.cpp reuses a slot's KV cache
    instead of recomputing it, and with one slot (the embedded default) the requests go one by one in exactly
    this order. A server with more slots than there are contexts still gets ``parallel`` requests at once.
    On Ctrl-C the calls in flight finish and no other starts; everything answered is already cached.
    """
    import threading

    from tqdm.auto import tqdm

    stop = threading.Event()
    bar = tqdm(total=len(calls), desc=desc, unit="answer", disable=not progress, smoothing=0.05)

    def run(call):
        if stop.is_set():
            raise KeyboardInterrupt
        out = call()
        bar.update(1)
        return out

    pool = ThreadPoolExecutor(max_workers=max(1, parallel))
    try:
        return list(pool.map(run, calls))
    except BaseException:
        stop.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()


def elicit(
    session,
    survey: Survey,
    contexts: list[Context],
    *,
    mode: str = "logprob",
    samples: int = 10,
    temperature: float = 1.0,
    max_tokens: int = 8,
    progress: bool = True,
) -> dict[str, pd.DataFrame]:
    """Ask every item in every context. Returns tidy tables ``answers`` and ``values`` (one row per
    context x item: the expected value in logprob mode, one per sample in sample mode); their ``context``
    column is the context's position in ``contexts``."""
    if mode not in MODES:
        raise CulturalignError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    plan = [(ctx, item, item.questions()) for ctx in contexts for item in survey.items]
    ids = {ctx: i for i, ctx in enumerate(contexts)}
    start = time.monotonic()
    if mode == "logprob":
        out = _elicit_logprob(session, plan, progress, ids)
    elif mode == "verbalized":
        out = _elicit_verbalized(session, plan, max_tokens, progress, ids)
    else:
        out = _elicit_sample(session, plan, samples, temperature, max_tokens, progress, ids)
    out["seconds"] = time.monotonic() - start
    return out


def _ctx_columns(ctx: Context, ids: dict) -> dict:
    return {"context": ids[ctx], "condition": ctx.condition_name, "country": ctx.country, "variant": ctx.variant}


def _elicit_logprob(session, plan, progress, ids) -> dict:
    chains: dict[Context, list[Prompt]] = {}
    for ctx, _, questions in plan:
        chain = chains.setdefault(ctx, [])
        chain += [p for q in questions for p in logprob_prompts(ctx, q) if p not in chain]
    prompts = [p for chain in chains.values() for p in chain]  # context by context: prefixes shared
    results = _run_calls(
        [lambda p=p: session.top_logprobs(p, TOP_K).top for p in prompts], session.parallel, progress, "answers"
    )
    tops = dict(zip(prompts, results))
    answers, values = [], []
    for ctx, item, questions in plan:
        dists, masses = {}, []
        for q in questions:
            dist, mass = option_distribution(q, [tops[p] for p in logprob_prompts(ctx, q)])
            dists[q.part] = dist
            masses.append(mass)
            answers += [
                {
                    **_ctx_columns(ctx, ids),
                    "item": item.code,
                    "question": str(q.part),
                    "option": c,
                    "probability": pr,
                    "valid_mass": mass,
                }
                for c, pr in dist.items()
            ]
        values.append(
            {
                **_ctx_columns(ctx, ids),
                "item": item.code,
                "sample": 0,
                "value": item.value_from_distributions(dists),
                "valid_mass": min(masses),
                "status": "ok" if min(masses) > 0 else "no_valid_option",
            }
        )
    return {"answers": pd.DataFrame(answers), "values": pd.DataFrame(values)}


def _elicit_verbalized(session, plan, max_tokens, progress, ids) -> dict:
    """One greedy reply per question, parsed into a distribution; rows as in logprob mode, with the reply's
    ``text`` and ``status``, and ``valid_mass`` 1 for a parsed reply and 0 otherwise."""
    asked = [(ctx, verbalized_question(q)) for ctx, _, questions in plan for q in questions]
    unique = list(dict.fromkeys(asked))  # context by context: prefixes shared
    replies = _run_calls(
        [
            lambda c=c, q=q: (
                session.generate(
                    c.prompt(q), temperature=0.0, max_tokens=max(max_tokens, 12 * len(q.codes)), seed=0
                ).text
            )
            for c, q in unique
        ],
        session.parallel,
        progress,
        "answers",
    )
    got = dict(zip(unique, replies))
    answers, values = [], []
    for ctx, item, questions in plan:
        dists, bad = {}, []
        for q in questions:
            text = got[(ctx, verbalized_question(q))]
            dist, status = parse_distribution(text, q.codes)
            bad += [status] if dist is None else []
            dists[q.part] = dist or {c: math.nan for c in q.codes}
            answers += [
                {
                    **_ctx_columns(ctx, ids),
                    "item": item.code,
                    "question": str(q.part),
                    "option": c,
                    "probability": p,
                    "valid_mass": float(dist is not None),
                    "text": text,
                    "status": status,
                }
                for c, p in dists[q.part].items()
            ]
        value = math.nan if bad else item.value_from_distributions(dists)
        values.append(
            {
                **_ctx_columns(ctx, ids),
                "item": item.code,
                "sample": 0,
                "value": value,
                "valid_mass": float(not bad),
                "status": bad[0] if bad else "ok",
            }
        )
    return {"answers": pd.DataFrame(answers), "values": pd.DataFrame(values)}


def _elicit_sample(session, plan, samples, temperature, max_tokens, progress, ids) -> dict:
    def ask(ctx, q, seed) -> Answer:
        reply = session.generate(ctx.prompt(q), temperature=temperature, max_tokens=max_tokens, seed=seed)
        return Answer(reply.text, *parse_answer(reply.text, q.codes, q.labels))

    def task(ctx, item, seed):
        return item.sample(lambda q: ask(ctx, q, seed))  # a ranked pair asks its second choice after the first

    by_context: dict[Context, list] = {}
    for ctx, item, _ in plan:  # context by context: its samples reuse the cached prompts
        by_context.setdefault(ctx, []).extend((ctx, item, seed) for seed in range(samples))
    jobs = [job for chain in by_context.values() for job in chain]
    results = _run_calls([lambda j=j: task(*j) for j in jobs], session.parallel, progress, "samples")
    answers, values = [], []
    for (ctx, item, seed), rows in zip(jobs, results):
        for part, answer in rows:
            answers.append(
                {
                    **_ctx_columns(ctx, ids),
                    "item": item.code,
                    "question": str(part),
                    "sample": seed,
                    "text": answer.text,
                    "code": answer.code,
                    "status": answer.status,
                }
            )
        bad = [answer.status for _, answer in rows if answer.status != "ok"]
        value = math.nan if bad else item.value_from_codes({part: answer.code for part, answer in rows})
        status = bad[0] if bad else "ok" if not math.isnan(value) else "unparseable"
        values.append(
            {
                **_ctx_columns(ctx, ids),
                "item": item.code,
                "sample": seed,
                "value": value,
                "valid_mass": float(status == "ok"),
                "status": status,
            }
        )
    return {"answers": pd.DataFrame(answers), "values": pd.DataFrame(values)}

"""Culture-conditioned survey respondents as DSPy programs.

A program's prompt — DSPy signature instructions plus demonstrations — is what optimizers tune. Answers
are not parsed from generated text: the program's prompt is formatted by its DSPy adapter (ChatAdapter, or
the lean adapter of :mod:`culturalign.programs.adapter`) exactly as DSPy would send it, the assistant turn
is prefilled up to the answer, and the exact option probabilities are read from next-token log-probabilities
by the audit's engine
(:mod:`culturalign.elicitation.elicit`). The baselines (no persona, Tao et al.'s engineered prompt) are respondents
with the same interface, so every comparison is program against program on the same data.
"""

from __future__ import annotations

import weakref
import zlib
from dataclasses import dataclass, field
from typing import Callable

import dspy
import tqdm

from ..elicitation.conditions import CULTURAL_PROMPT, DESCRIPTORS, NO_PERSONA
from ..elicitation.elicit import Context
from ..elicitation.respondent import active_session, report_progress
from ..elicitation.scoring import GenerationConfig, score
from ..instrument.questions import Question
from ..models.clients import Prompt
from .adapter import CHAT_ANSWER_MARKER, PROMPT_FORMATS, adapter, answer_prefill
from . import PROGRAMS

ANSWER_MARKER = CHAT_ANSWER_MARKER


class _TolerantInstances(weakref.WeakSet):
    """tqdm's registry of bars, where removing a bar that is gone is not an error. DSPy's
    ``ParallelExecutor.execute`` empties the registry without tqdm's lock, so with two optimizers running in two
    threads (``compare`` with ``parallel`` > 1) a bar created in the other thread failed to remove itself with a
    KeyError and killed that compile (seen in 2 of 8 runs of the two-thread test). Emptying it takes tqdm's lock,
    so it cannot change size while tqdm iterates it."""

    def remove(self, item):
        self.discard(item)

    def clear(self):
        with tqdm.tqdm.get_lock():
            super().clear()


if not isinstance(tqdm.tqdm._instances, _TolerantInstances):
    tqdm.tqdm._instances = _TolerantInstances(tqdm.tqdm._instances)


class SurveyAnswer(dspy.Signature):
    """Answer the survey question as a typical person born in and living in the given country would answer it."""

    country: str = dspy.InputField(desc="the country whose people you speak for")
    question: str = dspy.InputField(desc="a survey question with its numbered answer options")
    answer: str = dspy.OutputField(desc="the number of the chosen option only")


Demo = tuple[tuple[str, str], ...]  # one demonstration: (field, value) pairs, hashable


def demo_fields(demo, signature) -> Demo | None:
    """A demo as (field, value) pairs of the signature's fields, or None when it answers nothing: a training
    country WVS-7 did not survey is copied in as a "labelled" demo without question or answer, and DSPy's
    adapters drop such demos too."""
    if any(demo.get(f) is None for f in signature.output_fields):
        return None
    # a demo without its question or its country (a hand-edited program) says nothing about a country
    if any(f in signature.input_fields and not demo.get(f) for f in ("question", "country")):
        return None
    return tuple((f, str(demo[f])) for f in signature.fields if demo.get(f) is not None)


@dataclass(frozen=True)
class ProgramContext:
    """One country as seen by a DSPy respondent: its signature and instructions, its demos, the target
    country, any further inputs the answering predictor reads (a culture profile), the evidence shown with
    each question (``(question key, text)`` pairs, see :func:`question_key`) and the prompt format."""

    program: str
    instructions: str
    demos: tuple[Demo, ...]
    country: str
    variant: str = ""
    inputs: tuple[tuple[str, str], ...] = ()
    signature: type = field(default=SurveyAnswer, compare=False)
    evidence: tuple[tuple[str, str], ...] = ()
    prompt_format: str = "chat"

    @property
    def condition_name(self) -> str:
        return self.program

    def question_text(self, q: Question) -> str:
        """The question as this context asks it: with its evidence, where the program shows any."""
        return with_evidence(q.text, dict(self.evidence).get(question_key(q), ""))

    def prompt(self, q: Question, prefix: str = "") -> Prompt:
        return format_prompt(
            self.prompt_format,
            self.signature.with_instructions(self.instructions),
            [dict(d) for d in self.demos],
            {"country": self.country, **dict(self.inputs), "question": self.question_text(q)},
            answer_prefill(self.prompt_format) + prefix,
        )


def question_key(q: Question) -> str:
    """The key of a model-facing question in a context's evidence: item and part (``F063/``, ``Y002/first``)."""
    return f"{q.item}/{q.part}"


def with_evidence(text: str, evidence: str) -> str:
    """The question with its evidence after the options, just before the answer instruction (last, so the
    question itself reads as usual and the evidence stands next to the answer)."""
    if not evidence:
        return text
    body, _, last = text.rpartition("\n")
    if body and last.startswith("Answer with "):  # the answer instruction stays last
        return f"{body}\n{evidence}\n{last}"
    return f"{text}\n{evidence}"


def format_prompt(prompt_format: str, signature, demos: list[dict], inputs: dict, prefill: str) -> Prompt:
    """A request formatted by the program's DSPy adapter exactly as DSPy would send it, with the assistant
    turn prefilled (up to and including the start of the answer)."""
    messages = adapter(prompt_format).format(signature, demos, inputs)
    system = messages[0]["content"] if messages[0]["role"] == "system" else None
    turns = tuple((m["role"], m["content"]) for m in messages[1 if system else 0 :])
    return Prompt(system, turns, prefill=prefill)


def chat_prompt(signature, demos: list[dict], inputs: dict, prefill: str) -> Prompt:
    """:func:`format_prompt` with DSPy's ChatAdapter."""
    return format_prompt("chat", signature, demos, inputs, prefill)


def _check_prompt_format(value) -> None:
    if value not in PROMPT_FORMATS:
        raise ValueError(f"must be one of {', '.join(PROMPT_FORMATS)}, got {str(value)[:40]!r}")


class Respondent(dspy.Module):
    """The tunable culture-conditioned respondent: one predictor whose instructions and demos optimizers edit.
    ``prompt_format`` (``chat``: DSPy's ChatAdapter; ``lean``) is saved with the program; a program saved
    without one was formatted by ChatAdapter."""

    name = "respondent"
    default_prompt_format = "chat"

    def __init__(self):
        super().__init__()
        self.respond = dspy.Predict(SurveyAnswer)
        self.prompt_format = self.default_prompt_format

    extra_state = {"prompt_format": _check_prompt_format}

    def dump_state(self, json_mode=True):
        return {**super().dump_state(json_mode=json_mode), "prompt_format": self.prompt_format}

    def load_state(self, state, **kwargs):
        super().load_state({k: v for k, v in state.items() if k not in self.extra_state}, **kwargs)
        self.prompt_format = state.get("prompt_format", "chat")
        return self

    def own_demos(self) -> tuple[Demo, ...]:
        """The demos an optimizer gave the answering predictor (the same for every country)."""
        signature = self.respond.signature
        return tuple(d for d in (demo_fields(x, signature) for x in self.respond.demos) if d)

    def contexts(self, country: str) -> list[ProgramContext]:
        return [
            ProgramContext(
                self.name,
                self.respond.signature.instructions,
                self.own_demos(),
                country,
                signature=self.respond.signature,
                prompt_format=self.prompt_format,
            )
        ]

    def forward(self, country: str):
        """Answer all items for ``country`` in the active session (see :func:`using_session`)."""
        session, survey = active_session()
        out = program_answers(session, self, [country], survey)
        report_progress(country)
        if dspy.settings.trace is not None:  # let bootstrap-style optimizers turn answers into demos
            self._record_trace(country, out["answers"], survey)
        row = out["points"].iloc[0]
        return dspy.Prediction(
            country=country, item_values=out["values"].iloc[0][survey.codes].to_dict(), x=float(row.x), y=float(row.y)
        )

    def _record_trace(self, country, answers, survey) -> None:
        """One demo candidate per country (its most likely answer to one question, picked by a stable hash
        of the country's name): a bootstrapped demo set then spans several countries and questions rather
        than the first questions of the first country that passed."""
        questions = [q for item in survey.items for q in item.questions() if len(q.turns) == 1]
        q = questions[zlib.crc32(country.encode()) % len(questions)]
        hit = answers[(answers["item"] == q.item) & (answers.question == str(q.part))]
        if len(hit):
            best = hit.loc[hit.probability.idxmax()]
            ctx = self.contexts(country)[0]
            inputs = {"country": country, **dict(ctx.inputs), "question": ctx.question_text(q)}
            dspy.settings.trace.append((self.respond, inputs, dspy.Prediction(answer=str(int(best.option)))))


class PromptBaseline:
    """A hand-written condition (no persona, or Tao et al.'s cultural prompt) with a respondent's interface."""

    def __init__(self, name: str, condition, variants: int | None = None):
        self.name, self.condition = name, condition
        self.variants = DESCRIPTORS[: variants or len(DESCRIPTORS)] if "{descriptor}" in condition.template else ("",)

    def contexts(self, country: str) -> list[Context]:
        return [Context(self.condition, country if self.condition.needs_country else "", v) for v in self.variants]


BASELINE_PROMPTS = {"no_persona": NO_PERSONA, "engineered": CULTURAL_PROMPT}


def baseline(name: str, variants: int | None = None) -> PromptBaseline:
    """A hand-written baseline by name: ``no_persona`` or ``engineered`` (Tao et al.'s cultural prompt)."""
    return PromptBaseline(name, BASELINE_PROMPTS[name], variants)


def engineered() -> PromptBaseline:
    return baseline("engineered")


def no_persona() -> PromptBaseline:
    return baseline("no_persona")


def register_program(name: str, factory: Callable[[], object], *, replace: bool = False) -> None:
    """Make ``--program NAME`` find your own respondent (anything with ``contexts(country)``); ``factory`` is a
    class or function of no arguments, or a lazy ``"module:attribute"`` target."""
    PROGRAMS.register(name, factory, replace=replace)


def registered() -> list[str]:
    """Every registered program's name (extensions' included)."""
    return sorted(PROGRAMS.names())


def make_program(name: str):
    return PROGRAMS.get(name)()


# ---------------------------------------------------------------- running programs


def program_answers(
    session,
    program,
    countries: list[str],
    survey,
    *,
    progress: bool = False,
    config: GenerationConfig = GenerationConfig(),
) -> dict:
    """One respondent's answers for every country (:func:`culturalign.elicitation.scoring.score`): ``values``
    (country x item means), ``points`` (country, x, y, distance) and the raw ``answers``."""
    scored = score(
        session,
        [(getattr(program, "name", "respondent"), "program", program)],
        countries,
        survey,
        config,
        progress=progress,
    )
    t = scored.table
    values = t[["country", *(f"item_{c}" for c in survey.codes)]].rename(columns=lambda c: c.removeprefix("item_"))
    return {"values": values, "points": t[["country", "x", "y", "distance"]], "answers": scored.answers}

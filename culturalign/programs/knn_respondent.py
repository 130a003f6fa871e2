"""``respondent_knn``: a respondent shown how people in culturally similar *training* countries answered the
question it is asked.

Per target country, the ``k`` training countries nearest its anchor are retrieved
(:mod:`culturalign.map.neighbours`: the region anchor, the anchor the served model's embeddings of the country
names give, or both; similarity never uses the target's survey data, which a held-out country does not have;
retrieval never returns the target, and its pool holds only the training countries the program was compiled on,
never validation or test ones). With each question the program shows the *evidence*: the
neighbours' published answers to that very question (``typical``: each neighbour's typical answer;
``distribution``: their pooled answer shares, exactly the ``neighbours`` yardstick's distribution;
``consensus``: one number, the typical answer of those pooled shares, the shortest line), after the
shared prefix (instructions and demos), so llama.cpp's prefix cache still serves it across countries and
questions. Any survey whose questions name WVS-7 questions with shipped shares works. Optionally (``per_neighbour``)
each neighbour's most distinctive answers are also shown as demos, as programs compiled before the evidence did.

Retrieval settings are program state: saved with it, checked on load, recorded in the manifest. The
answering predictor's instructions and its own demos stay tunable, and answers are still read exactly from
log-probabilities.
"""

from __future__ import annotations

import dspy
import numpy as np

from ..elicitation.respondent import active_session, active_survey
from ..errors import CulturalignError
from ..instrument.populations import question_keys, target_distributions
from ..map import reference
from ..map.neighbours import ANCHORS, MAX_K, WEIGHTINGS, Retrieval, neighbours
from .demos import labelled_demos
from .programs import Demo, ProgramContext, Respondent, demo_fields, with_evidence

EVIDENCE_FORMATS = ("typical", "distribution", "consensus", "none")


def country_vectors(session) -> dict[str, list[float]]:
    """Every map country's name as the session's model embeds it (one request; cached like answers)."""
    names = list(reference.countries().country)
    return dict(zip(names, session.embed(names)))


class NeighbourAnswer(dspy.Signature):
    """Answer the survey question as a typical person born in and living in the given country would answer
    it. The examples show how people in culturally similar countries typically answered such questions."""

    country: str = dspy.InputField(desc="the country whose people you speak for")
    question: str = dspy.InputField(desc="a survey question with its numbered answer options")
    answer: str = dspy.OutputField(desc="the number of the chosen option only")


EVIDENCE_INSTRUCTIONS = (
    "Answer the survey question as a typical person born in and living in the given country "
    "would answer it. Each question shows how people in culturally similar countries answered "
    "it; use that as evidence, and answer with the number of one option."
)


def typical_answer(shares: dict[int, float], ordinal: bool) -> int:
    """A society's typical answer: the option nearest its mean answer on an ordinal question (ties to the lower
    code), the most chosen option otherwise."""
    codes = sorted(shares)
    if ordinal:
        mean = sum(c * p for c, p in shares.items()) / sum(shares.values())
        return min(codes, key=lambda c: (abs(c - mean), c))
    return max(codes, key=lambda c: (shares[c], -c))


def question_evidence(survey, found: list[tuple[str, float]], evidence: str) -> dict[str, str]:
    """question key (``ITEM/part``) -> the evidence line shown with that question: the neighbours' answers to it
    (``found``: (country, weight) pairs, nearest first). A question no neighbour answered shows none."""
    if evidence == "none" or not found:
        return {}
    weights = dict(found)
    targets = target_distributions(survey)
    targets = targets[targets.country.isin(weights)]
    keys = list(question_keys(survey).itertuples())
    ordinal = {(k.item, k.part): k.ordinal for k in keys}
    codes = {(k.item, k.part): k.codes for k in keys}
    out = {}
    for (item, part), sub in targets.groupby(["item", "part"], sort=False):
        per_country = {c: dict(zip(g.option.astype(int), g.share)) for c, g in sub.groupby("country")}
        order = [c for c, _ in found if c in per_country]
        if evidence == "typical":
            answers = ", ".join(f"{c} {typical_answer(per_country[c], ordinal[(item, part)])}" for c in order)
            out[f"{item}/{part}"] = f"Most people answered in culturally similar countries: {answers}."
            continue
        w = np.array([weights[c] for c in order]) / sum(weights[c] for c in order)
        pooled = {
            code: float(sum(wi * per_country[c].get(code, 0.0) for wi, c in zip(w, order)))
            for code in codes[(item, part)]
        }
        if evidence == "consensus":
            answer = typical_answer(pooled, ordinal[(item, part)])
            out[f"{item}/{part}"] = f"Typical answer in culturally similar countries: {answer}."
        else:
            shares = ", ".join(f"{code} = {round(100 * p)}%" for code, p in pooled.items())
            out[f"{item}/{part}"] = f"Answers in culturally similar countries ({', '.join(order)}): {shares}."
    return out


class NeighbourRespondent(Respondent):
    """Answers each question shown the ``k`` nearest training countries' answers to it (``evidence``), in the
    lean prompt format; ``per_neighbour`` > 0 also shows each neighbour's most distinctive answers as demos.
    A program saved before the evidence existed reloads as it was compiled (no evidence, ChatAdapter)."""

    name = "respondent_knn"
    default_prompt_format = "lean"

    def __init__(
        self,
        k: int = 3,
        per_neighbour: int = 0,
        evidence: str = "typical",
        weighting: str = "uniform",
        anchor: str = "region",
    ):
        dspy.Module.__init__(self)
        self.respond = dspy.Predict(NeighbourAnswer.with_instructions(EVIDENCE_INSTRUCTIONS))
        self.prompt_format = self.default_prompt_format
        self.retrieval, self.evidence, self.per_neighbour = Retrieval(), "typical", 0
        self.set_retrieval(k=k, per_neighbour=per_neighbour, evidence=evidence, weighting=weighting, anchor=anchor)
        self.fit_countries(())

    def set_retrieval(self, **settings) -> "NeighbourRespondent":
        """Change retrieval settings (k, weighting, anchor, evidence, per_neighbour), checked; clears what was
        retrieved."""
        current = {**self.retrieval.record(), "evidence": self.evidence, "per_neighbour": self.per_neighbour}
        unknown = set(settings) - set(current)
        if unknown:
            raise CulturalignError(
                f"unknown retrieval setting(s) {', '.join(sorted(unknown))}; use {', '.join(current)}"
            )
        merged = {**current, **settings}
        try:
            self._check_retrieval({**merged, "pool": []})
        except ValueError as exc:
            raise CulturalignError(f"retrieval: {exc}") from None
        self.retrieval = Retrieval(k=merged["k"], weighting=merged["weighting"], anchor=merged["anchor"])
        self.evidence, self.per_neighbour = merged["evidence"], merged["per_neighbour"]
        self._retrieved, self._evidence, self._vectors = {}, {}, {}
        return self

    @property
    def k(self) -> int:
        return self.retrieval.k

    def retrieval_settings(self) -> dict:
        """What the manifest records: fixed parameters an optimizer that edits instructions does not change."""
        return {
            **self.retrieval.record(),
            "evidence": self.evidence,
            "per_neighbour": self.per_neighbour,
            "pool_size": len(self.pool),
        }

    def fit_countries(self, train) -> "NeighbourRespondent":
        """The countries retrieval may draw on: the training split, never validation or test countries."""
        self.pool = tuple(sorted({reference.resolve_country(c) for c in train}))
        self._retrieved, self._evidence, self._vectors = {}, {}, {}
        return self

    def found(self, country: str) -> list[tuple[str, float]]:
        """The target's neighbours with their weights, nearest first."""
        if not self.pool:
            raise CulturalignError(
                f"{self.name} has no training countries to retrieve from: compile it, or "
                "call fit_countries(train) first"
            )
        # only an embedding anchor needs the running model: region retrieval works outside a run too
        retrieval = self.retrieval_in(active_session()[0]) if self.retrieval.needs_vectors else self.retrieval
        return neighbours(country, self.pool, retrieval)

    def retrieval_in(self, session) -> Retrieval:
        """The retrieval, with the session model's country embeddings where the anchor needs them (the
        ``neighbours`` yardstick of an evaluation retrieves the same way)."""
        if not self.retrieval.needs_vectors:
            return self.retrieval
        if session.identity not in self._vectors:
            self._vectors[session.identity] = country_vectors(session)
        return self.retrieval.with_vectors(self._vectors[session.identity])

    def _anchored(self, country: str) -> tuple:
        """What retrieval for ``country`` depends on: with an embedding anchor, also the model that embeds."""
        return (country, active_session()[0].identity) if self.retrieval.needs_vectors else (country,)

    def neighbours(self, country: str) -> list[str]:
        return [c for c, _ in self.found(country)]

    def retrieved_demos(self, country: str) -> tuple[Demo, ...]:
        """The neighbours' most distinctive answers as demos (``per_neighbour`` each), farthest neighbour first,
        so the nearest stands by the question."""
        if not self.per_neighbour:
            return ()
        key = self._anchored(country)
        if key not in self._retrieved:
            survey, signature = active_survey(), self.respond.signature
            demos = [
                demo_fields({"country": n, **d}, signature)
                for n in reversed(self.neighbours(country))
                for d in labelled_demos(n, survey, self.per_neighbour)
            ]
            self._retrieved[key] = tuple(d for d in demos if d)
        return self._retrieved[key]

    def evidence_for(self, country: str, survey=None) -> dict[str, str]:
        """question key -> the evidence shown with that question for ``country`` in ``survey`` (default: the
        active one)."""
        survey = survey or active_survey()
        key = (*self._anchored(country), survey.digest)
        if key not in self._evidence:
            self._evidence[key] = question_evidence(survey, self.found(country), self.evidence)
        return self._evidence[key]

    def labelled_example(self, country: str, survey) -> dict | None:
        """A training country's labelled demo (its most distinctive WVS-7 answer, :mod:`.demos`) with the
        evidence this program would show with that question: its own neighbours' answers (never itself)."""
        demos = labelled_demos(country, survey, 1)
        if not demos:
            return None
        item, part, question = demos[0]["item"], demos[0]["part"], demos[0]["question"]
        shown = self.evidence_for(country, survey).get(f"{item}/{part}", "")
        return {"question": with_evidence(question, shown), "answer": demos[0]["answer"]}

    def contexts(self, country: str) -> list[ProgramContext]:
        return [
            ProgramContext(
                self.name,
                self.respond.signature.instructions,
                self.own_demos() + self.retrieved_demos(country),
                country,
                signature=self.respond.signature,
                prompt_format=self.prompt_format,
                evidence=tuple(sorted(self.evidence_for(country).items())),
            )
        ]

    # The retrieval pool and settings travel in the saved JSON beside the predictor's state, checked on load.
    @staticmethod
    def _check_retrieval(value) -> None:
        allowed = {"pool", "k", "per_neighbour", "evidence", "weighting", "anchor"}
        if not isinstance(value, dict) or set(value) - allowed:
            raise ValueError(f"must be a mapping with {', '.join(sorted(allowed))}")
        for key, low, high in (("k", 1, MAX_K), ("per_neighbour", 0, 10)):
            v = value.get(key, 1)
            if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
                raise ValueError(f"{key} must be a whole number from {low} to {high}, got {v!r}")
        for key, allowed_values in (("evidence", EVIDENCE_FORMATS), ("weighting", WEIGHTINGS), ("anchor", ANCHORS)):
            if key in value and value[key] not in allowed_values:
                raise ValueError(f"{key} must be one of {', '.join(allowed_values)}, got {str(value[key])[:40]!r}")
        pool = value.get("pool", [])
        if not isinstance(pool, list) or len(pool) > 500 or not all(isinstance(c, str) for c in pool):
            raise ValueError("pool must be a list of country names")
        for c in pool:
            try:
                reference.resolve_country(c)
            except CulturalignError:
                raise ValueError(f"pool names an unknown country {c[:60]!r}") from None

    extra_state = {**Respondent.extra_state, "retrieval": _check_retrieval}

    def dump_state(self, json_mode=True):
        return {
            **super().dump_state(json_mode=json_mode),
            "retrieval": {
                "pool": list(self.pool),
                "k": self.k,
                "weighting": self.retrieval.weighting,
                "anchor": self.retrieval.anchor,
                "evidence": self.evidence,
                "per_neighbour": self.per_neighbour,
            },
        }

    def load_state(self, state, **kwargs):
        super().load_state(state, **kwargs)
        retrieval = state.get("retrieval") or {}
        # saved before evidence existed: no evidence, two distinctive answers per neighbour (as compiled)
        self.set_retrieval(
            k=int(retrieval.get("k", self.k)),
            weighting=retrieval.get("weighting", "uniform"),
            anchor=retrieval.get("anchor", "region"),
            evidence=retrieval.get("evidence", "none"),
            per_neighbour=int(retrieval.get("per_neighbour", 2)),
        )
        return self.fit_countries(retrieval.get("pool", []))

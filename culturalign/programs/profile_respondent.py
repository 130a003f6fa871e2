"""``respondent_profile``: a respondent that first writes a short profile of the target culture, then answers
every survey question with that profile in its prompt.

Two predictors, both tunable: ``describe`` (country -> profile: religion, family, gender roles, tolerance,
trust, national pride, authority) and ``respond`` (country, profile, question -> answer, read exactly from
log-probabilities). The profile is generated greedily once per country, model and instruction (the answer
cache keys on all three), and kept in :attr:`ProfileRespondent.profiles` so that evaluations can show what
the model believed about each country.
"""

from __future__ import annotations

import dspy

from ..elicitation.respondent import active_session
from .programs import ProgramContext, Respondent, chat_prompt, demo_fields

PROFILE_MARKER = "[[ ## profile ## ]]\n"
MAX_PROFILE_TOKENS = 160


class CultureProfile(dspy.Signature):
    """Describe in four or five short, factual sentences what most people in the given country believe and
    value: religion and God, family and children, the roles of men and women, tolerance of homosexuality and
    abortion, trust in other people, national pride and respect for authority."""

    country: str = dspy.InputField(desc="the country to describe")
    profile: str = dspy.OutputField(desc="four or five short sentences")


class ProfiledAnswer(dspy.Signature):
    """Answer the survey question as a typical person born in and living in the given country would answer
    it, in keeping with the profile of that country's culture."""

    country: str = dspy.InputField(desc="the country whose people you speak for")
    profile: str = dspy.InputField(desc="what people in this country typically believe and value")
    question: str = dspy.InputField(desc="a survey question with its numbered answer options")
    answer: str = dspy.OutputField(desc="the number of the chosen option only")


STOP = ("[[ ## completed", "\nQuestion:")


def clean_profile(text: str) -> str:
    """The profile as generated: after the profile marker the model writes itself, up to the next field
    marker or question it may run on into, on one line."""
    text = text.split(PROFILE_MARKER.strip(), 1)[-1]
    for stop in ("[[ ##", *STOP):
        text = text.split(stop, 1)[0]
    return " ".join(text.split())


class ProfileRespondent(Respondent):
    name = "respondent_profile"

    def __init__(self):
        dspy.Module.__init__(self)
        self.describe = dspy.Predict(CultureProfile)
        self.respond = dspy.Predict(ProfiledAnswer)
        self.profiles: dict[str, str] = {}  # country -> the profile its answers were given
        self.prompt_format = self.default_prompt_format

    def profile(self, country: str) -> str:
        """The culture profile of ``country`` written by the active session's model (greedy, cached)."""
        session, _ = active_session()
        signature = self.describe.signature
        demos = [dict(d) for d in (demo_fields(x, signature) for x in self.describe.demos) if d]
        # no prefill: llama.cpp's chat template writes the field marker again after one, so the model
        # writes it itself and clean_profile() takes what follows
        prompt = chat_prompt(signature, demos, {"country": country}, "")
        reply = session.generate(prompt, temperature=0.0, max_tokens=MAX_PROFILE_TOKENS, seed=0, stop=STOP)
        self.profiles[country] = clean_profile(reply.text or "")
        return self.profiles[country]

    def contexts(self, country: str) -> list[ProgramContext]:
        return [
            ProgramContext(
                self.name,
                self.respond.signature.instructions,
                self.own_demos(),
                country,
                inputs=(("profile", self.profile(country)),),
                signature=self.respond.signature,
                prompt_format=self.prompt_format,
            )
        ]

    def _record_trace(self, country, answers, survey) -> None:
        """Bootstrap-style optimizers may keep this country's profile as a demo of ``describe`` too."""
        super()._record_trace(country, answers, survey)
        dspy.settings.trace.append(
            (self.describe, {"country": country}, dspy.Prediction(profile=self.profiles[country]))
        )

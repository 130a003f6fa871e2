"""Recommendation explanations as DSPy programs: explain(target culture, liked history, item facts).

``recexplain`` is the tunable explainer (its instructions and demos are what optimizers edit). Its
baselines share the interface: ``recexplain_plain`` writes without any culture, ``recexplain_handwritten``
follows a hand-written culture-conditioned prompt. All three generate through the task model set in DSPy
(``dspy.context(lm=...)``); DSPy's disk cache keeps every generation, so re-runs are cheap.
"""

from __future__ import annotations

import dspy


class ExplainForCulture(dspy.Signature):
    """Explain in two or three sentences why the recommended film suits this viewer, written for a viewer
    from the given country. Name at least one film from the viewer's history by its title, and state only
    facts given about the films."""

    country: str = dspy.InputField(desc="the viewer's country")
    history: str = dspy.InputField(desc="films the viewer liked recently, with their facts")
    item: str = dspy.InputField(desc="the recommended film and its facts")
    explanation: str = dspy.OutputField(desc="two or three sentences")


class ExplainPlain(dspy.Signature):
    """Explain in two or three sentences why the recommended film suits this viewer. Name at least one film
    from the viewer's history by its title, and state only facts given about the films."""

    history: str = dspy.InputField(desc="films the viewer liked recently, with their facts")
    item: str = dspy.InputField(desc="the recommended film and its facts")
    explanation: str = dspy.OutputField(desc="two or three sentences")


HANDWRITTEN = (
    "You write film recommendations for a streaming service's viewers in the given country. Write two or three "
    "sentences explaining why the recommended film suits this viewer. Speak to what people in that country "
    "typically value — for example family and community, tradition or individual freedom, duty or self-"
    "expression — in the tone a local critic would use, without naming the country. Name at least one film from "
    "the viewer's history by its title, and state only facts given about the films."
)


class RecExplainer(dspy.Module):
    """The tunable culture-conditioned explainer."""

    name = "recexplain"
    task = "recexplain"

    def __init__(self, instructions: str | None = None):
        super().__init__()
        signature = ExplainForCulture.with_instructions(instructions) if instructions else ExplainForCulture
        self.explain = dspy.Predict(signature)

    def forward(self, country: str, history: str, item: str):
        return self.explain(country=country, history=history, item=item)


class PlainExplainer(dspy.Module):
    """Baseline: no culture at all (the target country is ignored)."""

    name = "recexplain_plain"
    task = "recexplain"

    def __init__(self):
        super().__init__()
        self.explain = dspy.Predict(ExplainPlain)

    def forward(self, country: str, history: str, item: str):
        return self.explain(history=history, item=item)


class HandwrittenExplainer(RecExplainer):
    """Baseline: a hand-written culture-conditioned prompt."""

    name = "recexplain_handwritten"

    def __init__(self):
        super().__init__(HANDWRITTEN)

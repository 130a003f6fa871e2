"""Labelled demonstrations from real survey data: what a training country's people typically answer.

One training example is one country. Where WVS wave 7 surveyed it, the example also carries one answered
question: the question on which that country differs most from the average country, answered with the
option nearest its people's mean (the majority for yes/no questions). Optimizers that use labelled demos
(``max_labeled_demos`` in BootstrapFewShot, MIPROv2 and their relatives) can then show the model real
answers of *training* countries; test countries never become examples, so none of their data leaks.
"""

from __future__ import annotations

import pandas as pd

from ..instrument.survey import Survey
from ..map import reference


_TABLES: dict[str, pd.DataFrame] = {}


def _label_table(survey: Survey) -> pd.DataFrame:
    """iso2 x question: the country's mean answer, how unusual it is (|z| across countries), its typical code."""
    if survey.digest in _TABLES:  # by content: two survey files may share a name
        return _TABLES[survey.digest]
    dist = reference.wvs7_distributions()
    rows = []
    for item in survey.items:
        for q in item.questions():
            wvs7 = item.wvs7_question(q.part)
            if wvs7 is None or (not item.ordinal and len(q.codes) > 2):  # no typical answer among unordered ones
                continue
            sub = dist[dist.question == wvs7]
            means = (sub.option * sub.share).groupby(sub.iso2).sum() / sub.share.groupby(sub.iso2).sum()
            spread = means.std() or 1.0
            for iso2, mean in means.items():
                typical = min(q.codes, key=lambda c: (abs(c - mean), c))
                rows.append(
                    {
                        "iso2": iso2,
                        "item": item.code,
                        "part": str(q.part),
                        "mean": float(mean),
                        "z": float(abs(mean - means.mean()) / spread),
                        "answer": typical,
                    }
                )
    _TABLES[survey.digest] = pd.DataFrame(rows)
    return _TABLES[survey.digest]


def labelled_demos(country: str, survey: Survey, n: int = 1) -> list[dict]:
    """``[{"question": text, "answer": code, "item": code, "part": label}, ...]``: the country's ``n`` most
    distinctive WVS-7 answers (most unusual first); empty when WVS wave 7 did not survey the country."""
    iso2 = reference.countries().set_index("country").loc[reference.resolve_country(country), "iso2"]
    table = _label_table(survey)
    mine = table[table.iso2 == iso2].sort_values(["z", "item", "part"], ascending=[False, True, True]).head(n)
    out = []
    for row in mine.itertuples():
        q = next(q for q in survey.item(row.item).questions() if str(q.part) == row.part)
        out.append({"question": q.text, "answer": str(int(row.answer)), "item": row.item, "part": row.part})
    return out


def labelled_demo(country: str, survey: Survey) -> dict | None:
    """The country's most distinctive WVS-7 answer as ``{"question": text, "answer": code}``, or None when
    WVS wave 7 did not survey the country."""
    demos = labelled_demos(country, survey, 1)
    return {k: demos[0][k] for k in ("question", "answer")} if demos else None


def training_examples(countries: list[str], survey: Survey, label=None) -> list:
    """DSPy examples, one per country (input: ``country``), labelled where WVS-7 data exist. ``label``: the
    program's own labeller, (country, survey) -> demo fields or None (a retrieving program shows the evidence
    it would show with that question); default :func:`labelled_demo`."""
    import dspy

    out = []
    for country in countries:
        fields = (label or labelled_demo)(country, survey) or {}
        out.append(dspy.Example(country=country, **fields).with_inputs("country"))
    return out

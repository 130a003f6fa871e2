"""The surveys a user can select (``--survey NAME|PATH``): what each holds and what it is scored against."""

from __future__ import annotations

import pandas as pd

from ..instrument.populations import question_keys, target_distributions
from ..instrument.survey import builtin_surveys, load_survey


def survey_table(paths=()) -> pd.DataFrame:
    """One row per shipped survey and per survey file in ``paths``: name, title, items, questions with published
    answer shares, themes, societies with data, the map projection ("none" for distributions only), digest."""
    rows = []
    shipped = sorted(builtin_surveys())
    for source in [*shipped, *(p for p in paths if p not in shipped)]:
        survey = load_survey(source)
        targets = target_distributions(survey)
        rows.append(
            {
                "name": survey.name,
                "title": survey.title,
                "items": len(survey.items),
                "questions_with_data": int(question_keys(survey).question.isin(set(targets.question)).sum()),
                "themes": survey.themes,
                "societies": int(targets.country.nunique()),
                "map": "none" if survey.map is None else survey.projection or "projection_ivs_2005_2022.yaml",
                "shipped": source in builtin_surveys(),
                "digest": survey.digest[:12],
                "source_path": survey.source_path,
            }
        )
    return pd.DataFrame(rows)


def question_table(source) -> pd.DataFrame:
    """One row per item of a survey (a shipped name or a file): code, theme, type, options, the published
    questions it asks, societies with data, name — what ``--questions`` can select."""
    survey = load_survey(source)
    keys, targets = question_keys(survey), target_distributions(survey)
    societies = targets.groupby("item").country.nunique()
    return pd.DataFrame(
        [
            {
                "code": item.code,
                "theme": item.theme,
                "type": item.type,
                "options": len(item.answer_codes),
                "wvs7": ",".join(sorted(set(keys[keys.item == item.code].question))),
                "societies": int(societies.get(item.code, 0)),
                "name": item.name,
            }
            for item in survey.items
        ]
    )

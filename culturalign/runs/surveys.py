"""The surveys a user can select (``--survey NAME|PATH``): what each holds and what it is scored against."""
from __future__ import annotations

import pandas as pd

from ..instrument.populations import question_keys, target_distributions
from ..instrument.survey import builtin_surveys, load_survey


def survey_table(paths=()) -> pd.DataFrame:
    """One row per shipped survey and per survey file in ``paths``: name, title, items, questions with published
    answer shares, themes, societies with data, the map projection ("none" for distributions only), digest."""
    rows = []
    for source in [*sorted(builtin_surveys()), *paths]:
        survey = load_survey(source)
        targets = target_distributions(survey)
        rows.append({"name": survey.name, "title": survey.title, "items": len(survey.items),
                     "questions_with_data": int(question_keys(survey).question.isin(set(targets.question)).sum()),
                     "themes": survey.themes, "societies": int(targets.country.nunique()),
                     "map": "none" if survey.map is None else survey.projection or "projection_ivs_2005_2022.yaml",
                     "shipped": source in builtin_surveys(), "digest": survey.digest[:12],
                     "source_path": survey.source_path})
    return pd.DataFrame(rows)

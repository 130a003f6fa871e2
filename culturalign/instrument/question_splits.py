"""Held-out questions: a seeded split of a survey's questions, stratified by theme, beside the country split.

A program compiled on the training questions and scored on the test questions shows whether what it learned
carries to questions it never saw. The split is a pure function of the survey's item codes, themes and the seed,
so every run and manifest agrees on it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import CulturalignError


def _shuffled_themes(survey, seed: int):
    """Each theme (sorted) with its item codes in a seeded order; one generator for every theme in turn."""
    rng = np.random.default_rng(seed)
    by_theme: dict[str, list[str]] = {}
    for item in survey.items:
        by_theme.setdefault(item.theme or "(none)", []).append(item.code)
    for theme in sorted(by_theme):
        codes = sorted(by_theme[theme])
        rng.shuffle(codes)
        yield theme, codes


def question_splits(survey, seed: int = 0, test: float = 0.3) -> pd.DataFrame:
    """One row per item: item, theme, split ("train" or "test"). Each theme's items are shuffled with ``seed``
    and the first ``round(n * test)`` (at least one where a theme has two or more) are held out."""
    if not 0 < test < 1:
        raise CulturalignError(f"the held-out share of questions must be in (0, 1), got {test!r}")
    rows = []
    for theme, codes in _shuffled_themes(survey, seed):
        n_test = max(1, round(len(codes) * test)) if len(codes) >= 2 else 0
        rows += [
            {"item": code, "theme": theme, "split": "test" if i < n_test else "train"} for i, code in enumerate(codes)
        ]
    return pd.DataFrame(rows).sort_values(["split", "theme", "item"]).reset_index(drop=True)


def stratified_questions(survey, per_theme: int, seed: int = 0) -> list[str]:
    """A seeded subset of ``per_theme`` items from every theme (all of a smaller theme's), in survey order:
    a study that covers every topic at a fraction of the cost."""
    if isinstance(per_theme, bool) or not isinstance(per_theme, int) or per_theme < 1:
        raise CulturalignError(f"questions per theme must be a whole number of at least 1, got {per_theme!r}")
    chosen = set()
    for _, codes in _shuffled_themes(survey, seed):
        chosen |= set(codes[:per_theme])
    return [code for code in survey.codes if code in chosen]

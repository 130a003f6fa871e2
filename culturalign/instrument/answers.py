"""Answers given by hand (a file for `culturalign project` and `map --points`, or the API's
:func:`project`): checked against a survey's item codes and ranges before they are projected onto its map."""

from __future__ import annotations

import math
import numbers
from pathlib import Path

import pandas as pd

from ..errors import CulturalignError
from ..fileio import shown
from ..validation import Fields, Number, Place, Text
from .survey import DEFAULT_SURVEY, Survey, load_survey


def answer_vectors(data, path: str, survey) -> tuple[list[str], list[dict], bool]:
    """Names and answer mappings from a JSON object or list of objects; checks item codes and values."""
    single = isinstance(data, dict)
    entries = [data] if single else data
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        raise CulturalignError(
            f"{path}: expected an object mapping item codes to values, or a non-empty list of such objects"
        )
    items = set(survey.map.items)
    names, vectors = [], []
    for i, entry in enumerate(entries):
        where = f"{path}: entry {i + 1}" if not single else path
        name = entry.get("name", f"answers {i + 1}")
        if not isinstance(name, str) or len(name) > 200:
            raise CulturalignError(f"{where}: name must be text of at most 200 characters, got {shown(name)}")
        vector = {k: v for k, v in entry.items() if k != "name"}
        unknown = sorted(map(str, set(vector) - items))
        if unknown:
            raise CulturalignError(
                f"{where}: unknown item code(s) {', '.join(unknown)[:200]}; items: {', '.join(sorted(items))}"
            )
        for k, v in vector.items():
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise CulturalignError(f"{where}: value of {k} must be a number, got {shown(v)}")
        names.append(str(name))
        vectors.append(vector)
    return names, vectors, single


def check_ranges(vectors, path, survey, first: int = 1):
    """Every answer inside its item's range; ``first`` numbers the entries in the message."""
    for i, vector in enumerate(vectors):
        for code, value in vector.items():
            lo, hi = survey.item(code).range
            if not (math.isnan(value) or lo <= value <= hi):  # NaN: not answered (fill_mean may hold it)
                raise CulturalignError(
                    f"{path}: entry {i + first}: {code} = {shown(value)} is outside its range [{lo}, {hi}]"
                )


_POSITION = Fields({"name": Text(200, blank=True), "x": Number(-10, 10), "y": Number(-10, 10)}, ("x", "y"))


def map_points(data, path: str, survey: Survey) -> pd.DataFrame:
    """Extra points for a map (``map --points``): each ``{name, x, y}`` by its position, or item answers projected
    on ``survey``'s map as :func:`project` projects them. Returns columns name, x, y."""
    rows = []
    for i, entry in enumerate([data] if isinstance(data, dict) else data if isinstance(data, list) else []):
        where = f"{path}: entry {i + 1}"
        if isinstance(entry, dict) and ("x" in entry or "y" in entry):
            Place(where, names="{}").check(_POSITION, entry)
            rows.append({"name": entry.get("name", f"point {i + 1}"), "x": float(entry["x"]), "y": float(entry["y"])})
            continue
        names, vectors, _ = answer_vectors(entry, where, survey)
        check_ranges(vectors, path, survey, first=i + 1)
        x, y = survey.map.project(vectors).iloc[0]
        rows.append({"name": names[0], "x": float(x), "y": float(y)})
    if not rows:
        raise CulturalignError(f"{path}: expected a list of points ({{name, x, y}} or item answers)")
    return pd.DataFrame(rows)


def project(answers, *, survey: str | Path | Survey = DEFAULT_SURVEY, fill_mean: bool = False) -> pd.DataFrame:
    """Project answers onto ``survey``'s map (the IVS map by default), checked first as ``culturalign project``
    checks a file: item codes the survey knows, numbers inside each item's range. ``answers``: a mapping item ->
    value (an optional ``name`` is ignored here), a list of them, or a DataFrame with one column per item (its
    index is kept; NaN is a missing answer, held at the pooled mean with ``fill_mean``). Returns columns x, y."""
    survey = survey if isinstance(survey, Survey) else load_survey(survey)
    if survey.map is None:
        raise CulturalignError(f"survey {survey.name!r} has no map projection: its answers cannot be placed on a map")
    index = answers.index if isinstance(answers, pd.DataFrame) else None
    data = answers.to_dict(orient="records") if index is not None else answers
    if isinstance(data, tuple):
        data = list(data)
    _, vectors, _ = answer_vectors(data, "answers", survey)
    check_ranges(vectors, "answers", survey)
    out = survey.map.project(vectors, fill_mean=fill_mean)
    return out.set_axis(index) if index is not None else out

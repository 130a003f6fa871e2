"""What each society answered: the published share of every answer option per survey question.

A survey's questions name the WVS-7 question they ask (``wvs7:``); the survey names the shipped file of answer
shares it is scored against (``distributions:``, default the WVS-7 shares of the ten map items). A society's
distribution is over the question's substantive options only: don't know / no answer / missing were dropped
and the rest renormalised when the file was built (tools/build_wvs7_survey.py; the dropped share is kept in the
file). Societies are named as on the cultural map where they are on it; a society off the map keeps its WVS
name and is still a valid target for the distributional metrics.
"""

from __future__ import annotations

import difflib
from functools import lru_cache

import pandas as pd

from ..errors import CulturalignError
from ..map import reference

DEFAULT_DISTRIBUTIONS = "wvs7_distributions.csv"  # the WVS-7 shares of the ten map items
SOCIETIES = "wvs7_societies.csv"


@lru_cache(maxsize=None)
def societies() -> pd.DataFrame:
    """Every society with WVS-7 data: iso2, society (the name used everywhere), on_map, region ("" off the map)."""
    mapped = reference.countries()[["iso2", "country", "region"]]
    extra = (
        reference.read_data(SOCIETIES)
        if reference.data_file(SOCIETIES).is_file()
        else pd.DataFrame(columns=["iso2", "name"])
    )
    rows = [{"iso2": r.iso2, "society": r.country, "on_map": True, "region": r.region} for r in mapped.itertuples()]
    known = set(mapped.iso2)
    rows += [
        {"iso2": r.iso2, "society": r.name, "on_map": False, "region": ""}
        for r in extra.itertuples()
        if r.iso2 not in known
    ]
    return pd.DataFrame(rows)


def _file(survey) -> str:
    return survey.distributions or DEFAULT_DISTRIBUTIONS


def question_keys(survey) -> pd.DataFrame:
    """One row per model-facing question that asks a published WVS-7 question: item, part (its answers.csv
    label), question (the WVS-7 id), theme, ordinal, codes (the answer codes, in order)."""
    rows = []
    for item in survey.items:
        for q in item.questions():
            wvs7 = item.wvs7_question(q.part)
            if wvs7:
                rows.append(
                    {
                        "item": item.code,
                        "part": str(q.part),
                        "question": wvs7,
                        "theme": item.theme,
                        "ordinal": item.ordinal,
                        "codes": tuple(q.codes),
                    }
                )
    return pd.DataFrame(rows, columns=["item", "part", "question", "theme", "ordinal", "codes"])


@lru_cache(maxsize=8)
def _shares(name: str) -> pd.DataFrame:
    table = reference.read_data(name)
    names = societies().set_index("iso2").society
    table = table[table.iso2.isin(names.index)]
    return table.assign(country=table.iso2.map(names))


def target_distributions(survey) -> pd.DataFrame:
    """Each society's answer distribution for every question of ``survey`` with published shares: item, part,
    question, country, option, share (renormalised over the question's answer codes; a society that gave
    none of them is left out)."""
    return _targets(survey).copy()


_TARGETS: dict[str, pd.DataFrame] = {}


def _targets(survey) -> pd.DataFrame:
    if survey.digest in _TARGETS:
        return _TARGETS[survey.digest]
    keys = question_keys(survey)
    if keys.empty:
        return pd.DataFrame(columns=["item", "part", "question", "country", "option", "share"])
    shares = _shares(_file(survey))
    by_question = dict(tuple(shares[shares.question.isin(set(keys.question))].groupby("question", sort=False)))
    out = []
    for key in keys.itertuples():
        sub = by_question.get(key.question)
        if sub is None:
            continue
        sub = sub[sub.option.isin(key.codes)]
        sub = sub.assign(share=sub.share / sub.groupby("country").share.transform("sum"))
        out.append(
            sub[sub.share.notna()][["country", "option", "share"]].assign(
                item=key.item, part=key.part, question=key.question
            )
        )
    table = (
        pd.concat(out, ignore_index=True)[["item", "part", "question", "country", "option", "share"]]
        if out
        else pd.DataFrame(columns=["item", "part", "question", "country", "option", "share"])
    )
    _TARGETS[survey.digest] = table
    return table


def countries_with_data(survey) -> list[str]:
    """The societies with published shares for at least one question of ``survey``, sorted."""
    return sorted(target_distributions(survey).country.unique())


def resolve_targets(survey, spec) -> list[str]:
    """Target countries for ``survey``: on a survey with a map, the map's reference countries (as
    :func:`culturalign.map.reference.resolve_countries`); on a survey without one, every society with data —
    ``"all"``, a region, or names/ISO codes of societies on or off the map."""
    if survey.map is not None:
        return reference.resolve_countries(spec)
    with_data = countries_with_data(survey)
    if not with_data:
        raise CulturalignError(
            f"survey {survey.name!r} has no map projection and no society with published answer "
            "shares: there is nothing to score it against"
        )
    if isinstance(spec, str):
        if spec.strip().lower() == "all":
            return with_data
        spec = [s for s in spec.split(",") if s.strip()]
    reference.check_entry_count(spec)
    table = societies()
    index = {k.casefold(): r.society for r in table.itertuples() for k in (r.iso2, r.society) if isinstance(k, str)}
    out = []
    for entry in spec:
        key = str(entry).strip()
        region = next((r for r in reference.REGIONS if r.casefold() == key.casefold()), None)
        if region:
            names = [s for s in table.loc[table.region == region, "society"] if s in with_data]
        else:
            try:
                names = [reference.resolve_country(key)]
            except CulturalignError:
                if key.casefold() not in index:
                    close = difflib.get_close_matches(key, with_data, n=3, cutoff=0.5)
                    hint = f" Did you mean {', '.join(close)}?" if close else ""
                    raise CulturalignError(
                        f"unknown country {key!r}.{hint} Survey {survey.name!r} has data for "
                        f"{len(with_data)} societies (`culturalign surveys` lists them)"
                    ) from None
                names = [index[key.casefold()]]
        missing = [n for n in names if n not in with_data]
        if missing:
            raise CulturalignError(
                f"{', '.join(missing)}: survey {survey.name!r} has no published answer shares "
                f"for it; societies with data: {', '.join(with_data)}"
            )
        out += [n for n in names if n not in out]
    if not out:
        raise CulturalignError("no countries given; pass names, ISO codes, a region or 'all'")
    return out

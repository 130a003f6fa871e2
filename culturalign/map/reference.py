"""Reference data shipped in ``surveys/reference/``: countries, official WVS map points, WVS-7 answer shares.

Every figure is cited in surveys/SOURCES.md. Tables are read once and cached; callers get copies.
"""

from __future__ import annotations

import difflib
from functools import lru_cache
from importlib import resources

import pandas as pd

from ..errors import CulturalignError

# the audit's default: one country per cultural region
DEFAULT_COUNTRIES = ("United States", "Sweden", "Spain", "Russia", "Japan", "Brazil", "Nigeria", "India")

REGIONS = (
    "African-Islamic",
    "Catholic Europe",
    "Confucian",
    "English-Speaking",
    "Latin America",
    "Orthodox Europe",
    "Protestant Europe",
    "West & South Asia",
)


def data_file(name: str):
    return resources.files("culturalign.surveys.reference").joinpath(name)


@lru_cache(maxsize=None)
def _read_csv(name: str) -> pd.DataFrame:
    with data_file(name).open() as fh:
        return pd.read_csv(fh, keep_default_na=False, na_values=[""])


def read_data(name: str) -> pd.DataFrame:
    """A copy of a shipped reference table, by file name."""
    return _read_csv(name).copy()


def projection_files() -> list[str]:
    """The shipped map projections (``projection_*.yaml``), by file name: what a survey's ``projection:`` names."""
    return sorted(
        e.name
        for e in resources.files("culturalign.surveys.reference").iterdir()
        if e.name.startswith("projection_") and e.name.endswith(".yaml")
    )


def distribution_files() -> list[str]:
    """The shipped files of societies' answer shares per WVS-7 question (``wvs7_*distributions*.csv``): what a
    survey's ``distributions:`` names."""
    return sorted(
        e.name
        for e in resources.files("culturalign.surveys.reference").iterdir()
        if e.name.startswith("wvs7_") and "distributions" in e.name and e.name.endswith(".csv")
    )


def countries() -> pd.DataFrame:
    """The 107 reference societies: country, iso2, iso3, s003, region, x, y (IVS 2005-2022 map), aliases."""
    df = _read_csv("countries.csv").copy()
    df["aliases"] = df["aliases"].fillna("")
    return df


def official_map() -> pd.DataFrame:
    """The official WVS 2022 cultural map (110 countries): iso3, country, x, y. A separate scale: never
    mix its points into distances computed on the IVS map."""
    return _read_csv("wvs_official_2022_map.csv").copy()


def wvs7_distributions() -> pd.DataFrame:
    """WVS wave 7 answer shares per country: iso2, iso3, question, item, option, share, valid_percent.
    Known extraction defects are left out and listed by :func:`wvs7_exclusions`."""
    return _read_csv("wvs7_distributions.csv").copy()


def wvs7_exclusions() -> pd.DataFrame:
    return _read_csv("wvs7_exclusions.csv").copy()


@lru_cache(maxsize=None)
def _name_index() -> dict[str, str]:
    index = {}
    for row in countries().itertuples():
        keys = [row.country, row.iso2, row.iso3] + [a for a in row.aliases.split(";") if a]
        for key in keys:
            if isinstance(key, str) and key:
                index[key.casefold()] = row.country
    return index


def resolve_country(name: str) -> str:
    """Canonical reference name for a country given by name, common alias or ISO code (any case)."""
    key = str(name).strip().casefold()
    index = _name_index()
    if key in index:
        return index[key]
    names = sorted(set(index.values()))
    close = difflib.get_close_matches(str(name).strip(), names, n=3, cutoff=0.5)
    close += [index[k] for k in difflib.get_close_matches(key, list(index), n=3, cutoff=0.6) if index[k] not in close]
    hint = f" Did you mean {', '.join(close[:3])}?" if close else ""
    raise CulturalignError(
        f"unknown country {name!r}.{hint} Run `culturalign countries` for the 107 reference "
        "societies (names, aliases and ISO codes all work)."
    )


MAX_COUNTRY_ENTRIES = 1000  # far above 107 countries and 9 regions: a longer list is a mistake, not a request


def check_entry_count(spec) -> None:
    """Refuse a country list too long to be meant (each entry costs a look-up; repeats are dropped)."""
    if len(spec) > MAX_COUNTRY_ENTRIES:
        raise CulturalignError(
            f"{len(spec):,} country entries given; at most {MAX_COUNTRY_ENTRIES:,} (names, ISO codes "
            "or regions, each once), or 'all'"
        )


def resolve_countries(spec) -> list[str]:
    """A list of countries from ``"all"``, a region name, or names/codes (a list or a comma-separated string)."""
    if isinstance(spec, str):
        if spec.strip().lower() == "all":
            return countries()["country"].tolist()
        spec = [s for s in spec.split(",") if s.strip()]
    check_entry_count(spec)
    out = []
    table = countries()
    for entry in spec:
        region = next((r for r in REGIONS if r.casefold() == str(entry).strip().casefold()), None)
        names = table.loc[table.region == region, "country"].tolist() if region else [resolve_country(entry)]
        out += [n for n in names if n not in out]
    if not out:
        raise CulturalignError("no countries given; pass names, ISO codes, a region or 'all'")
    return out

"""Survey instruments as data: load a survey YAML and validate it into items.

A survey file lists items and names the map projection its answers are placed with. Each item has one of
the registered item types (see :mod:`culturalign.instrument.items`; shipped: ``scale``, ``mention_index`` like the IVS
autonomy index Y003, ``ranked_pair`` like the post-materialist index Y002). A new survey with other items and
scales needs no code; a new kind of item is one class registered with :func:`register_item_type`.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

import yaml

from ..errors import CulturalignError, SurveyError
from ..fileio import read_yaml, shown
from ..map import cultmap
from ..map.reference import distribution_files, projection_files
from .items import Item, Where, parse_item

DEFAULT_SURVEY = "ivs-iw10"
NO_MAP = "none"  # ``projection: none``: a survey scored by its answer distributions only


@dataclass(frozen=True)
class Survey:
    name: str
    title: str
    items: tuple[Item, ...]
    projection: str  # the map projection file it declares (a shipped reference file); "" for the default, NO_MAP
    source_path: str
    digest: str
    distributions: str = ""  # the shipped file of its societies' answer shares ("" for the WVS-7 map-item shares)

    @property
    def map(self) -> cultmap.Projection | None:
        """The projection its answers are placed on the map with: the one it declares, else IVS 2005-2022;
        None for a survey declared ``projection: none`` (scored by answer distributions only)."""
        if self.projection == NO_MAP:
            return None
        return cultmap.load_projection(self.projection or cultmap.DEFAULT_PROJECTION)

    @property
    def codes(self) -> list[str]:
        return [item.code for item in self.items]

    @property
    def themes(self) -> list[str]:
        return sorted({item.theme for item in self.items if item.theme})

    def select(self, questions) -> "Survey":
        """The survey restricted to ``questions``: item codes and/or themes, a list or comma-separated text.
        Without a map projection any subset goes; with one, the items the map places stay (a point needs them)."""
        wanted = [
            q.strip() for q in (questions.split(",") if isinstance(questions, str) else questions) if str(q).strip()
        ]
        if not wanted:
            raise SurveyError("--questions: no question ids or themes given")
        themes = {t.casefold(): t for t in self.themes}
        codes = {c.casefold(): c for c in self.codes}
        keep = set()
        for entry in wanted:
            key = str(entry).casefold()
            if key in codes:
                keep.add(codes[key])
            elif key in themes:
                keep |= {i.code for i in self.items if i.theme == themes[key]}
            else:
                raise SurveyError(
                    f"--questions: {shown(entry)} is neither a question of survey {self.name!r} nor one "
                    f"of its themes ({', '.join(self.themes) or 'it has none'}); `culturalign surveys` "
                    "lists them"
                )
        if self.map is not None:
            lacking = [c for c in self.map.items if c not in keep]
            if lacking:
                raise SurveyError(
                    f"--questions: survey {self.name!r} places its answers on the map, which needs "
                    f"{', '.join(lacking)} too; keep every map item"
                )
        if keep == set(self.codes):
            return self
        items = tuple(i for i in self.items if i.code in keep)
        return replace(
            self,
            items=items,
            digest=hashlib.sha256((self.digest + "|" + ",".join(i.code for i in items)).encode()).hexdigest(),
        )

    def item(self, code: str) -> Item:
        for item in self.items:
            if item.code == code:
                return item
        raise SurveyError(f"survey {self.name!r} has no item {code!r}; items: {', '.join(self.codes)}")


def parse_survey(data, path="<survey>") -> Survey:
    """Validate a survey mapping (as loaded from YAML) and build a :class:`Survey`."""
    top = Where(str(path), "top level")
    if not isinstance(data, dict):
        top.fail("must be a mapping with keys survey, title, items")
    for key in ("survey", "items"):
        if key not in data:
            top.fail(f"missing '{key}'")
    items = data["items"]
    if not isinstance(items, list) or not items or len(items) > 1000:
        top.fail("'items' must be a list of 1 to 1000 items")
    for key in ("survey", "title", "projection", "distributions"):
        if key in data and not isinstance(data[key], (str, int, float)) or isinstance(data.get(key), bool):
            top.fail(f"'{key}' must be text, got {shown(data[key])}")
    projection = str(data.get("projection", ""))
    if projection and projection != NO_MAP and projection not in projection_files():
        top.fail(
            f"'projection' {shown(projection)} is not a shipped map projection; name one of "
            f"{', '.join(projection_files())}, '{NO_MAP}' for none, or leave it out for the default"
        )
    parsed = tuple(parse_item(raw, path, i) for i, raw in enumerate(items))
    seen = set()
    for item in parsed:
        if item.code in seen:
            Where(str(path), f"item {item.code}").fail("duplicate item code")
        seen.add(item.code)
    distributions = str(data.get("distributions", ""))
    if distributions and distributions not in distribution_files():
        top.fail(
            f"'distributions' {shown(distributions)} is not a shipped file of answer shares; name one of "
            f"{', '.join(distribution_files())}, or leave it out"
        )
    if projection and projection != NO_MAP:
        lacking = [code for code in cultmap.load_projection(projection).items if code not in seen]
        if lacking:
            top.fail(f"the projection {projection} places answers to {', '.join(lacking)}, which the survey lacks")
    text = yaml.safe_dump(data, sort_keys=True)
    return Survey(
        name=str(data["survey"]),
        title=str(data.get("title", data["survey"])),
        items=parsed,
        projection=projection,
        source_path=str(path),
        digest=hashlib.sha256(text.encode()).hexdigest(),
        distributions=distributions,
    )


@functools.cache
def builtin_surveys() -> dict[str, Path]:
    """The shipped surveys: name -> file (the name read from the file's top-level ``survey:`` line, without
    parsing the whole file: WVS-7's takes a second)."""
    out = {}
    for entry in resources.files("culturalign.surveys").iterdir():
        if entry.name.endswith(".yaml"):
            found = re.search(r"^survey:\s*(\S+)\s*$", entry.read_text(encoding="utf-8"), re.MULTILINE)
            out[found.group(1) if found else entry.name] = Path(str(entry))
    return out


@functools.lru_cache(maxsize=8)
def _shipped_survey(path: Path) -> Survey:
    """A shipped survey, parsed once per process (a Survey is immutable)."""
    return parse_survey(read_yaml(path, "survey file"), path)


def load_survey(name_or_path: str | Path = DEFAULT_SURVEY) -> Survey:
    """Load a shipped survey by name (``ivs-iw10``) or any survey YAML by path."""
    path = Path(name_or_path)
    if not path.exists():
        builtin = builtin_surveys()
        if str(name_or_path) not in builtin:
            raise SurveyError(
                f"unknown survey {str(name_or_path)!r}: not a file, and not one of the shipped "
                f"surveys ({', '.join(sorted(builtin))})"
            )
        return _shipped_survey(builtin[str(name_or_path)])
    try:
        data = read_yaml(path, "survey file")
    except CulturalignError as exc:  # callers catch survey problems as SurveyError
        raise SurveyError(str(exc)) from None
    return parse_survey(data, path)

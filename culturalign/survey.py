"""Survey instruments as data: load a survey YAML, validate it, and apply its coding rules.

A survey file lists items. Each item is one of three types (see surveys/ivs_iw10.yaml):
``scale`` (the answer code is the value), ``mention_index`` (a signed sum of "mentioned" components,
like the IVS autonomy index Y003) and ``ranked_pair`` (first and second choice mapped to a value,
like the post-materialist index Y002). A new survey with other items and scales needs no code.
"""
from __future__ import annotations

import hashlib
import math
import string
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Mapping

import yaml

from .errors import CulturalignError, SurveyError
from .fileio import read_yaml, shown

ITEM_TYPES = ("scale", "mention_index", "ranked_pair")
DEFAULT_SURVEY = "ivs-iw10"

_COMMON_KEYS = {"code", "name", "type", "text", "options", "range", "wvs7", "direction"}
_TYPE_KEYS = {
    "scale": set(),
    "mention_index": {"list", "ask", "mentioned", "components"},
    "ranked_pair": {"second_text", "groups", "mixed"},
}


@dataclass(frozen=True)
class Component:
    """One "mentioned or not" part of a mention index (e.g. Independence, weight +1)."""

    quality: str
    weight: float
    wvs7: str = ""


@dataclass(frozen=True)
class Item:
    code: str
    name: str
    type: str
    text: str
    options: Mapping[int, str]
    range: tuple[float, float]
    wvs7: tuple[str, ...] = ()
    direction: str = ""
    # mention_index
    list: tuple[str, ...] = ()
    ask: str = ""
    mentioned: int = 1
    components: tuple[Component, ...] = ()
    # ranked_pair
    second_text: str = ""
    groups: Mapping[int, frozenset] = field(default_factory=dict)
    mixed: float = 0.0

    @property
    def answer_codes(self) -> tuple[int, ...]:
        """Codes a respondent may answer to this item's question(s)."""
        if self.type == "scale":
            lo, hi = int(self.range[0]), int(self.range[1])
            return tuple(range(lo, hi + 1))
        return tuple(sorted(self.options))

    def pair_value(self, first: int, second: int) -> float:
        """ranked_pair coding: both choices inside one group give that group's value, else ``mixed``."""
        for value, members in self.groups.items():
            if first in members and second in members:
                return float(value)
        return float(self.mixed)

    def expected_value(self, dists) -> float:
        """Exact expected item value from answer distributions.

        ``dists`` by type: scale -> {code: p}; mention_index -> [{code: p} per component];
        ranked_pair -> ({a: p}, {a: {b: p(b | a)}}).
        """
        if self.type == "scale":
            return float(sum(code * p for code, p in dists.items()))
        if self.type == "mention_index":
            return float(sum(c.weight * d.get(self.mentioned, 0.0) for c, d in zip(self.components, dists)))
        first, second = dists
        return float(sum(pa * sum(pb * self.pair_value(a, b) for b, pb in second[a].items())
                         for a, pa in first.items()))


@dataclass(frozen=True)
class Survey:
    name: str
    title: str
    items: tuple[Item, ...]
    projection: str
    source_path: str
    digest: str

    @property
    def codes(self) -> list[str]:
        return [item.code for item in self.items]

    def item(self, code: str) -> Item:
        for item in self.items:
            if item.code == code:
                return item
        raise SurveyError(f"survey {self.name!r} has no item {code!r}; items: {', '.join(self.codes)}")


def _fail(path, where, what):
    raise SurveyError(f"{path}: {where}: {what}")


MAX_CODES = 100  # answer codes of one item: no survey scale comes near this


def _number(value, path, where, key):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        _fail(path, where, f"{key!r} must be a finite number, got {shown(value)}")
    return value


def _text(raw, key, path, where, default=None) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str) or not value.strip():
        _fail(path, where, f"'{key}' must be text, got {shown(value)}")
    return value


def _template(ask: str, path, where) -> None:
    """The mention question: text with {quality} as its only field, without format spec or conversion."""
    try:
        fields = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(ask) if name is not None]
    except ValueError as exc:
        _fail(path, where, f"'ask' is not a valid template ({exc}); write {{{{ and }}}} for literal braces")
    if not fields or any(f != ("quality", "", None) for f in fields):
        _fail(path, where, "'ask' must contain {quality} and no other {field}, e.g. "
                           "'Would \"{quality}\" be one of your choices?'")


def _parse_options(raw, path, where):
    if not isinstance(raw, dict) or not raw or len(raw) > MAX_CODES:
        _fail(path, where, f"'options' must be a mapping of 1 to {MAX_CODES} integer codes -> label")
    out = {}
    for code, label in raw.items():
        if isinstance(code, bool) or not isinstance(code, int):
            _fail(path, where, f"option code {shown(code)} must be an integer")
        if not isinstance(label, str) or not label.strip():
            _fail(path, where, f"option {code} needs a text label")
        out[code] = label
    return out


def _parse_item(raw, path, index) -> Item:
    where = f"item #{index + 1}"
    if not isinstance(raw, dict):
        _fail(path, where, "must be a mapping with keys code, name, type, text, options, range")
    code = raw.get("code")
    if not isinstance(code, str) or not code.strip() or len(code) > 50:
        _fail(path, where, "missing 'code' (a short identifier such as F063)")
    where = f"item {code}"
    kind = raw.get("type")
    if kind not in ITEM_TYPES:
        _fail(path, where, f"'type' must be one of {', '.join(ITEM_TYPES)}, got {shown(kind)}")
    allowed = _COMMON_KEYS | _TYPE_KEYS[kind]
    unknown = sorted(map(str, set(raw) - allowed))
    if unknown:
        _fail(path, where, f"unknown key(s) {', '.join(unknown)} for a {kind} item; allowed: {', '.join(sorted(allowed))}")
    for key in ("name", "text"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            _fail(path, where, f"missing '{key}' (text)")
    options = _parse_options(raw.get("options"), path, where)
    rng = raw.get("range")
    if not (isinstance(rng, list) and len(rng) == 2):
        _fail(path, where, "'range' must be [low, high]")
    lo, hi = (_number(v, path, where, "range") for v in rng)
    if lo >= hi:
        _fail(path, where, f"'range' low {lo} must be below high {hi}")
    if kind == "scale" and hi - lo >= MAX_CODES:
        _fail(path, where, f"a scale's 'range' spans at most {MAX_CODES} answer codes, got [{lo}, {hi}]")
    wvs7 = raw.get("wvs7", [])
    wvs7 = [wvs7] if isinstance(wvs7, str) else wvs7
    if not isinstance(wvs7, list) or not all(isinstance(w, str) for w in wvs7):
        _fail(path, where, f"'wvs7' must be a variable name or a list of them, got {shown(wvs7)}")
    if not isinstance(raw.get("direction", ""), str):
        _fail(path, where, f"'direction' must be text, got {shown(raw['direction'])}")
    fields = dict(code=code, name=raw["name"], type=kind, text=raw["text"].strip(), options=options,
                  range=(lo, hi), wvs7=tuple(wvs7), direction=raw.get("direction", ""))

    if kind == "scale":
        bad = [c for c in options if not lo <= c <= hi]
        if bad:
            _fail(path, where, f"option code(s) {bad} outside range [{lo}, {hi}]")
    elif kind == "mention_index":
        comps = raw.get("components")
        if not isinstance(comps, list) or not comps:
            _fail(path, where, "'components' must list {quality, weight} entries")
        parsed = []
        for comp in comps:
            if not isinstance(comp, dict) or "quality" not in comp or "weight" not in comp:
                _fail(path, where, f"component {shown(comp)} needs 'quality' and 'weight'")
            quality = _text(comp, "quality", path, where)
            parsed.append(Component(quality, float(_number(comp["weight"], path, where, "weight")),
                                    str(comp.get("wvs7", ""))))
        listed = raw.get("list") or []
        if not isinstance(listed, list) or not all(isinstance(q, str) for q in listed):
            _fail(path, where, f"'list' must be a list of the qualities' texts, got {shown(listed)}")
        missing = [c.quality for c in parsed if listed and c.quality not in listed]
        if missing:
            _fail(path, where, f"component(s) {shown(missing)} are not in 'list'")
        ask = _text(raw, "ask", path, where, "")
        _template(ask, path, where)
        mentioned = raw.get("mentioned", 1)
        if isinstance(mentioned, bool) or not isinstance(mentioned, int) or mentioned not in options:
            _fail(path, where, f"'mentioned' code {shown(mentioned)} is not one of the options {sorted(options)}")
        fields.update(list=tuple(listed), ask=ask, mentioned=mentioned, components=tuple(parsed))
    else:  # ranked_pair
        if len(options) < 2:
            _fail(path, where, "a ranked_pair needs at least two options")
        if not isinstance(raw.get("second_text"), str):
            _fail(path, where, "missing 'second_text' (the question for the second choice)")
        groups = raw.get("groups")
        if not isinstance(groups, dict) or not groups:
            _fail(path, where, "'groups' must map a value to the option codes that give it")
        parsed_groups = {}
        for value, members in groups.items():
            _number(value, path, where, "group value")
            if not isinstance(members, list) or any(isinstance(m, bool) or not isinstance(m, int) or m not in options
                                                    for m in members):
                _fail(path, where, f"group {value} must list option codes from {sorted(options)}, got "
                                   f"{shown(members)}")
            if not lo <= value <= hi:
                _fail(path, where, f"group value {value} outside range [{lo}, {hi}]")
            parsed_groups[value] = frozenset(members)
        mixed = _number(raw.get("mixed"), path, where, "mixed")
        fields.update(second_text=raw["second_text"].strip(), groups=parsed_groups, mixed=mixed)
    return Item(**fields)


def parse_survey(data, path="<survey>") -> Survey:
    """Validate a survey mapping (as loaded from YAML) and build a :class:`Survey`."""
    if not isinstance(data, dict):
        _fail(path, "top level", "must be a mapping with keys survey, title, items")
    for key in ("survey", "items"):
        if key not in data:
            _fail(path, "top level", f"missing '{key}'")
    items = data["items"]
    if not isinstance(items, list) or not items or len(items) > 1000:
        _fail(path, "top level", "'items' must be a list of 1 to 1000 items")
    for key in ("survey", "title", "projection"):
        if key in data and not isinstance(data[key], (str, int, float)) or isinstance(data.get(key), bool):
            _fail(path, "top level", f"'{key}' must be text, got {shown(data[key])}")
    parsed = tuple(_parse_item(raw, path, i) for i, raw in enumerate(items))
    seen = set()
    for item in parsed:
        if item.code in seen:
            _fail(path, f"item {item.code}", "duplicate item code")
        seen.add(item.code)
    text = yaml.safe_dump(data, sort_keys=True)
    return Survey(name=str(data["survey"]), title=str(data.get("title", data["survey"])), items=parsed,
                  projection=str(data.get("projection", "")), source_path=str(path),
                  digest=hashlib.sha256(text.encode()).hexdigest())


def _builtin_surveys() -> dict[str, Path]:
    out = {}
    for entry in resources.files("culturalign.surveys").iterdir():
        if entry.name.endswith(".yaml"):
            with entry.open() as fh:
                head = yaml.safe_load(fh) or {}
            out[str(head.get("survey", entry.name))] = Path(str(entry))
    return out


def load_survey(name_or_path: str | Path = DEFAULT_SURVEY) -> Survey:
    """Load a shipped survey by name (``ivs-iw10``) or any survey YAML by path."""
    path = Path(name_or_path)
    if not path.exists():
        builtin = _builtin_surveys()
        if str(name_or_path) not in builtin:
            raise SurveyError(f"unknown survey {str(name_or_path)!r}: not a file, and not one of the shipped "
                              f"surveys ({', '.join(sorted(builtin))})")
        path = builtin[str(name_or_path)]
    try:
        data = read_yaml(path, "survey file")
    except CulturalignError as exc:  # callers catch survey problems as SurveyError
        raise SurveyError(str(exc)) from None
    return parse_survey(data, path)

"""Files: atomic writes (a reader sees the old file or the new one, never half of it), and reading the user's
YAML and JSON files with clear errors for every way they can be wrong."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Callable, Union

import yaml

from .errors import CulturalignError

Payload = Union[str, bytes, Callable]


def atomic_write(path, data: Payload, mode: int = 0o644) -> Path:
    """Write ``data`` (text, bytes, or a callable that writes to a binary file handle) to ``path`` via a
    temporary file in the same directory and a rename; a failure leaves any previous file untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            if callable(data):
                data(fh)
            else:
                fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(tmp, mode)  # mkstemp creates 0600; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def json_safe(obj):
    """NaN (undefined statistics, e.g. steerability of a point that never moves) becomes null: strict JSON."""
    if isinstance(obj, float) and obj != obj:
        return None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def json_text(obj) -> str:
    """Strict, readable JSON of a result (NaN as null) as the command line prints it."""
    return json.dumps(json_safe(obj), indent=2, ensure_ascii=False, allow_nan=False)


def writable_folder(path, option: str) -> Path:
    """Check, before any work, that results can be written to folder ``path`` (created if missing); the error
    names the option. Writing a probe file is the only test that covers permissions, read-only mounts and
    full disks alike."""
    if path is None or not str(path).strip():
        raise CulturalignError(f"{option} must name a folder, got {str(path)!r}")
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise CulturalignError(f"{option} {folder} is a file; give a folder to write the results into")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-", delete=True)
        probe.close()
    except OSError as exc:
        raise CulturalignError(f"{option} {folder} is not writable: {exc.strerror}") from None
    return folder


# ---------------------------------------------------------------- reading user files

MAX_INPUT_BYTES = 20 * 1024 * 1024  # no experiment, registry, preset, survey or manifest comes near this


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that refuses a key written twice in one mapping (PyYAML keeps the last one silently) and
    aliases (``*name``): no culturalign file needs them, and they make self-containing or exponentially
    large values out of a few bytes."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.events.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in culturalign files", self.peek_event().start_mark
            )
        return super().compose_node(parent, index)


def _no_duplicates(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, (str, int, float, bool)) and key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice in one mapping", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def read_text(path, what: str) -> str:
    """A user file's text, or a CulturalignError saying what is wrong with it (missing, a folder, too large,
    not UTF-8)."""
    path = Path(path)
    if path.is_dir():
        raise CulturalignError(f"{what} {path} is a folder, not a file")
    try:
        size = path.stat().st_size
        if size > MAX_INPUT_BYTES:
            raise CulturalignError(
                f"{what} {path} is {size / 2**20:.0f} MiB; at most {MAX_INPUT_BYTES // 2**20} MiB is read"
            )
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise CulturalignError(f"{what} {path} not found") from None
    except UnicodeDecodeError as exc:
        raise CulturalignError(f"{what} {path} is not UTF-8 text (byte {exc.start}); is it the right file?") from None
    except OSError as exc:
        raise CulturalignError(f"{what} {path} cannot be read: {exc.strerror}") from None


MAX_DEPTH = 64  # culturalign's files nest a few levels; code that walks a value must not run out of stack


def _shallow(value, origin) -> object:
    """``value`` unless it nests deeper than MAX_DEPTH (checked without recursion)."""
    stack = [(value, 1)]
    while stack:
        here, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise CulturalignError(
                f"{origin}: nested more than {MAX_DEPTH} levels deep; culturalign files nest a few levels"
            )
        children = here.values() if isinstance(here, dict) else here if isinstance(here, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return value


def parse_yaml(text: str, origin: str):
    """Strict safe YAML: a duplicate key, bad syntax or absurd nesting is a CulturalignError naming ``origin``."""
    try:
        return _shallow(yaml.load(text, Loader=_StrictLoader), origin)
    except yaml.YAMLError as exc:
        raise CulturalignError(f"{origin}: not valid YAML: {exc}") from None
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:  # PyYAML's constructors on values
        # such as an integer of thousands of digits or a tagged timestamp that is no date
        raise CulturalignError(f"{origin}: not valid YAML: a value cannot be read ({str(exc).split(';')[0]})") from None
    except RecursionError:
        raise CulturalignError(f"{origin}: nested too deeply to be a culturalign file") from None


def read_yaml(path, what: str):
    return parse_yaml(read_text(path, what), str(path))


def _not_json(constant):
    raise ValueError(f"{constant} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if value in (math.inf, -math.inf):
        raise ValueError(f"{text} is too large for a number")
    return value


def read_json(path, what: str):
    """A JSON file, or a CulturalignError (missing, a folder, too large, not UTF-8, not JSON, NaN or Infinity,
    nested absurdly)."""
    text = read_text(path, what)
    try:
        return _shallow(json.loads(text, parse_constant=_not_json, parse_float=_finite), path)
    except json.JSONDecodeError as exc:
        raise CulturalignError(f"{path} is not valid JSON ({exc}); was it edited by hand?") from None
    except ValueError as exc:
        raise CulturalignError(f"{path} is not valid JSON: {exc} (write null, or a finite number)") from None
    except RecursionError:
        raise CulturalignError(f"{path}: nested too deeply to be a culturalign file") from None


def shown(value, limit: int = 80) -> str:
    """A value as an error message shows it: its repr, cut short (a hostile file may hold megabytes)."""
    try:
        text = repr(value)
    except ValueError:  # an integer of thousands of digits
        return f"a {type(value).__name__} too large to show"
    if len(text) <= limit:
        return text
    return (
        f"{text[:limit]}... ({type(value).__name__} of {len(value)})"
        if hasattr(value, "__len__")
        else text[:limit] + "..."
    )


# Column kinds of read_table: whole numbers; numbers (missing allowed, infinities not); finite numbers; text (none
# missing); text that may be missing; true/false.
_KINDS = {
    "int": "whole numbers",
    "number": "numbers (or empty)",
    "finite": "finite numbers",
    "text": "text",
    "text?": "text (or empty)",
    "bool": "True or False",
}


MAX_CELL = 1000  # characters of one text cell of a table (a name, a title, a list of genres)


def read_table(folder, stem: str, what: str, columns: dict, required: bool = True):
    """The table ``stem``.parquet or ``stem``.csv in ``folder`` (the first that exists) with ``columns`` (name ->
    kind, see _KINDS) of those kinds; other columns are kept. None when optional and absent; a CulturalignError
    naming the file, the column and what is allowed when it cannot be read or does not fit. Text columns come
    back as text even when every value looks like a number."""
    import numpy as np
    import pandas as pd

    folder = Path(folder)
    for suffix, reader in ((".parquet", pd.read_parquet), (".csv", pd.read_csv)):
        path = folder / f"{stem}{suffix}"
        if path.is_dir():
            raise CulturalignError(f"{what} {path} is a folder, not a file")
        if path.is_file():
            break
    else:
        if required:
            raise CulturalignError(f"{what}: {folder}/{stem}.parquet (or {stem}.csv) not found")
        return None
    try:
        table = reader(path)
    except Exception as exc:  # noqa: BLE001 - pandas and pyarrow fail on a hostile file in many ways
        raise CulturalignError(
            f"{what} {path} cannot be read as a table: {str(exc)[:200] or type(exc).__name__}"
        ) from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise CulturalignError(f"{what} {path}: missing column(s) {', '.join(missing)}; needed: {', '.join(columns)}")
    for col, kind in columns.items():
        values = table[col]
        if kind.startswith("text"):
            if kind == "text" and values.isna().any():
                bad = values.index[values.isna()][0]
                raise CulturalignError(f"{what} {path}: column {col} is empty in row {bad + 1}; it holds text")
            table[col] = values = values.map(lambda v: v if v is None or (isinstance(v, float) and v != v) else str(v))
            long = values.map(lambda v: isinstance(v, str) and len(v) > MAX_CELL)
            if long.any():
                raise CulturalignError(
                    f"{what} {path}: column {col} holds a text of "
                    f"{len(values[long].iloc[0]):,} characters in row {long.idxmax() + 1}; "
                    f"at most {MAX_CELL:,} are read"
                )
            continue
        if kind == "bool":
            ok = pd.api.types.is_bool_dtype(values)
        else:
            ok = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
            if ok and kind == "int":
                ok = pd.api.types.is_integer_dtype(values)
            if ok and kind in ("number", "finite"):
                numbers = values.to_numpy(dtype=float, na_value=np.nan)
                ok = not np.isinf(numbers).any() and (kind == "number" or not np.isnan(numbers).any())
        if not ok:
            raise CulturalignError(
                f"{what} {path}: column {col} must hold {_KINDS[kind]}, got e.g. {shown(_odd_one(values, kind))}"
            )
    return table


def _odd_one(values, kind):
    """A value of ``values`` that does not fit ``kind``, for the error message."""
    import numpy as np

    def fits(v):
        if isinstance(v, (bool, np.bool_)):
            return kind == "bool"
        if kind == "int":
            return isinstance(v, (int, np.integer))
        if not isinstance(v, (int, float, np.integer, np.floating)):
            return False
        return math.isfinite(v) or (kind == "number" and v != v)

    return next((v for v in values if not fits(v)), values.iloc[0] if len(values) else None)

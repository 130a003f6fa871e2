"""Saved programs: DSPy JSON state plus culturalign's manifest. Never a pickle.

The manifest records everything needed to trust and re-run a program: model spec and digest, endpoint,
hashes of the survey and reference data it was compiled against, optimizer settings, split, seed,
versions and costs. Loading refuses a program whose data hashes no longer match.
"""
from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path

from . import reference
from .errors import CulturalignError
from .fileio import atomic_write, read_json
from .programs import make_program

PROGRAM_FILE, MANIFEST_FILE = "program.json", "manifest.json"


def data_hashes(survey) -> dict:
    """SHA-256 of the survey and of every reference data file the map and metrics read."""
    ref = {}
    for name in ("countries.csv", "projection_ivs_2005_2022.yaml", "wvs7_distributions.csv"):
        ref[name] = hashlib.sha256(reference.data_file(name).read_bytes()).hexdigest()
    return {"survey": survey.digest, "reference": ref}


def versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in ("culturalign", "dspy", "xllamacpp", "pandas", "numpy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def save_program(program, out_dir, manifest: dict) -> Path:
    """Write ``program.json`` (DSPy state, JSON) and ``manifest.json`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".{PROGRAM_FILE}.tmp.json"
    program.save(str(tmp))  # DSPy writes JSON; we move it into place atomically
    atomic_write(out / PROGRAM_FILE, tmp.read_bytes())
    tmp.unlink(missing_ok=True)
    atomic_write(out / MANIFEST_FILE, json.dumps({**manifest, "versions": versions()}, indent=2, default=str))
    return out


def _secret_keys(obj, where: str = "") -> list[str]:
    """Dotted paths of every ``api_key`` field in a loaded JSON value."""
    if isinstance(obj, dict):
        return [p for k, v in obj.items()
                for p in ([f"{where}{k}"] if k == "api_key" else []) + _secret_keys(v, f"{where}{k}.")]
    if isinstance(obj, list):
        return [p for i, v in enumerate(obj) for p in _secret_keys(v, f"{where}{i}.")]
    return []


def load_manifest(path) -> dict:
    path = Path(path)
    if not path.exists():
        raise CulturalignError(f"no saved program at {path}: no such folder")
    file = path / MANIFEST_FILE if path.is_dir() else path
    if not file.exists():
        raise CulturalignError(f"no saved program at {path}: {file.name} not found")
    manifest = read_json(file, "manifest")
    if not isinstance(manifest, dict):
        raise CulturalignError(f"{file}: a manifest is a JSON object, got {type(manifest).__name__}")
    secrets = _secret_keys(manifest)
    if secrets:  # culturalign never writes one: this file was edited, and a key in a shared file is leaked
        raise CulturalignError(f"{file}: holds a secret field ({', '.join(secrets)}); saved programs never carry "
                               "keys. Delete the field (and revoke the key if it was real)")
    return manifest


def manifest_matches(folder, expected: dict) -> bool:
    """Whether ``folder`` holds a saved program whose manifest has these values (dotted keys reach into
    nested fields: ``split.seed``); used to reuse a compile instead of repeating it."""
    file = Path(folder) / MANIFEST_FILE
    if not file.is_file() or not (Path(folder) / PROGRAM_FILE).is_file():
        return False
    manifest = load_manifest(folder)
    for key, value in expected.items():
        here = manifest
        for part in key.split("."):
            here = here.get(part) if isinstance(here, dict) else None
        if here != value:
            return False
    return True


def load_program(path, survey) -> tuple[object, dict]:
    """Reload a saved program; checks the manifest's data hashes against this installation."""
    path = Path(path)
    manifest = load_manifest(path)
    expected, actual = manifest.get("data_hashes", {}), data_hashes(survey)
    if expected != actual:
        changed = [k for k in ("survey",) if expected.get("survey") != actual["survey"]]
        changed += [k for k, v in actual["reference"].items() if expected.get("reference", {}).get(k) != v]
        raise CulturalignError(f"{path / MANIFEST_FILE}: the program was compiled against other data "
                               f"({', '.join(changed) or 'hashes missing'} differ); recompile it, or use the data "
                               "it was compiled with")
    program = make_program(manifest["program"])
    state = path / PROGRAM_FILE
    read_json(state, "program state")
    try:
        program.load(str(state))
    except Exception as exc:  # DSPy reports a state that does not fit the program generically
        raise CulturalignError(f"{state} does not fit program {manifest['program']!r}: {exc}") from None
    return program, manifest

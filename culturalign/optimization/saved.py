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

from ..errors import CulturalignError
from ..fileio import atomic_write, json_safe, read_json, shown
from ..map import reference
from ..programs.programs import make_program
from ..validation import AnyOf, Bool, Fields, Keys, ListOf, Null, Number, OneOf, Place, Text, Whole, is_number

PROGRAM_FILE, MANIFEST_FILE = "program.json", "manifest.json"
# A saved program is data someone may have downloaded and edited: what DSPy is given is bounded. Compiled
# programs hold a few hundred characters of instructions and a handful of demos.
MAX_TEXT = 20_000  # characters of instructions, of a field's prefix or description, of one demo value
MAX_DEMOS = 64  # demos (and traces, train examples) per predictor


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
    atomic_write(
        out / MANIFEST_FILE,
        json.dumps(json_safe({**manifest, "versions": versions()}), indent=2, default=str, allow_nan=False),
    )
    return out


def _secret_keys(obj, where: str = "") -> list[str]:
    """Dotted paths of every ``api_key`` field in a loaded JSON value."""
    if isinstance(obj, dict):
        return [
            p
            for k, v in obj.items()
            for p in ([f"{where}{k}"] if k == "api_key" else []) + _secret_keys(v, f"{where}{k}.")
        ]
    if isinstance(obj, list):
        return [p for i, v in enumerate(obj) for p in _secret_keys(v, f"{where}{i}.")]
    return []


class _Schema(Place):
    """Checks of one loaded JSON file; every error names the file, the field's path and what is allowed. The
    methods are the saved-program schema a task kind's ``check_split`` is given (culturalign.plugins)."""

    def __init__(self, file):
        super().__init__(str(file), CulturalignError, "{}:")

    def fail(self, where: str, what: str | None = None):
        """``fail(path, what)`` as a task kind calls it, or ``fail(what)``."""
        super().fail(where if what is None else f"{where}: {what}" if where else what)

    def mapping(self, value, where: str, required=(), allowed=None) -> dict:
        return self.check(Keys(tuple(required), allowed and tuple(allowed), "a JSON object"), value, where)

    def whole(self, value, where: str, low: int = 0, high: int = 2**32 - 1) -> None:
        self.check(Whole(low, high), value, where)

    def items(self, value, where: str, limit: int) -> list:
        return self.check(ListOf(high=limit), value, where)


def _object(rules: dict, required=(), closed=False) -> Fields:
    return Fields(rules, required, "a JSON object", closed)


_OBJECT, _NOTE, _HASH = _object({}), Text(1000, blank=True) | Null(), Text(100, blank=True)
_MANIFEST = _object(  # what culturalign reads from a manifest; other keys are kept as a record and never read
    {
        "model": _object({"name": Text(200, blank=True)}, ("name",)),
        **dict.fromkeys(("model_identity", "endpoint", "prompt_model", "survey"), _NOTE),
        "data_hashes": _object(
            {"survey": _HASH, "reference": Keys(says="a JSON object", each=_HASH)}, ("survey", "reference")
        ),
        "seed": Whole(),
        "split": _object({"seed": Whole()}, ("seed", "train", "val", "test")),  # and what its task kind checks
        "trained_questions": ListOf(Text(20, blank=True), high=1000),  # read by a held-out-question evaluation
        "optimizer": _object(
            {"preset": Text(1000, blank=True), "compile_settings": _object({"seed": Whole()})},
            ("optimizer", "preset", "settings"),
        ),
        "generation": _object({"temperature": Number(0, 5), "max_tokens": Whole(1, 8192)}, closed=True),
        **dict.fromkeys(("usage", "scores", "metric", "versions", "dataset"), _OBJECT),
    },
    ("program", "model", "split", "seed", "optimizer", "data_hashes"),
)
_FIELD = _object(
    {"prefix": Text(MAX_TEXT, blank=True), "description": Text(MAX_TEXT, blank=True)}, ("prefix", "description")
)
_PREDICTOR = _object(  # one predictor's state in a program.json
    {
        "signature": _object(
            {"instructions": Text(MAX_TEXT, blank=True), "fields": ListOf(_FIELD, high=100)}, ("instructions", "fields")
        ),
        "demos": ListOf(_object({"augmented": Bool()}), high=MAX_DEMOS),
        "lm": AnyOf((Null(),), "null: a saved program never chooses its own model"),
        "traces": ListOf(high=MAX_DEMOS),
        "train": ListOf(high=MAX_DEMOS),
        "fields": _OBJECT,
    },
    ("signature", "demos", "lm"),
    closed=True,
)


def _check_split(s: _Schema, split, task) -> None:
    if task is not None:  # an extension's program: its task kind knows what its split holds
        from ..plugins import task_kind

        return task_kind(task).check_split(s, split)
    known, seen = set(reference.countries().country), {}
    for name in ("train", "val", "test"):
        names = s.items(split[name], f"split.{name}", len(known))
        if not names and name == "train":  # val and test may be empty (compile --val 0 / --test 0)
            s.fail("split.train", "is empty; an optimizer needs one or more training countries")
        for i, country in enumerate(names):
            here = f"split.{name}[{i}]"
            if not isinstance(country, str) or country not in known:
                s.fail(here, f"{shown(country)} is not a reference country's name (see: culturalign countries)")
            if country in seen:
                s.fail(here, f"{country} is also in split.{seen[country]}; the splits never overlap")
            seen[country] = name


def check_manifest(manifest, file) -> dict:
    """The manifest's shape: everything culturalign reads from it, of the type it needs (other keys are kept
    as a record and never read). Its program is a registered program whose task the manifest names."""
    from ..programs.programs import registered
    from .presets import OPTIMIZERS, check_settings

    s = _Schema(file)
    s.check(_MANIFEST, manifest)
    name, task = manifest["program"], manifest.get("task")
    if not isinstance(name, str) or name not in registered():
        s.fail("program", f"{shown(name)} is not a registered program; registered: {', '.join(registered())}")
    its_task = getattr(make_program(name), "task", None)
    if task != its_task:
        s.fail("task", f"{shown(task)} does not match program {name!r} (its task is {its_task!r})")
    _check_split(s, manifest["split"], task)
    opt = manifest["optimizer"]
    s.check(OneOf(tuple(OPTIMIZERS)), opt["optimizer"], "optimizer.optimizer")
    check_settings(opt["optimizer"], "settings", opt["settings"], f"{file}: optimizer")
    compile_settings = {k: v for k, v in opt.get("compile_settings", {}).items() if k != "seed"}  # seed: ours
    check_settings(opt["optimizer"], "compile", compile_settings, f"{file}: optimizer")
    return manifest


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
        raise CulturalignError(
            f"{file}: holds a secret field ({', '.join(secrets)}); saved programs never carry "
            "keys. Delete the field (and revoke the key if it was real)"
        )
    return check_manifest(manifest, file)


def check_program_state(state, program, file) -> dict:
    """A ``program.json`` that fits ``program``: one entry per predictor of the program (its
    ``named_predictors()``) and DSPy's metadata; per predictor, instructions and field texts of bounded
    length, one prefix and description per signature field, at most MAX_DEMOS demos whose values are
    bounded, and no model of its own (``lm`` is null: culturalign chooses the model)."""
    from dspy.utils.saving import get_dependency_versions

    s = _Schema(file)
    predictors = dict(program.named_predictors())
    extra = getattr(program, "extra_state", {})  # a program's own state beside its predictors: key -> check
    versions = Keys(allowed=tuple(get_dependency_versions()), says="a JSON object", each=Text(100, blank=True))
    metadata = _object({"dependency_versions": versions}, ("dependency_versions",))
    rules = {**dict.fromkeys(predictors, _PREDICTOR), "metadata": metadata, **dict.fromkeys(extra)}
    s.check(Fields(rules, (*predictors, "metadata"), "a JSON object"), state)
    for key, check in extra.items():
        if key in state:
            with s.about(f"{key}: ", ValueError):
                check(state[key])
    for name, predictor in predictors.items():
        fields, saved_fields = predictor.signature.fields, state[name]["signature"]["fields"]
        if len(saved_fields) != len(fields):
            s.fail(
                f"{name}.signature.fields",
                f"holds {len(saved_fields)} entries; the predictor has {len(fields)} fields ({', '.join(fields)})",
            )
        for i, demo in enumerate(state[name]["demos"]):
            _check_demo(s, demo, f"{name}.demos[{i}]", fields)
    return state


def _check_demo(s: _Schema, demo, where: str, fields) -> None:
    for key, value in demo.items():
        if key in fields and fields[key].annotation is str and not (isinstance(value, str) or is_number(value)):
            s.fail(f"{where}.{key}", f"must be text (or a number), got {shown(value)}")
        size = len(value) if isinstance(value, str) else len(json.dumps(value, default=str))
        if size > MAX_TEXT:
            s.fail(f"{where}.{key}", f"is {size:,} characters long; at most {MAX_TEXT:,} are loaded per demo value")


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


def survey_for(manifest: dict, where, survey=None):
    """The survey to score a saved program on, and whether it is another than the one it was compiled on.

    Without ``survey``: the shipped survey the manifest names, which must be the very survey (same digest) it was
    compiled on; a program compiled on a survey file needs that file passed explicitly (a manifest never chooses
    a file to read). With ``survey`` (a name, a path or a Survey, the user's explicit choice): that survey, which
    may be another one."""
    from ..instrument.survey import Survey, builtin_surveys, load_survey

    compiled_on, digest = manifest.get("survey"), manifest["data_hashes"].get("survey")
    if survey is None:
        if compiled_on not in builtin_surveys():
            raise CulturalignError(
                f"{where}: the program was compiled on survey {compiled_on!r}, which is not a "
                "shipped survey; pass its file with --survey PATH"
            )
        chosen = load_survey(compiled_on)
        if chosen.digest != digest:
            raise CulturalignError(
                f"{where}: the program was compiled on another version of survey {compiled_on!r} "
                f"(digest {str(digest)[:12]}, this installation's is {chosen.digest[:12]}); recompile "
                "it, or pass --survey to score it on this one anyway"
            )
        return chosen, False
    chosen = survey if isinstance(survey, Survey) else load_survey(survey)
    return chosen, chosen.digest != digest


def load_program(path, survey, *, other_survey: bool = False) -> tuple[object, dict]:
    """Reload a saved program; checks the manifest's shape and data hashes against this installation, and the
    program state against the program's own predictors. ``other_survey``: the caller scores it on another
    survey than it was compiled on, explicitly asked for (the reference data must still match)."""
    path = Path(path)
    manifest = load_manifest(path)
    file = path / MANIFEST_FILE if path.is_dir() else path
    expected, actual = manifest["data_hashes"], data_hashes(survey)
    if other_survey:
        expected = {**expected, "survey": actual["survey"]}
    if expected != actual:
        changed = [k for k in ("survey",) if expected.get("survey") != actual["survey"]]
        changed += [k for k, v in actual["reference"].items() if expected["reference"].get(k) != v]
        raise CulturalignError(
            f"{file}: the program was compiled against other data "
            f"({', '.join(changed) or 'hashes missing'} differ); recompile it, or use the data "
            "it was compiled with"
        )
    program = make_program(manifest["program"])
    if not callable(getattr(program, "named_predictors", None)):
        raise CulturalignError(
            f"{file}: program: {manifest['program']!r} is a fixed baseline with nothing "
            "compiled; a saved program is a DSPy program"
        )
    state = file.parent / PROGRAM_FILE
    check_program_state(read_json(state, "program state"), program, state)
    try:
        program.load(str(state))
    except Exception as exc:  # DSPy reports a state that does not fit the program generically
        raise CulturalignError(f"{state} does not fit program {manifest['program']!r}: {exc}") from None
    return program, manifest

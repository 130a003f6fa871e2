"""Hostile input, generated (fast, no model): every file type culturalign reads and every command, fed malformed
and hostile values by hypothesis, must end in exit code 0, 2 or 130 (cli.main's documented codes), never in a
traceback, and must write nothing outside the output folder the command names.

Each example runs the real CLI (``cli.main``) in-process, in a fresh folder, with $HOME, the cache and the model
registry of its own. Every registered model name points at a loopback port that refuses connections, so a command
that gets past validation fails at the model's door; starting an embedded model fails the test. Examples are
derandomized (the same inputs on every run) and few per test, so the suite takes tens of seconds.

The generator starts from a valid document and mutates it (a value replaced by a hostile one, a key deleted or
added, a value wrapped in a list or an object), or replaces the file with raw hostile bytes: binary, non-UTF-8,
deeply nested, oversized, a folder, YAML tags and aliases, NaN and infinity, numbers of thousands of digits."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from culturalign import cli

ROOT = Path(__file__).resolve().parents[1]
RESPONDENT = ROOT / "programs" / "respondent-mipro-light-qwen2.5-coder-0.5b"
EXPLAINER = ROOT / "programs" / "recexplain-bootstrap-rs-small-qwen2.5-coder-0.5b"
EXIT_CODES = {0, 2, 130}  # cli.main: success, a CulturalignError or usage error, Ctrl-C
pytestmark = pytest.mark.filterwarnings("ignore:Glyph .* missing from font")  # a map titled in odd characters


def refused_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StubModel:
    """A loopback server speaking the OpenAI API as a scripted model: every next-token distribution puts its mass
    on "1" and "2", and every sampled reply is a short answer. Commands that need a model run to the end on it,
    so what they write is checked too."""

    def __init__(self):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def _send(self, payload):
                body = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                self._send({"data": [{"id": "m"}]})

            def do_POST(self):
                request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                top = [{"token": "1", "logprob": -0.4}, {"token": "2", "logprob": -1.1}, {"token": "x", "logprob": -3}]
                wanted = int(request.get("top_logprobs") or 20)  # a real server returns as many as asked for
                top += [{"token": f"t{i}", "logprob": -30.0} for i in range(len(top), wanted)]
                second = len(request.get("messages", [])) > 2  # a second choice after a first one: not "2" again
                choice = {
                    "message": {"content": "I'd say 3" if second else "I'd say 2"},
                    "text": "2",
                    "logprobs": {"content": [{"token": "1", "logprob": -0.4, "top_logprobs": top}]}
                    if request.get("logprobs")
                    else None,
                }
                self._send({"choices": [choice], "usage": {"prompt_tokens": 10, "completion_tokens": 1}})

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


PORT, STUB = refused_port(), StubModel()
REFUSED = {"provider": "openai", "model": "m", "base_url": f"http://127.0.0.1:{PORT}/v1"}
# every shipped name is overridden: nothing a hostile file names can reach an embedded model
REGISTRY = {
    "default": "refused",
    "models": {
        **{name: dict(REFUSED) for name in ("refused", "qwen2.5-coder-0.5b", "gemma-3-270m", "qwen2.5-coder-1.5b")},
        "stub": {"provider": "openai", "model": "m", "parallel": 4, "base_url": f"http://127.0.0.1:{STUB.port}/v1"},
    },
}


SCALE = float(os.environ.get("CULTURALIGN_HOSTILE_SCALE", "1"))  # more examples when hunting locally


def examples(n: int):
    """``n`` derandomized examples (times $CULTURALIGN_HOSTILE_SCALE); a failure is reported as found
    (shrinking a hostile file takes minutes)."""
    return settings(
        max_examples=max(1, round(n * SCALE)),
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
    )


# ---------------------------------------------------------------------------------------------- running the CLI


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """Folders every example may write to: culturalign's cache and matplotlib's font cache."""
    root = tmp_path_factory.mktemp("hostile-shared")
    return {"CULTURALIGN_CACHE_DIR": str(root / "cache"), "MPLCONFIGDIR": str(root / "mpl")}


@pytest.fixture(autouse=True)
def no_model_starts(monkeypatch):
    from culturalign.models import embedded

    def refuse(self, *args, **kwargs):
        raise AssertionError("the hostile-input suite started an embedded model")

    monkeypatch.setattr(embedded.EmbeddedServer, "start", refuse)


@contextlib.contextmanager
def environment(values: dict):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def inside(folder: Path):
    old = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(old)


def tree(root: Path) -> dict:
    """Every path under ``root`` with what a write changes (a folder's own timestamp aside)."""
    out = {}
    for path in root.rglob("*"):
        st_ = path.lstat()
        out[path.relative_to(root)] = None if path.is_dir() else (st_.st_size, st_.st_mtime_ns)
    return out


class World:
    """A fresh folder to run one command in, with its own $HOME and model registry. The command runs three levels
    below the folder that is watched, so a path that climbs out ("../../x") still lands where it is seen."""

    def __init__(self, shared_env: dict, registry: str | None = None):
        self._tmp = tempfile.TemporaryDirectory(prefix="hostile-")
        self.base = base = Path(self._tmp.name)
        self.cwd, self.home = base / "a" / "b" / "work", base / "home"
        self.cwd.mkdir(parents=True)
        self.home.mkdir()
        models = base / "models.yaml"
        models.write_text(registry if registry is not None else yaml.safe_dump(REGISTRY))
        self.env = {
            **shared_env,
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            "CULTURALIGN_MODELS": str(models),
            "CULTURALIGN_ANSWER_CACHE": str(base / "answers.sqlite"),
        }

    def write(self, name: str, content) -> str:
        """Put an input file (text, bytes, a folder for None, an oversized sparse file for an int)."""
        content = content.data if isinstance(content, Content) else content
        path = self.cwd / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            path.mkdir(exist_ok=True)
        elif isinstance(content, int):
            with open(path, "wb") as fh:
                fh.truncate(content)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", errors="surrogateescape")
        return name

    def run(self, args: list[str], outputs=()) -> tuple[int, str, str]:
        """Run the CLI; fail on a traceback, an undocumented exit code, or a write outside ``outputs``."""
        before, start = tree(self.base), time.monotonic()
        out, err = io.StringIO(), io.StringIO()
        code, crash = None, None
        with environment(self.env), inside(self.cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                cli.main(list(args))
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
            except BaseException:  # noqa: BLE001 - anything else is what the user would see as a traceback
                crash = traceback.format_exc()
        shown = f"command: culturalign {' '.join(map(repr, args))}\nstderr: {err.getvalue()[-3000:]}"
        if os.environ.get("CULTURALIGN_HOSTILE_SHOW"):  # what each example ended in, to see the suite's reach
            last = (err.getvalue().strip().splitlines() or [""])[-1]
            sys.__stdout__.write(f"\n[{code}] {time.monotonic() - start:.1f} s {' '.join(args)[:60]}: {last[:200]}")
        assert crash is None, f"traceback:\n{crash}\n{shown}"
        assert code in EXIT_CODES, f"exit code {code}\n{shown}"
        assert "Traceback" not in err.getvalue() + out.getvalue(), shown
        after = tree(self.base)
        changed = {p for p in set(before) | set(after) if before.get(p, "gone") != after.get(p, "gone")}
        allowed = [
            Path(os.path.normpath(self.cwd.relative_to(self.base) / o))
            for o in outputs
            if isinstance(o, str) and o.strip() and "\x00" not in o
        ]
        allowed.append(Path("answers.sqlite"))  # the answer cache (and its -wal, -shm files)
        stray = sorted(
            str(p)
            for p in changed
            if not any(p == a or a in p.parents or str(p).startswith(f"{a}-") for a in allowed)
            and not (after.get(p, "gone") is None and any(p in a.parents for a in allowed))
        )
        assert not stray, f"wrote outside {[str(a) for a in allowed]}: {stray}\n{shown}"
        return code, out.getvalue(), err.getvalue()

    def close(self):
        self._tmp.cleanup()


@contextlib.contextmanager
def world(shared_env, registry=None):
    w = World(shared_env, registry)
    try:
        yield w
    finally:
        w.close()


# ---------------------------------------------------------------------------------------------- hostile values

NUMBERS = [0, -1, 1, 2**31, 2**63, 10**30, -(10**30), 0.5, -0.0, 1e308, math.nan, math.inf, -math.inf]
TEXTS = [
    "",
    " ",
    ".",
    "..",
    "../../escaped",
    "a/b",
    "~",
    "\x00",
    "nan",
    "-1",
    "1e999",
    "true",
    "null",
    "all",
    "{country:d}",
    "{0}",
    "{quality} {0}",
    "%s",
    "\u202e",
    "😀",
    "x" * 100_000,
    "9" * 5000,
    "http://127.0.0.1:1/v1",
    "Japan",
    "test",
    "no_persona",
    "refused",
    "light",
]


def one_of_list(options: list):
    """sampled_from, without a repr of megabytes in hypothesis's reports."""
    return st.integers(0, len(options) - 1).map(options.__getitem__)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(NUMBERS),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    one_of_list(TEXTS),
    st.text(st.characters(blacklist_characters="/\\", blacklist_categories=("Cs",)), max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6,
)
deep = st.integers(65, 150).map(lambda n: json.loads("[" * n + "]" * n))  # deeper ones come as raw bytes
hostile_values = st.one_of(values, values, values, deep, st.just(20_000).map(lambda n: list(range(n))))


def paths(doc, here=()):
    """Every path into a JSON-like document (the root is ())."""
    yield here
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from paths(v, here + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from paths(v, here + (i,))


def _get(doc, path):
    for p in path:
        doc = doc[p]
    return doc


def retyped(value):
    """Values of another type than ``value``'s, as a hand-edit would put them (booleans where counts belong)."""
    if isinstance(value, bool):
        return ["yes", 1, 0, None, []]
    if isinstance(value, (int, float)):
        return ["4", "four", True, False, -1, -value - 1, 2**40, value + 0.5, math.nan, math.inf, None, [value]]
    if isinstance(value, str):
        return [
            0,
            7,
            True,
            None,
            [],
            {},
            [value],
            {value: value},
            (value or "x") * (30_000 // (len(value) + 1) + 1),
            "",
        ]
    if isinstance(value, list):
        return [None, "x", {}, [], [None], [[]], [value], (value or [0]) * (1000 // (len(value) + 1) + 1)]
    return [[], "x", None, {"": None}, [value]]


@st.composite
def mutated(draw, valid, keys=()):
    """``valid`` with one or two hostile edits below its top level (a value of another type, or a hostile one; a
    key deleted, added or wrapped); ``keys`` are names worth trying as added keys."""
    doc = copy.deepcopy(valid)
    for _ in range(draw(st.integers(1, 2))):
        # every place in the schema equally likely: a list of 90 countries is one place, not 90
        shapes: dict = {}
        for path in list(paths(doc))[1:]:
            shapes.setdefault(tuple(k if isinstance(k, str) else "*" for k in path), []).append(path)
        if not shapes:
            break
        path = draw(st.sampled_from(shapes[draw(st.sampled_from(sorted(shapes, key=repr)))]))
        parent, key = _get(doc, path[:-1]), path[-1]
        op = draw(st.sampled_from(["retype", "retype", "hostile", "delete", "add", "wrap"]))
        if op == "retype":
            parent[key] = copy.deepcopy(draw(st.sampled_from(retyped(parent[key]))))
        elif op == "hostile":
            parent[key] = copy.deepcopy(draw(hostile_values))  # drawn values may be shared between examples
        elif op == "delete":
            del parent[key]
        elif op == "wrap":
            parent[key] = draw(st.sampled_from([[parent[key]], {"value": parent[key]}]))
        elif isinstance(parent, dict):
            parent[draw(st.one_of(st.sampled_from(list(keys) or ["x"]), st.text(max_size=8)))] = copy.deepcopy(
                draw(hostile_values)
            )
        else:
            parent.append(copy.deepcopy(draw(hostile_values)))
    return doc


RAW = [
    b"",
    b"\x00\x01\x02\xff",
    b"\xff\xfe\x00n\x00a\x00m\x00e",
    b"\x89PNG\r\n\x1a\n",
    b"GGUX" + bytes(60),
    b"[" * 20_000 + b"]" * 20_000,
    b"{" * 5000,
    "name: caf\xe9\n".encode("latin-1"),
    b"\xef\xbb\xbf{}",
    b"- " * 5000 + b"x",
    b"a: " + b"9" * 5000,
    b"!!python/object/apply:os.system ['touch pwned']",
    b"&a [*a]",
    b"a: &x [1, 2]\nb: *x\n",
    b"a: !!binary AAAA\n",
    b"a: !!timestamp soon\n",
    b"[NaN, Infinity]",
    b"[1e999]",
    b'{"a": 1, "a": 2}',
    b"a: 1\na: 2\n",
    b"\t- x\n  y: [\n",
]
OVERSIZED = 21 * 2**20  # a sparse file beyond the 20 MiB that is read


class Content:
    """An input file's content (text bytes, None for a folder, an int for an oversized file), shown briefly."""

    def __init__(self, data):
        self.data = data

    def __repr__(self):
        if isinstance(self.data, bytes):
            return f"Content({self.data[:300]!r}{'...' if len(self.data) > 300 else ''}, {len(self.data)} bytes)"
        return "Content(a folder)" if self.data is None else f"Content(a sparse file of {self.data} bytes)"


def file_contents(valid, dump, keys=()):
    """A hostile input file's content: the valid document with hostile edits (raw bytes, folders and oversized
    files are the same for every format: see RAW_FILES)."""
    return mutated(valid, keys).map(dump).map(Content)


def dump_yaml(doc) -> bytes:
    return yaml.safe_dump(doc, allow_unicode=True).encode("utf-8", "surrogateescape")


def dump_json(doc) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogateescape")


# ---------------------------------------------------------------------------------------------- the file types

EXPERIMENT = {
    "name": "hostile",
    "models": ["refused"],
    "conditions": ["no_persona", "engineered", {"program": "prog"}, {"compile": "preset.yaml"}],
    "countries": ["Japan", "Chile"],
    "split_seed": 0,
    "mode": "sample",  # so that samples and temperature are in force (a mode that does not sample refuses them)
    "samples": 2,
    "temperature": 1.0,
    "variants": 1,
    "seeds": 1,
    "parallel": 1,
    "shuffled_control": False,
    "out": "out",
    "description": "d",
}
# runs to the end on the stub model; no held-out country (compare crashed on such a study after every model call)
RUNNABLE = {
    "name": "runs",
    "models": ["stub"],
    "conditions": ["no_persona", "engineered"],
    "countries": ["Japan"],
    "variants": 1,
    "out": "out",
}
LABELED = {"optimizer": "LabeledFewShot", "seed": 0, "settings": {"k": 2}, "compile": {}}  # compiles without an LM
PRESET = {
    "optimizer": "MIPROv2",
    "description": "d",
    "seed": 0,
    "prompt_model": None,
    "settings": {
        "auto": "light",
        "max_bootstrapped_demos": 1,
        "max_labeled_demos": 4,
        "num_threads": 1,
        "metric_threshold": 0.1,
    },
    "compile": {"minibatch_size": 8},
}
ANSWERS = {
    "name": "me",
    "F063": 5,
    "Y003": 1,
    "F120": 6,
    "G006": 2,
    "E018": 2,
    "Y002": 2,
    "A008": 2,
    "F118": 7,
    "E025": 1,
    "A165": 1,
}
POINTS = [{"name": "a point", "x": 0.5, "y": -1.0}, dict(ANSWERS, name="answers")]
SURVEY = yaml.safe_load((ROOT / "surveys" / "ivs_iw10.yaml").read_text())
CATALOGUE = {
    "ratings": [
        {"user": u, "item": i, "rating": 1 + (u * i) % 5, "timestamp": 1000 * u + i}
        for u in range(1, 7)
        for i in range(1, 6)
        if (u + i) % 3
    ],
    "items": [
        {
            "item": i,
            "title": f"Film {i}",
            "year": 1990 + i,
            "genres": "Drama|Comedy",
            "countries": "France" if i % 2 else "",
            "languages": "French",
        }
        for i in range(1, 6)
    ],
}
RESULTS = {
    "meta.json": {
        "name": "study",
        "models": {"refused": {"identity": "x", "endpoint": "y", "usage": {"calls": 3}}},
        "mode": "logprob",
        "versions": {"python": "3"},
        "wall_seconds": 1.5,
    },
    "experiment.yaml": {"name": "study", "split_seed": 0},
    "distances.csv": [
        {
            "model": "refused",
            "condition": c,
            "kind": "baseline",
            "seed": -1,
            "country": country,
            "region": region,
            "held_out": held,
            "x": 0.1 * k,
            "y": -0.2 * k,
            "distance": 1.0 + k,
        }
        for k, (country, region, held) in enumerate(
            [("Japan", "Confucian", True), ("Chile", "Latin America", False), ("Kenya", "African-Islamic", True)]
        )
        for c in ("no_persona", "engineered")
    ],
}


def dump_csv(rows) -> bytes:
    """Rows (objects) as CSV; a mutated row may hold anything, written as its text."""
    import csv

    if not isinstance(rows, list):
        rows = [rows]
    rows = [r if isinstance(r, dict) else {"value": r} for r in rows]
    columns = list(dict.fromkeys(str(k) for r in rows for k in r))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for r in rows:
        writer.writerow([r.get(c, "") for c in columns])
    return out.getvalue().encode("utf-8", "surrogateescape")


def _load(content):
    """The document a hostile file holds, if it is one (to know where an experiment may write)."""
    try:
        return yaml.safe_load(content.decode("utf-8"))
    except Exception:  # noqa: BLE001
        return None


def experiment_outputs(content) -> list:
    """Where an experiment may write: its 'out', else results/NAME."""
    doc = _load(content) if isinstance(content, bytes) else None
    if isinstance(doc, dict) and isinstance(doc.get("out"), str):
        return [doc["out"]]
    return [f"results/{doc['name']}"] if isinstance(doc, dict) and isinstance(doc.get("name"), str) else []


def copy_program(source=RESPONDENT):
    def setup(w: World):
        shutil.copytree(source, w.cwd / "prog")

    return setup


def setup_all(*steps):
    def setup(w: World):
        for step in steps:
            step(w)

    return setup


def put(name, content):
    return lambda w: w.write(name, content)


def use_registry_in_cwd(w: World):
    w.env["CULTURALIGN_MODELS"] = str(w.cwd / "models.yaml")


AUDIT = [
    "audit",
    "--model",
    "refused",
    "--countries",
    "Japan",
    "--conditions",
    "no_persona",
    "--variants",
    "1",
    "--out",
    "out",
    "--no-progress",
]
COMPILE = [
    "compile",
    "--optimizer",
    "preset.yaml",
    "--model",
    "refused",
    "--train",
    "Chile,Peru",
    "--val",
    "Japan",
    "--test",
    "Kenya",
    "--out",
    "out",
    "--no-progress",
]
COMPILE_STUB = [a if a != "refused" else "stub" for a in COMPILE]
EVALUATE_STUB = ["evaluate", "prog", "--split", "val", "--model", "stub", "--variants", "1", "--json"]


class FileType:
    """A file culturalign reads: a valid document, how it is written, where, which commands read it, and what
    else those commands need."""

    def __init__(self, valid, dump, file, commands, setup=None, outputs=("out",), keys=(), examples=12, sweep=0):
        self.valid, self.dump, self.file, self.commands = valid, dump, file, commands
        self.setup, self.outputs, self.keys, self.examples = setup, outputs, keys, examples
        self.sweep = commands[sweep] if sweep is not None else None  # the command of the field-by-field sweep

    def run(self, shared_env, content, command):
        with world(shared_env) as w:
            if self.setup:
                self.setup(w)
            target = w.cwd / self.file
            if target.is_file():
                target.unlink()
            w.write(self.file, content)
            outputs = self.outputs(content.data) if callable(self.outputs) else self.outputs
            w.run(command, outputs=outputs)


FILE_TYPES = {
    "experiment": FileType(
        EXPERIMENT,
        dump_yaml,
        "exp.yaml",
        [["compare", "exp.yaml", "--check"], ["compare", "exp.yaml"]],
        setup_all(copy_program(), put("preset.yaml", dump_yaml(PRESET))),
        outputs=experiment_outputs,
        keys=list(EXPERIMENT) + ["program", "compile"],
        examples=12,
    ),
    "experiment (runs)": FileType(
        RUNNABLE,
        dump_yaml,
        "exp.yaml",
        [["compare", "exp.yaml"]],
        outputs=experiment_outputs,
        keys=list(EXPERIMENT),
        examples=10,
        sweep=None,
    ),
    "optimizer preset (runs)": FileType(
        LABELED, dump_yaml, "preset.yaml", [COMPILE_STUB], keys=["k", "settings"], examples=8
    ),
    "optimizer preset": FileType(
        PRESET,
        dump_yaml,
        "preset.yaml",
        [COMPILE, ["compare", "exp.yaml", "--check"]],
        put("exp.yaml", dump_yaml({**EXPERIMENT, "conditions": [{"compile": "preset.yaml"}]})),
        keys=["settings", "compile", "seed", "max_labeled_demos", "auto", "k"],
    ),
    "models registry": FileType(
        REGISTRY,
        dump_yaml,
        "models.yaml",
        [["models"], ["models", "--json"], ["serve", "refused"], AUDIT, ["compare", "exp.yaml", "--check"]],
        setup_all(use_registry_in_cwd, put("exp.yaml", dump_yaml({**EXPERIMENT, "conditions": ["no_persona"]}))),
        keys=[
            "models",
            "default",
            "provider",
            "base_url",
            "source",
            "api_key_env",
            "style",
            "url",
            "parallel",
            "n_ctx",
            "chunks",
            "path",
        ],
        examples=15,
    ),
    "answers (project)": FileType(
        [ANSWERS, dict(ANSWERS, name="other")],
        dump_json,
        "answers.json",
        [["project", "answers.json"], ["project", "answers.json", "--json", "--fill-mean"]],
        keys=list(ANSWERS),
    ),
    "points (map)": FileType(
        POINTS,
        dump_json,
        "points.json",
        [["map", "--points", "points.json", "--out", "out/map.svg"]],
        keys=["x", "y", "name"],
        examples=12,
    ),
    "program.json": FileType(
        json.loads((RESPONDENT / "program.json").read_text()),
        dump_json,
        "prog/program.json",
        [EVALUATE_STUB, ["compare", "exp.yaml"]],
        setup_all(copy_program(), put("exp.yaml", dump_yaml({**EXPERIMENT, "conditions": [{"program": "prog"}]}))),
        keys=["respond", "demos", "signature", "instructions", "lm", "fields", "augmented"],
        examples=12,
    ),
    "manifest.json": FileType(
        json.loads((RESPONDENT / "manifest.json").read_text()),
        dump_json,
        "prog/manifest.json",
        [
            EVALUATE_STUB,
            ["evaluate", "prog", "--seeds", "2"],
            ["compare", "exp.yaml", "--check"],
            ["evaluate", "prog", "--split", "val"],
        ],
        setup_all(copy_program(), put("exp.yaml", dump_yaml({**EXPERIMENT, "conditions": [{"program": "prog"}]}))),
        outputs=("out", "prog/seeds"),
        keys=["split", "program", "seed", "optimizer", "model", "task", "generation", "api_key"],
        examples=10,
        sweep=3,
    ),  # the sweep stops at the model's door: 90 evaluations would take a minute
    "explainer manifest.json": FileType(
        json.loads((EXPLAINER / "manifest.json").read_text()),
        dump_json,
        "prog/manifest.json",
        [["evaluate", "prog", "--json"]],
        copy_program(EXPLAINER),
        keys=["split", "sizes", "task", "generation"],
        examples=10,
        sweep=None,
    ),
    "catalogue ratings": FileType(
        CATALOGUE["ratings"],
        dump_csv,
        "cat/ratings.csv",
        [["recommend", "--catalog", "cat", "--k", "3"], ["recommend", "--catalog", "cat", "--user", "2", "--json"]],
        put("cat/items.csv", dump_csv(CATALOGUE["items"])),
        keys=["user", "rating"],
    ),
    "catalogue items": FileType(
        CATALOGUE["items"],
        dump_csv,
        "cat/items.csv",
        [["recommend", "--catalog", "cat", "--user", "2", "--json"]],
        put("cat/ratings.csv", dump_csv(CATALOGUE["ratings"])),
        keys=["item", "year"],
    ),
    "results meta.json": FileType(
        RESULTS["meta.json"],
        dump_json,
        "res/meta.json",
        [["report", "res"]],
        setup_all(
            put("res/experiment.yaml", dump_yaml(RESULTS["experiment.yaml"])),
            put("res/distances.csv", dump_csv(RESULTS["distances.csv"])),
        ),
        outputs=("res",),
        keys=["models", "usage", "name"],
        examples=5,
        sweep=None,
    ),
    "results distances": FileType(
        RESULTS["distances.csv"],
        dump_csv,
        "res/distances.csv",
        [["report", "res"]],
        setup_all(
            put("res/experiment.yaml", dump_yaml(RESULTS["experiment.yaml"])),
            put("res/meta.json", dump_json(RESULTS["meta.json"])),
        ),
        outputs=("res",),
        keys=["kind", "country", "held_out", "seed", "x"],
        examples=8,
        sweep=None,
    ),
}


@pytest.mark.parametrize("kind", list(FILE_TYPES))
def test_valid_documents(shared, kind):
    """The valid document of each file type, through every command that reads it: the baseline the hostile edits
    start from ends in success, or in one clear error where the command needs an unreachable model."""
    ft = FILE_TYPES[kind]
    for command in ft.commands:
        ft.run(shared, Content(ft.dump(ft.valid)), command)


def swapped(value):
    """The value of the other kind a careless edit puts in a place: a list for text, text for a number, ..."""
    if isinstance(value, bool):
        return "yes"
    if isinstance(value, (int, float)):
        return "4"
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return {"0": value[0] if value else None}
    return [value] if value is not None else [1]


def sweep(valid):
    """Every place of the document's schema (a list's entries are one place) with its value swapped for one of
    another kind, then with its key deleted: wrong types and missing keys anywhere."""
    shapes = {}
    for path in list(paths(valid))[1:]:
        shapes.setdefault(tuple(k if isinstance(k, str) else "*" for k in path), path)
    for shape, path in shapes.items():
        for op in ("swap", "delete"):
            doc = copy.deepcopy(valid)
            parent, key = _get(doc, path[:-1]), path[-1]
            if op == "swap":
                parent[key] = swapped(parent[key])
            elif isinstance(parent, dict):
                del parent[key]
            else:
                continue
            yield f"{op} {'.'.join(map(str, shape))}", doc


@pytest.mark.parametrize("kind", [k for k, ft in FILE_TYPES.items() if ft.sweep is not None])
def test_wrong_types_and_missing_keys_anywhere(shared, kind):
    """The valid document with each field, one at a time, of another type or deleted, through the command that
    goes furthest (the stub model's, where there is one). Not swept: files whose schema another file type
    sweeps, and results files (a report per field costs seconds); the hostile documents cover them."""
    ft = FILE_TYPES[kind]
    for _, doc in sweep(ft.valid):
        ft.run(shared, Content(ft.dump(doc)), ft.sweep)


@pytest.mark.parametrize("kind", list(FILE_TYPES))
def test_hostile_documents(shared, kind):
    """The file's valid document with hostile edits, through every command that reads it."""
    ft = FILE_TYPES[kind]

    @examples(ft.examples)
    @given(content=file_contents(ft.valid, ft.dump, ft.keys), command=st.sampled_from(ft.commands))
    def check(content, command):
        ft.run(shared, content, command)

    check()


RAW_FILES = {f"raw {i}": raw for i, raw in enumerate(RAW)} | {
    "a folder": None,
    "oversized": OVERSIZED,
    "empty": b"",
    "random bytes": bytes(range(256)),
}


@pytest.mark.parametrize("kind", list(FILE_TYPES))
def test_hostile_files(shared, kind):
    """Every raw hostile file (binary, non-UTF-8, nested, oversized, a folder, YAML tags and aliases, NaN) in
    place of each file type, through the first command that reads it."""
    ft = FILE_TYPES[kind]
    for name, raw in RAW_FILES.items():
        ft.run(shared, Content(raw), ft.commands[0])
    if kind == "catalogue ratings":  # a parquet file is read before a CSV
        for name, raw in RAW_FILES.items():
            FileType(None, None, "cat/ratings.parquet", ft.commands, ft.setup).run(shared, Content(raw), ft.commands[0])


@examples(8)
@given(
    content=file_contents(
        SURVEY,
        dump_yaml,
        keys=["items", "options", "range", "ask", "components", "groups", "type", "mentioned", "list"],
    )
)
def test_survey_files(tmp_path_factory, content):
    """No command takes a survey file; the Python API does: load_survey(path), then the questions it asks. Every
    problem is a SurveyError."""
    from culturalign.errors import SurveyError
    from culturalign.instrument.survey import load_survey

    path = Path(tempfile.mkdtemp(dir=tmp_path_factory.getbasetemp())) / "survey.yaml"
    path.write_bytes(content.data)
    try:
        survey = load_survey(path)
    except SurveyError:
        return
    for item in survey.items:
        for q in item.questions():
            assert q.codes and all(isinstance(label, str) for _, label in q.labels)


# ---------------------------------------------------------------------------------------------- every command's options

ARG_TEXTS = [
    "",
    " ",
    "-1",
    "0",
    "1",
    "2",
    "11",
    "99999",
    "300000000",
    "-5",
    "1.5",
    "nan",
    "inf",
    "-inf",
    "1e999",
    "abc",
    "all",
    "none",
    "Japan",
    "Japan,Chile",
    "Japan,",
    ",",
    ",,",
    "Atlantis",
    "JP",
    "Confucian",
    "test",
    "train",
    "val",
    "no_persona",
    "cultural_prompt",
    "engineered",
    "respondent",
    "recexplain",
    "mipro-light",
    "labeled-fewshot",
    "refused",
    "x.gguf",
    "prog",
    "exp.yaml",
    "answers.json",
    "cat",
    "res",
    "out",
    "..",
    "../x",
    "~",
    "a b",
    "x" * 5000,
    "{country}",
    "{country:d}",
    "{country!r}",
    "{0}",
    "{descriptor}",
    "name=You live in {country}.",
    "=",
    "a=",
    "logprob",
    "sample",
    "movielens-100k",
    "auto",
    "recbole",
    "out.png",
    "out.svg",
    "out.html",
    "out.pdf",
    "-",
    "--json",
    "😀",
    "\u202e",
]
arg = st.one_of(
    one_of_list(ARG_TEXTS),
    st.text(st.characters(blacklist_characters="/\\\x00", blacklist_categories=("Cs",)), max_size=8),
)
number = st.one_of(st.integers(-10, 2**40).map(str), one_of_list(ARG_TEXTS))

TEMPLATES = [
    "{country:d}",
    "{country!r}",
    "{0}",
    "{}",
    "{country",
    "}{",
    "{descriptor}",
    "You live in {country}.",
    "mine=You live in {country}.",
    "You live in {country} near {city}.",
    "=",
    "{{country}}",
    "x=",
    "{country.__class__}",
    "{country[0]}",
    "{descriptor} in {country}",
]
CONDITION_LISTS = [
    "",
    ",",
    ",,",
    "no_persona",
    "cultural_prompt",
    "no_persona,no_persona",
    "engineered",
    "no_persona,",
    "cultural_prompt,{country}",
    "mine={country}",
    "no persona",
]
COUNTRY_LISTS = [
    "",
    ",",
    "Japan,Japan",
    "JP",
    "jpn",
    "japan",
    "Confucian",
    "Atlantis",
    "Japan,Atlantis",
    "0",
    "Japan;Chile",
    " Japan , Chile ",
]
SURVEY_NAMES = ["ivs-iw10", "wvs7", "s.yaml", "IVS-IW10", "wvs", "nothing.yaml", "prog", ".", "surveys"]
RETRIEVAL_SETTINGS = [
    "k=5",
    "k=0",
    "k=-1",
    "k=21",
    "k=1.5",
    "k=",
    "=5",
    "k",
    "k=5,,",
    "k=5,k=6",
    "K=5",
    "evidence=distribution",
    "evidence=all",
    "weighting=cosine",
    "per_neighbour=11",
    "pool=Japan",
    "k=99999999999999999999",
    "evidence=typical,weighting=distance,k=2",
]
QUESTION_LISTS = ["Q1", "Q1,Q46", "happiness", "Q1,", ",", "Q9999", "F063", "q1", "Happiness,Q1", "all"]
text_for = lambda menu: st.one_of(one_of_list(menu), arg)  # noqa: E731 - what an option means, then anything

# command -> (fixed arguments, {option: values}, flags); a value None is an argument without option name
COMMANDS = {
    "audit": (
        ["audit", "--no-progress", "--model", "stub", "--countries", "Japan", "--variants", "1"],
        {
            "--model": st.one_of(st.just("refused"), arg),
            "--countries": text_for(COUNTRY_LISTS).filter(lambda a: a.strip() != "all"),
            "--conditions": text_for(CONDITION_LISTS),
            "--template": text_for(TEMPLATES),
            "--mode": st.one_of(st.just("sample"), arg),
            "--samples": st.one_of(st.integers(-3, 12).map(str), arg),
            "--temperature": number,
            "--variants": number,
            "--out": arg,
            "--survey": text_for(SURVEY_NAMES),
            "--questions": text_for(QUESTION_LISTS),
            "--per-theme": number,
        },
        ["--json", "--shuffled-control"],
    ),
    "serve": (
        ["serve"],
        {None: st.one_of(st.just("refused"), arg), "--host": arg, "--port": number, "--parallel": number},
        [],
    ),
    "countries": (["countries"], {"--region": arg}, ["--json"]),
    "project": (
        ["project", "answers.json"],
        {"--nearest": number, "--survey": text_for(SURVEY_NAMES)},
        ["--json", "--fill-mean"],
    ),
    "map": (["map"], {"--out": arg, "--title": arg, "--points": arg, "--survey": text_for(SURVEY_NAMES)}, []),
    "surveys": (["surveys"], {None: text_for(["s.yaml", "nothing.yaml", "wvs7"])}, ["--json", "--questions"]),
    "models": (["models"], {}, ["--json"]),
    "evaluate": (
        ["evaluate"],
        {
            None: st.one_of(st.just("prog"), arg),
            "--split": arg,
            "--model": arg,
            "--variants": number,
            "--seeds": number,
            "--survey": text_for(SURVEY_NAMES),
            "--questions": text_for(QUESTION_LISTS),
            "--per-theme": number,
        },
        ["--json", "--shuffled-control"],
    ),
    "compile": (
        ["compile", "--no-progress", "--model", "refused"],
        {
            "--program": arg,
            "--optimizer": arg,
            "--prompt-model": arg,
            "--out": arg,
            "--seed": number,
            "--split-seed": number,
            "--train": text_for(COUNTRY_LISTS),
            "--val": text_for(COUNTRY_LISTS),
            "--test": text_for(COUNTRY_LISTS),
            "--survey": text_for(SURVEY_NAMES),
            "--retrieval": text_for(RETRIEVAL_SETTINGS),
            "--prompt-format": arg,
        },
        ["--skip-train-score", "--score-train"],
    ),
    "compare": (["compare"], {None: st.one_of(st.just("exp.yaml"), arg), "--out": arg}, ["--check"]),
    "report": (["report"], {None: arg}, []),
    "recommend": (
        ["recommend"],
        {"--user": number, "--k": number, "--catalog": st.one_of(st.just("cat"), arg)},
        ["--json"],
    ),
    "data fetch": (
        ["data", "fetch"],
        {None: arg.filter(lambda a: a != "movielens-100k"), "--source": arg, "--out": arg},
        [],
    ),
    "top level": ([], {None: arg}, ["--version", "--help"]),
}
# where a command may write: its option's value, else the default
WRITES = {
    "audit": ("--out", "audit"),
    "map": ("--out", "cultural_map.png"),
    "compile": ("--out", "programs"),
    "compare": ("--out", "out"),
    "report": (None, None),
}


def workspace(w: World) -> None:
    """Valid inputs for the commands that read them, so that hostile options are what is tested."""
    shutil.copytree(RESPONDENT, w.cwd / "prog")
    w.write("exp.yaml", dump_yaml({**EXPERIMENT, "conditions": ["no_persona"]}))
    w.write("answers.json", dump_json(ANSWERS))
    w.write("cat/ratings.csv", dump_csv(CATALOGUE["ratings"]))
    w.write("cat/items.csv", dump_csv(CATALOGUE["items"]))
    w.write("s.yaml", dump_yaml(SURVEY))


MENUS = {
    "audit": {
        "--conditions": CONDITION_LISTS,
        "--template": TEMPLATES,
        "--countries": COUNTRY_LISTS,
        "--survey": SURVEY_NAMES,
        "--questions": QUESTION_LISTS,
    },
    "compile": {"--test": COUNTRY_LISTS, "--train": COUNTRY_LISTS[:6], "--retrieval": RETRIEVAL_SETTINGS},
}


@pytest.mark.parametrize("command", list(MENUS))
def test_option_menus(shared, command):
    """Each hostile value of what an option means (empty lists, repeated or unknown names, templates with format
    specs, conversions or unknown fields), one at a time on otherwise valid options."""
    fixed, _, _ = COMMANDS[command]
    option, default = WRITES[command]
    for name, menu in MENUS[command].items():
        for value in menu:
            with world(shared) as w:
                workspace(w)
                w.run([*fixed, name, value], outputs=[default])


@pytest.mark.parametrize("command", list(COMMANDS))
def test_hostile_options(shared, command):
    """Every command with hostile option values (empty, negative, huge, NaN, unknown names, format specs, paths
    that climb out) and flag combinations: one clear error or a result, and writes only where --out points."""
    fixed, options, flags = COMMANDS[command]

    @examples(max(5, 2 * len(options)))
    @given(data=st.data())
    def check(data):
        args = list(fixed)
        # one or two hostile options at a time: with more, the first bad one hides the others
        chosen = (
            data.draw(st.lists(st.sampled_from(list(options)), unique=True, min_size=1, max_size=2)) if options else []
        )
        values = {}
        for option in chosen:
            values[option] = data.draw(options[option])
            args += [values[option]] if option is None else [option, values[option]]
        args += data.draw(st.lists(st.sampled_from(flags), unique=True)) if flags else []
        option, default = WRITES.get(command, (None, None))
        outputs = [values.get(option, default)] if command in WRITES else []
        with world(shared) as w:
            workspace(w)
            w.run(args, outputs=outputs)

    check()


# ---------------------------------------------------------------------------------------------- found, and fixed

REGISTRY_LIST_URL = {"models": {"refused": {**REFUSED, "base_url": ["http://127.0.0.1:1/v1"]}}}
FOUND = {  # each ended in a traceback, a write outside the output folder or silent acceptance (None: now exit 0)
    "compare --out '' wrote into the current folder": (["compare", "exp.yaml", "--out", ""], {}, "--out must name"),
    "experiment seeds of booleans": (["compare", "exp.yaml", "--check"], {"seeds": [True, False]}, "'seeds' must be"),
    "experiment seeds without end": (
        ["compare", "exp.yaml", "--check"],
        {"seeds": list(range(10_000))},
        "'seeds' must be a count from 1 to 50, or a list of 1 to 50",
    ),
    "a program condition that is no path": (
        ["compare", "exp.yaml", "--check"],
        {"conditions": [{"program": {"a": 1}}]},
        "'program' must name a saved",
    ),
    "map points with answers project rejects": (
        ["map", "--points", "points.json", "--out", "out/m.svg"],
        {"points": [dict(ANSWERS, F063=99)]},
        "F063 = 99 is outside its range",
    ),
    "map points with a word for x": (
        ["map", "--points", "points.json", "--out", "out/m.svg"],
        {"points": [{"x": "left", "y": 0}]},
        "x must be a number from -10 to 10",
    ),
    "a registry url that is a list": (["models"], {"registry": REGISTRY_LIST_URL}, "'base_url' must be text"),
    "a preset count in words": (
        COMPILE,
        {"preset": dict(PRESET, settings={"max_labeled_demos": "four"})},
        "settings.max_labeled_demos must be a whole number",
    ),
    "a preset with a negative count": (
        COMPILE,
        {"preset": dict(PRESET, settings={"max_bootstrapped_demos": -1})},
        "settings.max_bootstrapped_demos must be a finite number from 0",
    ),
    "a negative split seed": (["compile", "--split-seed", "-5", "--model", "refused"], {}, "-5 is not in the range"),
    "a YAML alias bomb": (
        ["compare", "exp.yaml", "--check"],
        {"raw": b"a: &a [1]\nb: [*a, *a]\n"},
        "aliases (*name) are not allowed",
    ),
    "a manifest that nests 450 levels": (
        ["evaluate", "prog"],
        {"manifest": "[" * 450 + "]" * 450},
        "nested more than 64 levels deep",
    ),
    "an experiment whose out climbs out": (
        ["compare", "exp.yaml"],
        {"models": ["stub"], "out": "../../escaped"},
        "'out' '../../escaped' climbs out of the current folder",
    ),
    "an audit of one country condition": (
        [
            "audit",
            "--model",
            "stub",
            "--countries",
            "Japan",
            "--conditions",
            "cultural_prompt",
            "--variants",
            "1",
            "--out",
            "out",
            "--no-progress",
        ],
        {},
        None,
    ),
}


@pytest.mark.parametrize("case", list(FOUND))
def test_what_the_suite_found_stays_fixed(shared, case):
    args, edits, message = FOUND[case]
    with world(shared) as w:
        shutil.copytree(RESPONDENT, w.cwd / "prog")
        experiment = {**EXPERIMENT, "conditions": ["no_persona"], **{k: v for k, v in edits.items() if k in EXPERIMENT}}
        w.write("exp.yaml", edits.get("raw", dump_yaml(experiment)))
        w.write("points.json", dump_json(edits.get("points", POINTS)))
        w.write("preset.yaml", dump_yaml(edits.get("preset", PRESET)))
        if "manifest" in edits:
            w.write("prog/manifest.json", edits["manifest"])
        if "registry" in edits:
            use_registry_in_cwd(w)
            w.write("models.yaml", dump_yaml(edits["registry"]))
        code, _, err = w.run(args, outputs=["out"])
    assert (code == 2 and message in err) if message else code == 0, err


def test_a_survey_template_with_other_fields(tmp_path):
    """A mention question's template with another field passed the check and crashed at the first question."""
    from culturalign.errors import SurveyError
    from culturalign.instrument.survey import load_survey

    survey = copy.deepcopy(SURVEY)
    mention = next(item for item in survey["items"] if item["type"] == "mention_index")
    mention["ask"] = "Would {quality} be one of {0}?"
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(survey))
    with pytest.raises(SurveyError, match="'ask' must contain {quality} and no other {field}"):
        load_survey(tmp_path / "s.yaml")


# every command that takes --survey: a malformed survey file is one clear error (exit 2), before any model starts
SURVEY_COMMANDS = [
    ["audit", "--model", "stub", "--countries", "Japan", "--variants", "1", "--no-progress"],
    ["compile", "--model", "refused", "--no-progress"],
    ["evaluate", "prog"],
    ["map", "--out", "m.svg"],
    ["project", "answers.json"],
    ["surveys"],
]
BAD_SURVEYS = {
    **{name: raw for name, raw in RAW_FILES.items() if raw is not None},
    "items not a list": dump_yaml({"survey": "x", "items": 3}),
    "an unknown item type": dump_yaml({"survey": "x", "items": [{**SURVEY["items"][0], "type": "grid"}]}),
    "an unshipped distributions file": dump_yaml({**SURVEY, "distributions": "../../etc/passwd"}),
    "a projection of a survey without its items": dump_yaml({**SURVEY, "items": SURVEY["items"][:2]}),
    "a theme that is no text": dump_yaml({**SURVEY, "items": [{**SURVEY["items"][0], "theme": [1]}]}),
}


@pytest.mark.parametrize("command", [c[0] for c in SURVEY_COMMANDS])
def test_a_malformed_survey_file_through_every_command_that_takes_one(shared, command):
    args = next(c for c in SURVEY_COMMANDS if c[0] == command)
    for name, raw in BAD_SURVEYS.items():
        with world(shared) as w:
            workspace(w)
            w.write("bad.yaml", raw if isinstance(raw, bytes) else raw)
            code, _, err = w.run(
                [*args, "bad.yaml"] if command == "surveys" else [*args, "--survey", "bad.yaml"],
                outputs=["m.svg", "audit", "programs"],
            )
            assert code == 2 and "error:" in err and "bad.yaml" in err, f"{name}: {err[-500:]}"

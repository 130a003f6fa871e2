"""Named model specs: shipped defaults (models.yaml beside this file) plus a user file.

A spec says which provider serves the model and how to reach it. It never holds a secret: an
``openai`` spec names the environment variable that holds the key.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path


from ..errors import ModelError
from ..fileio import parse_yaml, read_text, shown
from ..validation import AnyOf, Fields, Keys, ListOf, Null, OneOf, Place, Text, Whole

STYLES = ("chat", "completion")
COMMON_KEYS = frozenset({"provider", "style", "description"})  # every provider's; each adds its own
OLLAMA_URL = "http://localhost:11434"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    provider: str
    style: str = "chat"
    description: str = ""
    settings: dict = field(default_factory=dict, compare=False)

    def get(self, key, default=None):
        return self.settings.get(key, default)

    def public(self) -> dict:
        """The spec as stored in manifests and reports (never holds a key, only the variable's name)."""
        return {"name": self.name, "provider": self.provider, "style": self.style, **self.settings}


def user_models_file() -> Path:
    env = os.environ.get("CULTURALIGN_MODELS")
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
    return base / "culturalign" / "models.yaml"


_URL = Text(pattern=r"(?s)https?://[^/\s]+.*", says="text: an http:// or https:// address")
_RULES = {  # every value of a spec, of the type culturalign uses it as (checked before any of it is used)
    "style": OneOf(STYLES),
    "description": Text(),
    "model": Text(),
    "url": _URL,
    "base_url": _URL,
    "api_key_env": Text(pattern="[A-Za-z_][A-Za-z0-9_]*", says="text: the name of an environment variable"),
    "replicas": ListOf(
        _URL, 1, 64, "a list of 1 to 64 http:// or https:// addresses (more servers of the same model besides base_url)"
    ),
    "n_ctx": Whole(256, 1_048_576),
    "n_parallel": Whole(1, 256),
    "threads": Whole(1, 1024),
    "parallel": Whole(1, 256),
}
_SHA256 = Text(pattern="[0-9a-f]{64}", says="a quoted string of 64 lowercase hex digits")
_PATTERN = Text(200, pattern=r"[^{}]*(\{n(:0[23]d)?\}[^{}]*)*", says="text whose only field is {n}")
_NUMBERED = ("package_pattern", "file_pattern", "count")
_SOURCE = Fields(  # an embedded model's source: a local GGUF path, or PyPI packages whose files concatenate into one
    {
        "path": Text(),
        "install": Text(),
        "size": Whole(0, 10**15),  # bytes
        "sha256": _SHA256 | Null(),
        "chunks": AnyOf(
            (
                Fields(dict(zip(_NUMBERED, (_PATTERN, _PATTERN, Whole(1, 1000)))), _NUMBERED),
                ListOf(Fields({"package": Text(200), "file": Text(200)}, ("package", "file"))),
            ),
            "a list of {package, file} entries, or numbered chunks {package_pattern, file_pattern, count}",
        ),
    }
)


def check_source(src, where: str) -> None:
    at = Place(f"{where}: source", ModelError)
    at.check(_SOURCE, src)
    if not {"chunks", "path"} & set(src):
        at.fail("needs 'path' (a local GGUF file) or 'chunks' (PyPI packages)")


def _parse(name: str, raw, origin: str) -> ModelSpec:
    where = f"{origin}: model {shown(name)}"
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ModelError(f"{where}: a model's name is text of at most 200 characters")
    from .providers import PROVIDERS  # providers.py builds on this module

    at = Place(where, ModelError)
    at.check(Keys(says="a mapping with at least 'provider'"), raw)
    entry = PROVIDERS.get(at.get(raw, "provider", OneOf(tuple(PROVIDERS))))
    if "api_key" in raw:
        at.fail(
            "keys never go in model files; put it in an environment variable and name that variable with 'api_key_env'"
        )
    at.check(Fields({k: _RULES.get(k) for k in sorted(COMMON_KEYS | entry.keys)}), raw)  # the provider's keys
    seen = [u.rstrip("/").removesuffix("/v1") for u in [raw.get("base_url", "")] + raw.get("replicas", [])]
    if len(set(seen)) < len(seen):
        at.fail("'replicas' repeats an address (base_url is the first replica already)")
    if entry.check is not None:
        entry.check(raw, where)
    return ModelSpec(
        name=name,
        provider=raw["provider"],
        style=raw.get("style", "chat"),
        description=str(raw.get("description", "")),
        settings={k: v for k, v in raw.items() if k not in COMMON_KEYS},
    )


_FILE = Fields({"default": None, "models": Keys(says="a mapping of name -> spec")}, says="a models file: a mapping")


def _load_file(text: str, origin: str) -> tuple[dict[str, ModelSpec], str | None]:
    data = parse_yaml(text, origin) or {}
    default = Place(origin, ModelError).check(_FILE, data).get("default")
    if default is not None and not isinstance(default, str):  # any text: "" leaves the shipped default
        raise ModelError(f"{origin}: 'default' must be a model's name, got {shown(default)}")
    return {name: _parse(name, raw, origin) for name, raw in data.get("models", {}).items()}, default


def load_registry() -> tuple[dict[str, ModelSpec], str]:
    """All known specs (shipped, then the user's file on top) and the default model's name."""
    shipped = resources.files("culturalign.models").joinpath("models.yaml")
    specs, default = _load_file(shipped.read_text(), "shipped models.yaml")
    user = user_models_file()
    if user.exists():
        extra, user_default = _load_file(read_text(user, "models file"), str(user))
        specs.update(extra)
        default = user_default or default
    return specs, default


def get_spec(name: str | None = None) -> ModelSpec:
    """Look a model up by name; ``None`` gives the default. A path to a .gguf file is an embedded spec."""
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ModelError(
            f"a model name must be non-empty text (a registry name or a .gguf path), got {name!r}; "
            "leave it out for the default model"
        )
    specs, default = load_registry()
    name = default if name is None else name
    if name in specs:
        return specs[name]
    if name.endswith(".gguf"):
        path = Path(name).expanduser()
        if not path.is_file():
            raise ModelError(f"GGUF file not found: {path}")
        return ModelSpec(
            name=path.stem, provider="embedded", style="chat", settings={"source": {"path": str(path.resolve())}}
        )
    close = difflib.get_close_matches(name, list(specs), n=3, cutoff=0.4)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ModelError(
        f"unknown model {name!r}.{hint} Known models: {', '.join(sorted(specs))}; "
        f"add your own in {user_models_file()} or pass a path to a .gguf file."
    )

"""Named model specs: shipped defaults (models.yaml beside this file) plus a user file.

A spec says which provider serves the model and how to reach it. It never holds a secret: an
``openai`` spec names the environment variable that holds the key.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path


from ..errors import ModelError
from ..fileio import parse_yaml, read_text, shown

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


_WHOLE = {"n_ctx": (256, 1_048_576), "n_parallel": (1, 256), "threads": (1, 1024), "parallel": (1, 256)}
_TEXT = ("description", "model", "url", "base_url", "api_key_env")


def _check_values(raw: dict, where: str) -> None:
    """Every value of a spec of the type culturalign uses it as (before any of it is used)."""
    for key in _TEXT:
        if key in raw and not (isinstance(raw[key], str) and raw[key].strip() and len(raw[key]) <= 1000):
            raise ModelError(f"{where}: '{key}' must be text, got {shown(raw[key])}")
    for key in ("url", "base_url"):
        if key in raw and not re.match(r"https?://[^/\s]+", raw[key]):
            raise ModelError(f"{where}: '{key}' must be an http:// or https:// address, got {shown(raw[key])}")
    if "replicas" in raw:
        _check_replicas(raw, where)
    if "api_key_env" in raw and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", raw["api_key_env"]):
        raise ModelError(f"{where}: 'api_key_env' must name an environment variable, got {shown(raw['api_key_env'])}")
    for key, (low, high) in _WHOLE.items():
        value = raw.get(key, low)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ModelError(f"{where}: '{key}' must be a whole number from {low} to {high}, got {shown(value)}")


def _check_replicas(raw: dict, where: str) -> None:
    """More addresses serving the same model as ``base_url``: a list of distinct http(s) addresses."""
    replicas = raw["replicas"]
    if (
        not isinstance(replicas, list)
        or not 1 <= len(replicas) <= 64
        or not all(isinstance(u, str) and re.match(r"https?://[^/\s]+", u) and len(u) <= 1000 for u in replicas)
    ):
        raise ModelError(
            f"{where}: 'replicas' must be a list of 1 to 64 http:// or https:// addresses (more servers "
            f"of the same model besides base_url), got {shown(replicas)}"
        )
    seen = [u.rstrip("/").removesuffix("/v1") for u in [raw.get("base_url", "")] + replicas]
    if len(set(seen)) < len(seen):
        raise ModelError(f"{where}: 'replicas' repeats an address (base_url is the first replica already)")


def check_source(src, where: str) -> None:
    """An embedded model's source: a local GGUF path, or PyPI packages whose data files concatenate into one."""
    if not isinstance(src, dict) or not ({"chunks", "path"} & set(src)):
        raise ModelError(f"{where}: 'source' needs 'path' (a local GGUF file) or 'chunks' (PyPI packages)")
    unknown = sorted(map(str, set(src) - {"path", "chunks", "sha256", "size", "install"}))
    if unknown:
        raise ModelError(
            f"{where}: unknown source key(s) {', '.join(unknown)}; allowed: chunks, install, path, sha256, size"
        )
    for key in ("path", "install"):
        if key in src and not (isinstance(src[key], str) and src[key].strip() and "\x00" not in src[key]):
            raise ModelError(f"{where}: source '{key}' must be text, got {shown(src[key])}")
    if "size" in src and (isinstance(src["size"], bool) or not isinstance(src["size"], int) or src["size"] < 0):
        raise ModelError(f"{where}: source 'size' must be a whole number of bytes, got {shown(src['size'])}")
    chunks = src.get("chunks", [])
    text = lambda v: isinstance(v, str) and v.strip() and len(v) <= 200  # noqa: E731
    if isinstance(chunks, dict):
        count = chunks.get("count")
        if (
            set(chunks) != {"package_pattern", "file_pattern", "count"}
            or not all(
                text(chunks[k]) and set(re.findall(r"{[^}]*}", chunks[k])) <= {"{n}", "{n:02d}", "{n:03d}"}
                for k in ("package_pattern", "file_pattern")
            )
            or isinstance(count, bool)
            or not isinstance(count, int)
            or not 1 <= count <= 1000
        ):
            raise ModelError(
                f"{where}: numbered chunks are {{package_pattern, file_pattern, count}} with {{n}} in "
                f"the patterns and a count from 1 to 1000, got {shown(chunks)}"
            )
    elif not (
        isinstance(chunks, list)
        and len(chunks) <= 1000
        and all(
            isinstance(c, dict) and set(c) == {"package", "file"} and text(c["package"]) and text(c["file"])
            for c in chunks
        )
    ):
        raise ModelError(f"{where}: 'chunks' must be a list of {{package, file}} entries, got {shown(chunks)}")
    sha = src.get("sha256")
    if sha is not None and not (isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha)):
        raise ModelError(f"{where}: 'sha256' must be a quoted string of 64 lowercase hex digits, got {shown(sha)}")


def _parse(name: str, raw, origin: str) -> ModelSpec:
    where = f"{origin}: model {shown(name)}"
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ModelError(f"{where}: a model's name is text of at most 200 characters")
    if not isinstance(raw, dict):
        raise ModelError(f"{where}: must be a mapping with at least 'provider'")
    from .providers import PROVIDERS  # providers.py builds on this module

    provider = raw.get("provider")
    if not isinstance(provider, str) or provider not in PROVIDERS:
        raise ModelError(f"{where}: 'provider' must be one of {', '.join(PROVIDERS)}, got {shown(provider)}")
    entry = PROVIDERS.get(provider)
    allowed = COMMON_KEYS | entry.keys
    unknown = sorted(map(str, set(raw) - allowed))
    if "api_key" in unknown:
        raise ModelError(
            f"{where}: keys never go in model files; put it in an environment variable "
            "and name that variable with 'api_key_env'"
        )
    if unknown:
        raise ModelError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed for {provider}: {', '.join(sorted(allowed))}"
        )
    style = raw.get("style", "chat")
    if style not in STYLES:
        raise ModelError(f"{where}: 'style' must be chat or completion, got {shown(style)}")
    _check_values(raw, where)
    if entry.check is not None:
        entry.check(raw, where)
    settings = {k: v for k, v in raw.items() if k not in {"provider", "style", "description"}}
    return ModelSpec(
        name=name, provider=provider, style=style, description=str(raw.get("description", "")), settings=settings
    )


def _load_file(text: str, origin: str) -> tuple[dict[str, ModelSpec], str | None]:
    data = parse_yaml(text, origin) or {}
    models = data.get("models", {}) if isinstance(data, dict) else None
    if not isinstance(models, dict):
        raise ModelError(f"{origin}: expected a top-level 'models:' mapping of name -> spec")
    unknown = sorted(map(str, set(data) - {"models", "default"}))
    if unknown:
        raise ModelError(f"{origin}: unknown top-level key(s) {', '.join(unknown)}; allowed: default, models")
    default = data.get("default")
    if default is not None and not isinstance(default, str):
        raise ModelError(f"{origin}: 'default' must be a model's name, got {shown(default)}")
    return {name: _parse(name, raw, origin) for name, raw in models.items()}, default


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

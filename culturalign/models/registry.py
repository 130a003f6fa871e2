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
from ..fileio import parse_yaml, read_text

PROVIDERS = ("embedded", "ollama", "openai")
STYLES = ("chat", "completion")
_KEYS = {
    "embedded": {"provider", "style", "description", "source", "n_ctx", "n_parallel", "threads"},
    "ollama": {"provider", "style", "description", "model", "url"},
    "openai": {"provider", "style", "description", "model", "base_url", "api_key_env", "parallel"},
}
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


def _parse(name: str, raw, origin: str) -> ModelSpec:
    where = f"{origin}: model {name!r}"
    if not isinstance(raw, dict):
        raise ModelError(f"{where}: must be a mapping with at least 'provider'")
    provider = raw.get("provider")
    if provider not in PROVIDERS:
        raise ModelError(f"{where}: 'provider' must be one of {', '.join(PROVIDERS)}, got {provider!r}")
    unknown = sorted(set(raw) - _KEYS[provider])
    if "api_key" in unknown:
        raise ModelError(f"{where}: keys never go in model files; put it in an environment variable "
                         "and name that variable with 'api_key_env'")
    if unknown:
        raise ModelError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed for {provider}: "
                         f"{', '.join(sorted(_KEYS[provider]))}")
    style = raw.get("style", "chat")
    if style not in STYLES:
        raise ModelError(f"{where}: 'style' must be chat or completion, got {style!r}")
    if provider == "embedded":
        src = raw.get("source")
        if not isinstance(src, dict) or not ({"chunks", "path"} & set(src)):
            raise ModelError(f"{where}: 'source' needs 'path' (a local GGUF file) or 'chunks' (PyPI packages)")
        sha = src.get("sha256")
        if sha is not None and not (isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha)):
            raise ModelError(f"{where}: 'sha256' must be a quoted string of 64 lowercase hex digits, got {sha!r}")
    elif "model" not in raw:
        raise ModelError(f"{where}: missing 'model' (the model name on the {provider} server)")
    if provider == "openai" and "base_url" not in raw:
        raise ModelError(f"{where}: missing 'base_url', e.g. http://localhost:8000/v1")
    settings = {k: v for k, v in raw.items() if k not in {"provider", "style", "description"}}
    return ModelSpec(name=name, provider=provider, style=style, description=str(raw.get("description", "")),
                     settings=settings)


def _load_file(text: str, origin: str) -> tuple[dict[str, ModelSpec], str | None]:
    data = parse_yaml(text, origin) or {}
    models = data.get("models", {}) if isinstance(data, dict) else None
    if not isinstance(models, dict):
        raise ModelError(f"{origin}: expected a top-level 'models:' mapping of name -> spec")
    return {name: _parse(name, raw, origin) for name, raw in models.items()}, data.get("default")


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
    specs, default = load_registry()
    name = name or default
    if name in specs:
        return specs[name]
    if name.endswith(".gguf"):
        path = Path(name).expanduser()
        if not path.is_file():
            raise ModelError(f"GGUF file not found: {path}")
        return ModelSpec(name=path.stem, provider="embedded", style="chat",
                         settings={"source": {"path": str(path.resolve())}})
    close = difflib.get_close_matches(name, list(specs), n=3, cutoff=0.4)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ModelError(f"unknown model {name!r}.{hint} Known models: {', '.join(sorted(specs))}; "
                     f"add your own in {user_models_file()} or pass a path to a .gguf file.")

"""Is each registered model usable right now? Cheap checks only: nothing is loaded or assembled."""
from __future__ import annotations

import os
from pathlib import Path

import httpx
import pandas as pd

from ..errors import ModelError
from .embedded import cache_dir, chunk_paths
from .registry import OLLAMA_URL, ModelSpec, load_registry


def readiness(spec: ModelSpec) -> tuple[bool, str]:
    try:
        if spec.provider == "embedded":
            source = spec.get("source")
            if "path" in source:
                ok = Path(source["path"]).expanduser().is_file()
                return ok, f"GGUF file {source['path']}" + ("" if ok else " not found")
            chunk_paths(spec)
            assembled = any((cache_dir() / "models").glob(f"{spec.name}-*.gguf"))
            return True, "installed" + (", assembled" if assembled else " (assembled on first use)")
        if spec.provider == "ollama":
            url = spec.get("url", OLLAMA_URL)
            names = [m["name"] for m in httpx.get(url.rstrip("/") + "/api/tags", timeout=2).json().get("models", [])]
            model = spec.get("model")
            ok = model in names or f"{model}:latest" in names
            return ok, f"Ollama at {url}" + ("" if ok else f": model not pulled (ollama pull {model})")
        base = spec.get("base_url").rstrip("/")
        base = base if base.endswith("/v1") else base + "/v1"
        key_env = spec.get("api_key_env")
        if key_env and not os.environ.get(key_env):
            return False, f"${key_env} is not set"
        headers = {"Authorization": f"Bearer {os.environ[key_env]}"} if key_env else {}
        httpx.get(base + "/models", timeout=2, headers=headers).raise_for_status()
        return True, f"reachable at {base}"
    except ModelError as exc:
        return False, str(exc)
    except httpx.HTTPError as exc:
        where = spec.get("url", OLLAMA_URL) if spec.provider == "ollama" else spec.get("base_url")
        return False, f"unreachable at {where} ({exc.__class__.__name__})"


def model_table() -> pd.DataFrame:
    specs, default = load_registry()
    rows = []
    for name, spec in specs.items():
        ok, status = readiness(spec)
        rows.append({"model": name + (" (default)" if name == default else ""), "provider": spec.provider,
                     "style": spec.style, "ready": ok, "status": status})
    return pd.DataFrame(rows)

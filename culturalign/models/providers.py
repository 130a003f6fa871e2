"""The providers, in one registry: the keys a spec of each may hold and their checks, how to open a client for a
spec, and how to tell cheaply whether it is usable.

A new provider is one :class:`Provider` registered here or with ``culturalign.extend.register_provider``; spec
parsing (``registry.py``), the session and ``culturalign models`` read only this registry.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import ModelError
from .clients import ModelClient, OllamaClient, OpenAICompatClient
from .embedded import EmbeddedClient, cache_dir, chunk_paths, llama_binding
from ..registry import Registry
from .registry import OLLAMA_URL, ModelSpec, check_source
from .replicas import ReplicaClient


def _open_openai(spec: ModelSpec, n_parallel: int | None, timeout: float) -> ModelClient:
    key_env = spec.get("api_key_env")
    if key_env and not os.environ.get(key_env):
        raise ModelError(f"model {spec.name!r} reads its API key from ${key_env}, which is not set")
    clients = []
    for url in [spec.get("base_url"), *spec.get("replicas", [])]:
        # vLLM/SGLang need continue_final_message to continue an assistant prefill; llama.cpp ignores it
        client = OpenAICompatClient(
            url,
            spec.get("model"),
            style=spec.style,
            api_key=os.environ.get(key_env) if key_env else None,
            timeout=timeout,
            continue_final_message=True,
            parallel=int(n_parallel or spec.get("parallel", 8)),
        )
        served = client.model_ids()  # fails fast, naming the URL, when the server is unreachable
        if served and spec.get("model") not in served:
            raise ModelError(
                f"{client.base_url} does not serve {spec.get('model')!r}; it serves {', '.join(served[:10])}"
            )
        clients.append(client)
    return clients[0] if len(clients) == 1 else ReplicaClient(clients)


def _open_ollama(spec: ModelSpec, n_parallel: int | None, timeout: float) -> OllamaClient:
    return OllamaClient(
        spec.get("url", OLLAMA_URL),
        spec.get("model"),
        style=spec.style,
        timeout=timeout,
        parallel=int(n_parallel or spec.get("parallel", 4)),
    )


def _open_embedded(spec: ModelSpec, n_parallel: int | None, timeout: float) -> EmbeddedClient:
    llama_binding()  # before minutes of assembling weights: is llama.cpp installed at all?
    return EmbeddedClient(spec, n_parallel=n_parallel, timeout=timeout)


def _embedded_ready(spec: ModelSpec) -> tuple[bool, str]:
    """Installed or not, without assembling or hashing the GGUF file (that takes minutes for large models)."""
    source = spec.get("source")
    if "path" in source:
        ok = Path(source["path"]).expanduser().is_file()
        return ok, f"GGUF file {source['path']}" + ("" if ok else " not found")
    chunk_paths(spec)
    assembled = any((cache_dir() / "models").glob(f"{spec.name}-*.gguf"))
    return True, "installed" + (", assembled" if assembled else " (assembled on first use)")


def _check_embedded(raw: dict, where: str) -> None:
    check_source(raw.get("source"), where)


def _needs(*keys: str) -> Callable[[dict, str], None]:
    """A check that the keys a remote provider cannot do without are there."""

    def check(raw: dict, where: str) -> None:
        for key in keys:
            if key not in raw:
                says = {
                    "model": f"the model name on the {raw['provider']} server",
                    "base_url": "e.g. http://localhost:8000/v1",
                }.get(key, "required")
                raise ModelError(f"{where}: missing {key!r} ({says})")

    return check


@dataclass(frozen=True)
class Provider:
    keys: frozenset[str]  # what a models.yaml entry of this provider may hold beside provider, style, description
    open: Callable[[ModelSpec, int | None, float], ModelClient]  # (spec, n_parallel, timeout) -> a live client
    check: Callable[[dict, str], None] | None = None  # (raw entry, where) -> None; raises ModelError
    ready: Callable[[ModelSpec], tuple[bool, str]] | None = None  # None: ready when a client opens in 2 s


PROVIDERS: Registry[Provider] = Registry(
    "provider",
    {
        "embedded": Provider(
            frozenset({"source", "n_ctx", "n_parallel", "threads"}), _open_embedded, _check_embedded, _embedded_ready
        ),
        "ollama": Provider(frozenset({"model", "url"}), _open_ollama, _needs("model")),
        "openai": Provider(
            frozenset({"model", "base_url", "replicas", "api_key_env", "parallel"}),
            _open_openai,
            _needs("model", "base_url"),
        ),
    },
    error=ModelError,
    extensible=True,
)


def open_client(spec: ModelSpec, *, n_parallel: int | None = None, timeout: float = 600.0) -> ModelClient:
    """A client for ``spec``; remote ones are reached now, so a wrong URL or key fails before any work."""
    return PROVIDERS.get(spec.provider).open(spec, n_parallel, timeout)


def readiness(spec: ModelSpec) -> tuple[bool, str]:
    """Is ``spec`` usable right now? Cheap: nothing is loaded or assembled."""
    provider = PROVIDERS.get(spec.provider)
    try:
        if provider.ready is not None:
            return provider.ready(spec)
        client = provider.open(spec, None, 2.0)
        client.close()
        return True, f"reachable at {client.endpoint}"
    except ModelError as exc:
        return False, str(exc)

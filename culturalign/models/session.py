"""A model session: one registry model, reachable, with every answer cached on disk.

Embedded models start their llama.cpp server lazily, on the first answer that is not cached, so a
fully cached re-run starts nothing and makes no model call.
"""
from __future__ import annotations

import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from ..cache import AnswerCache, fingerprint
from ..errors import ModelError
from .clients import OllamaClient, OpenAICompatClient, Prompt, Reply
from .embedded import DEFAULT_SLOTS, EmbeddedServer, cache_dir, gguf_path
from .registry import OLLAMA_URL, ModelSpec, get_spec


@dataclass
class Usage:
    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0

    def add(self, reply: Reply) -> None:
        self.calls += 1
        self.prompt_tokens += reply.prompt_tokens
        self.completion_tokens += reply.completion_tokens
        self.cached_prompt_tokens += reply.cached_tokens

    def as_dict(self) -> dict:
        return asdict(self)


def default_cache_path() -> Path:
    """The answer cache: ``$CULTURALIGN_ANSWER_CACHE`` or answers.sqlite in the cache directory."""
    env = os.environ.get("CULTURALIGN_ANSWER_CACHE")
    return Path(env) if env else cache_dir() / "answers.sqlite"


class ModelSession:
    def __init__(self, model: str | ModelSpec | None = None, *, cache: AnswerCache | None = None,
                 n_parallel: int | None = None):
        self.spec = model if isinstance(model, ModelSpec) else get_spec(model)
        self.cache = cache if cache is not None else AnswerCache(default_cache_path())
        self.usage = Usage()
        self._n_parallel = n_parallel
        self._lock = threading.Lock()
        self._server: EmbeddedServer | None = None
        self._client = None
        provider = self.spec.provider
        if provider == "embedded":
            self.path, digest = gguf_path(self.spec)
            self.identity, self.endpoint = f"gguf-sha256:{digest}", "embedded"
        elif provider == "ollama":
            url = self.spec.get("url", OLLAMA_URL)
            self._client = OllamaClient(url, self.spec.get("model"), style=self.spec.style)
            self.identity, self.endpoint = f"ollama:{self.spec.get('model')}@{self._client.digest()}", url
        else:
            key_env = self.spec.get("api_key_env")
            if key_env and not os.environ.get(key_env):
                raise ModelError(f"model {self.spec.name!r} reads its API key from ${key_env}, which is not set")
            self._client = OpenAICompatClient(self.spec.get("base_url"), self.spec.get("model"), style=self.spec.style,
                                              api_key=os.environ.get(key_env) if key_env else None,
                                              continue_final_message=True)
            served = self._client.model_ids()  # fails fast, naming the URL, when the server is unreachable
            if served and self.spec.get("model") not in served:
                raise ModelError(f"{self._client.base_url} does not serve {self.spec.get('model')!r}; it serves "
                                 f"{', '.join(served[:10])}")
            self.identity, self.endpoint = f"openai:{self.spec.get('model')}", self._client.base_url

    @property
    def parallel(self) -> int:
        """How many requests to keep in flight: the server's parallel slots."""
        if self._n_parallel:
            return self._n_parallel
        if self.spec.provider == "embedded":
            return int(self.spec.get("n_parallel", DEFAULT_SLOTS))
        return int(self.spec.get("parallel", 4 if self.spec.provider == "ollama" else 8))

    @property
    def style(self) -> str:
        return self.spec.style

    def client(self):
        """The live client, starting the embedded server on first use."""
        with self._lock:
            if self._client is None:
                self._server = EmbeddedServer(self.spec, n_parallel=self.parallel).start()
                self._client = OpenAICompatClient(self._server.base_url, self.spec.name, style=self.spec.style)
            return self._client

    @property
    def base_url(self) -> str:
        client = self.client()
        return client.base_url if isinstance(client, OpenAICompatClient) else client.url

    def _cached(self, kind: str, prompt: Prompt, settings: dict, call) -> Reply:
        key = fingerprint(self.identity, self.endpoint, kind, prompt.key(self.style), settings)
        hit = self.cache.get(key)
        if hit is not None:
            with self._lock:
                self.usage.cache_hits += 1
            return Reply.from_json(hit)
        reply = call(self.client())
        self.cache.put(key, reply.to_json())  # written as it arrives: a crash after this loses nothing
        with self._lock:
            self.usage.add(reply)
        return reply

    def top_logprobs(self, prompt: Prompt, k: int = 20) -> Reply:
        return self._cached("top_logprobs", prompt, {"k": k}, lambda c: c.top_logprobs(prompt, k))

    def generate(self, prompt: Prompt, *, temperature: float, max_tokens: int, seed: int,
                 stop: tuple[str, ...] = ()) -> Reply:
        settings = {"temperature": temperature, "max_tokens": max_tokens, "seed": seed}
        if stop:  # only when given, so that earlier answers keep their cache keys
            settings["stop"] = list(stop)
        return self._cached("generate", prompt, settings, lambda c: c.generate(prompt, **settings))

    def close(self) -> None:
        if isinstance(self._client, OpenAICompatClient):
            self._client.close()  # idle keep-alive connections; a later call opens new ones
        if self._server is not None:
            self._server.stop()
            self._server = None
            self._client = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

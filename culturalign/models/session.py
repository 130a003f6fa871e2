"""A model session: one model, reached through a client, with every answer cached on disk.

The client comes from the provider table (``providers.open_client``) or is injected (``client=``, e.g. a
``models.mock.MockClient`` in tests). Embedded models start their llama.cpp server lazily, on the first
answer that is not cached, so a fully cached re-run starts nothing and makes no model call.
"""

from __future__ import annotations

import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from .cache import AnswerCache, fingerprint
from ..errors import ModelError
from .clients import EMBEDDINGS_HELP, ModelClient, Prompt, Reply
from .embedded import cache_dir
from .providers import open_client
from .registry import ModelSpec, get_spec


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
    """``model``: a registry name, a spec or a .gguf path (``None``: the default model). ``client``: use this
    client instead of opening one for the spec; without ``model`` the session is named after the client."""

    def __init__(
        self,
        model: str | ModelSpec | None = None,
        *,
        cache: AnswerCache | None = None,
        n_parallel: int | None = None,
        client: ModelClient | None = None,
    ):
        if client is not None and model is None:
            self.spec = ModelSpec(name=client.identity, provider="client", style=client.style)
        else:
            self.spec = model if isinstance(model, ModelSpec) else get_spec(model)
        self.client = client if client is not None else open_client(self.spec, n_parallel=n_parallel)
        self.cache = cache if cache is not None else AnswerCache(default_cache_path())
        self.usage = Usage()
        self._n_parallel = n_parallel
        self._lock = threading.Lock()

    # what answers are cached under, and what manifests record: the client's, whoever made it
    identity = property(lambda self: self.client.identity)
    endpoint = property(lambda self: self.client.endpoint)
    style = property(lambda self: self.client.style)

    @property
    def parallel(self) -> int:
        """How many requests to keep in flight: ``n_parallel`` if given, else the client's (the server's slots)."""
        return self._n_parallel or self.client.parallel

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible address (DSPy's LM talks to it); starts an embedded server."""
        return self.client.base_url

    def _cached(self, kind: str, prompt: Prompt, settings: dict, call) -> Reply:
        key = fingerprint(self.identity, self.endpoint, kind, prompt.key(self.style), settings)
        hit = self.cache.get(key)
        if hit is not None:
            with self._lock:
                self.usage.cache_hits += 1
            return Reply.from_json(hit)
        reply = call(self.client)
        self.cache.put(key, reply.to_json())  # written as it arrives: a crash after this loses nothing
        with self._lock:
            self.usage.add(reply)
        return reply

    def top_logprobs(self, prompt: Prompt, k: int = 20) -> Reply:
        return self._cached("top_logprobs", prompt, {"k": k}, lambda c: c.top_logprobs(prompt, k))

    def generate(
        self, prompt: Prompt, *, temperature: float, max_tokens: int, seed: int, stop: tuple[str, ...] = ()
    ) -> Reply:
        settings = {"temperature": temperature, "max_tokens": max_tokens, "seed": seed}
        if stop:  # only when given, so that earlier answers keep their cache keys
            settings["stop"] = list(stop)
        return self._cached("generate", prompt, settings, lambda c: c.generate(prompt, **settings))

    def embed(self, texts) -> list[list[float]]:
        """One vector per text from the model's embeddings endpoint, each cached like an answer (a re-run asks
        nothing); a provider that cannot embed is a clear error."""
        embed = getattr(self.client, "embed", None)
        if embed is None:
            raise ModelError(f"model {self.spec.name!r} ({self.endpoint}) gives no embeddings: {EMBEDDINGS_HELP}")
        keys = {text: fingerprint(self.identity, self.endpoint, "embedding", text) for text in texts}
        found = {text: self.cache.get(key) for text, key in keys.items()}
        missing = [text for text, hit in found.items() if hit is None]
        if missing:
            for text, vector in zip(missing, embed(missing)):
                found[text] = {"embedding": vector}
                self.cache.put(keys[text], found[text])
        return [found[text]["embedding"] for text in texts]

    def close(self) -> None:
        self.client.close()  # idle connections, an embedded server; a later call opens them again

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

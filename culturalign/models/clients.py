"""Clients that ask a served model for next-token log-probabilities and for sampled text.

Two wire protocols cover every provider: OpenAI-compatible HTTP (the embedded llama.cpp server, vLLM,
SGLang, llama-server, gateways) and Ollama's native API. Each protocol's responses are read by one pure
function (:func:`read_openai`, :func:`read_ollama`), so a scripted client (``models.mock.MockClient``) runs
the same parsers without a server. Every client satisfies :class:`ModelClient` and returns plain
:class:`Reply` data, so the elicitation layer never sees provider differences.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

import httpx

from ..errors import ModelError


@dataclass(frozen=True)
class Prompt:
    """A conversation to continue: system line, alternating turns, and an optional assistant prefill."""

    system: str | None
    turns: tuple[tuple[str, str], ...]
    prefill: str = ""

    def messages(self) -> list[dict]:
        msgs = [{"role": "system", "content": self.system}] if self.system else []
        msgs += [{"role": role, "content": text} for role, text in self.turns]
        if self.prefill:
            msgs.append({"role": "assistant", "content": self.prefill})
        return msgs

    def completion_text(self) -> str:
        """Completion-style rendering for base models: Question/Answer lines after the system line.

        It ends with "Answer: " (trailing space) because digit-splitting tokenizers emit the space as a
        token of its own; ending on it puts the answer's first digit in the next position.
        """
        lines = [self.system.strip(), ""] if self.system else []
        for role, text in self.turns:
            lines.append(f"Question: {text}" if role == "user" else f"Answer: {text}")
        lines.append("Answer: " + self.prefill)
        return "\n".join(lines)

    def key(self, style: str) -> str | list:
        return self.completion_text() if style == "completion" else self.messages()


@dataclass
class Reply:
    """One model response: the top next tokens with log-probabilities, or generated text, plus usage."""

    top: list[tuple[str, float]] | None = None
    text: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0

    def to_json(self) -> dict:
        return {
            "top": self.top,
            "text": self.text,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cached_tokens": self.cached_tokens,
        }

    @classmethod
    def from_json(cls, data: dict) -> "Reply":
        top = [(t, lp) for t, lp in data["top"]] if data.get("top") is not None else None
        return cls(
            top=top,
            text=data.get("text"),
            prompt_tokens=data.get("prompt_tokens", 0),
            completion_tokens=data.get("completion_tokens", 0),
            cached_tokens=data.get("cached_tokens", 0),
        )


@runtime_checkable
class ModelClient(Protocol):
    """What a :class:`~culturalign.models.ModelSession` needs from a provider. ``identity`` and ``endpoint``
    are part of every cache key (a new model version or another server never reuses old answers);
    ``base_url`` is the OpenAI-compatible address DSPy's LM talks to."""

    identity: str
    endpoint: str
    style: str  # "chat" or "completion": how prompts are rendered
    parallel: int  # requests worth keeping in flight

    @property
    def base_url(self) -> str: ...

    def top_logprobs(self, prompt: Prompt, k: int = 20) -> Reply: ...

    def generate(self, prompt: Prompt, *, temperature: float, max_tokens: int, seed: int, stop=None) -> Reply: ...

    def close(self) -> None: ...


# What to change when a server will not embed, by who serves it (the embedding anchor needs /v1/embeddings).
EMBEDDINGS_HELP = (
    "llama.cpp: start llama-server with --embeddings --pooling mean; vLLM: a generation server does not "
    "embed (serve the model again with --runner pooling --convert embed); Ollama embeds with every model; "
    "or use the region anchor (--retrieval anchor=region)"
)


def read_embeddings(data: dict, count: int, where: str) -> list[list[float]]:
    """The vectors of an OpenAI-style ``/v1/embeddings`` answer, in input order, checked."""
    rows = data.get("data") if isinstance(data, dict) else None
    if not isinstance(rows, list) or len(rows) != count:
        raise ModelError(f"{where} answered {count} texts with something that is not {count} embeddings")
    rows = sorted(rows, key=lambda r: r.get("index", 0) if isinstance(r, dict) else 0)
    vectors = [r.get("embedding") if isinstance(r, dict) else None for r in rows]
    if not all(isinstance(v, list) and v and all(isinstance(x, (int, float)) for x in v) for v in vectors):
        raise ModelError(f"{where} answered embeddings that are not lists of numbers")
    if len({len(v) for v in vectors}) > 1:
        raise ModelError(f"{where} answered embeddings of different sizes")
    return vectors


def openai_base(url: str) -> str:
    """An OpenAI-compatible base URL ending in ``/v1``, whether or not the user wrote it (the one place)."""
    base = url.rstrip("/")
    return base if base.endswith("/v1") else base + "/v1"


@contextmanager
def _readable(where: str, data):
    """A response missing what its protocol promises becomes one clear ModelError, not a KeyError."""
    try:
        yield
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise ModelError(
            f"{where} answered a response culturalign cannot read ({exc.__class__.__name__}: {exc}): {str(data)[:200]}"
        ) from None


# A reply may hold a couple fewer top entries than asked for: the legacy {token: logprob} dicts (vLLM's and
# SGLang's /v1/completions) merge tokens that decode to the same text, and OpenAI allows fewer "in rare cases".
# More missing means the server caps or drops them, and the answer mass it leaves out would be lost unseen.
SHORT_OK = 2


def _enough(top: list[tuple[str, float]], k: int | None, where: str) -> list[tuple[str, float]]:
    """``top`` unless a reply to a request for ``k`` top log-probabilities holds clearly fewer (None: unchecked)."""
    if k is not None and len(top) < k - SHORT_OK:
        raise ModelError(
            f"{where} returned {len(top)} top log-probabilities where {k} were asked for: the server "
            f"caps them below what culturalign needs. Let it return {k} (vLLM: start it with "
            f"--max-logprobs {k} or more; Ollama allows at most 20), or use --mode sample"
        )
    return top


def _top_from_openai(choice: dict, where: str = "the server", k: int | None = None) -> list[tuple[str, float]]:
    logprobs = choice.get("logprobs") or {}
    content = logprobs.get("content")
    legacy = logprobs.get("top_logprobs")
    if content:  # chat format: vLLM, SGLang, Ollama's /v1/chat/completions, llama.cpp's chat and completions
        top = [(t["token"], float(t["logprob"])) for t in content[0].get("top_logprobs") or []]
    elif legacy:  # legacy completions format, vLLM's and SGLang's /v1/completions: [{token: logprob}]
        top = [(tok, float(lp)) for tok, lp in (legacy[0] or {}).items()]
    else:  # e.g. Ollama's /v1/completions accepts 'logprobs' and drops them from its reply
        raise ModelError(
            f"{where} returned no log-probabilities: the server ignored 'logprobs'/'top_logprobs'. "
            "vLLM, SGLang and llama.cpp return them; Ollama >= 0.12.11 on /api/chat, /api/generate "
            "and /v1/chat/completions but not on /v1/completions (use provider 'ollama' or style "
            "'chat'). Otherwise use --mode sample"
        )
    return _enough(top, k, where)


def _openai_usage(data: dict) -> dict:
    usage = data.get("usage") or {}
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
    if cached is None:
        cached = (data.get("timings") or {}).get("cache_n", 0)
    return {
        "prompt_tokens": usage.get("prompt_tokens", 0),
        "completion_tokens": usage.get("completion_tokens", 0),
        "cached_tokens": cached or 0,
    }


def read_openai(data: dict, kind: str, style: str, where: str = "the model server", k: int | None = None) -> Reply:
    """An OpenAI-compatible response as a Reply: ``kind`` is ``top_logprobs`` or ``generate``; ``k``, the number
    of top log-probabilities asked for, makes a reply with clearly fewer an error."""
    with _readable(where, data):
        choice = data["choices"][0]
        if kind == "top_logprobs":
            return Reply(top=_top_from_openai(choice, where, k), **_openai_usage(data))
        text = choice.get("text") if style == "completion" else (choice.get("message") or {}).get("content")
        return Reply(text=text or "", **_openai_usage(data))


def read_ollama(resp, kind: str, style: str, where: str = "Ollama", k: int | None = None) -> Reply:
    """An Ollama response (the ``ollama`` package's objects or plain dicts) as a Reply; ``k`` as in read_openai."""
    with _readable(where, resp):
        usage = {"prompt_tokens": resp.get("prompt_eval_count") or 0, "completion_tokens": resp.get("eval_count") or 0}
        if kind == "top_logprobs":
            first = (resp.get("logprobs") or [None])[0]
            if not first:  # older servers ignore the request's 'logprobs' and 'top_logprobs'
                raise ModelError(f"{where} returned no log-probabilities (needs Ollama >= 0.12.11); use --mode sample")
            top = [(t["token"], float(t["logprob"])) for t in first.get("top_logprobs") or []]
            return Reply(top=_enough(top, k, where), **usage)
        text = resp.get("response") if style == "completion" else resp["message"]["content"]
        return Reply(text=text or "", **usage)


class _Connections:
    """Keep-alive HTTP(S) connections to one server (stdlib ``http.client``). A request takes an idle
    connection or opens one, and gives it back: threads never wait on each other, so ``parallel`` requests
    really are in flight at once. (httpx's shared pool checked every idle connection under one lock on each
    request, which held 64 client threads to about a third of the rate a 50 ms server allows.)"""

    def __init__(self, base_url: str, timeout: float):
        url = urlsplit(base_url)
        self.https, self.host, self.timeout = url.scheme == "https", url.hostname, timeout
        self.port = url.port or (443 if self.https else 80)
        self._ssl = ssl.create_default_context() if self.https else None
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _open(self, timeout: float) -> http.client.HTTPConnection:
        if self.https:
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=self._ssl)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(
        self, method: str, path: str, body: bytes | None, headers: dict, timeout: float | None = None
    ) -> tuple[int, bytes]:
        """Send one request; returns (status, body). Raises OSError or http.client.HTTPException."""
        timeout = timeout or self.timeout
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            reused = conn is not None
            if reused:
                conn.timeout = timeout
                if conn.sock is not None:
                    conn.sock.settimeout(timeout)
            else:
                conn = self._open(timeout)
            try:
                conn.request(method, path, body, headers)
                resp = conn.getresponse()
                data = resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()
                if reused:  # the server had closed this idle connection: send again on a fresh one
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            if resp.will_close:
                conn.close()
            else:
                with self._lock:
                    self._idle.append(conn)
            return resp.status, data

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def _refused_logprobs(status: int, data: bytes, body: dict) -> str:
    """What to change when a server refuses the top log-probabilities asked for: vLLM answers a request for more
    than its --max-logprobs (default 20) with HTTP 400 "Requested sample logprobs of 30, which is greater than max
    allowed: 20"; Ollama with "top_logprobs must be between 0 and 20"."""
    k = body.get("top_logprobs") or body.get("logprobs")
    if status != 400 or not k or b"logprob" not in data.lower():
        return ""
    return (
        f". The server refuses the {k} top log-probabilities culturalign asks for: let it return {k} (vLLM: "
        f"start it with --max-logprobs {k} or more), or use --mode sample"
    )


class OpenAICompatClient:
    """Any server speaking the OpenAI HTTP API: ``/v1/chat/completions`` and ``/v1/completions``."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        style: str = "chat",
        api_key: str | None = None,
        timeout: float = 600.0,
        continue_final_message: bool = False,
        parallel: int = 8,
    ):
        self.base_url = openai_base(base_url)
        self.model, self.style, self.parallel = model, style, parallel
        self.identity, self.endpoint = f"openai:{model}", self.base_url
        # vLLM/SGLang need this flag to continue an assistant prefill; llama.cpp continues by default.
        self.continue_final_message = continue_final_message
        self._headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": "culturalign"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._path = urlsplit(self.base_url).path
        self._http = _Connections(self.base_url, timeout)

    def _send(
        self, method: str, path: str, body: dict | None = None, timeout: float | None = None
    ) -> tuple[int, bytes]:
        """One request; every way the server can fail to answer becomes a ModelError naming its URL."""
        data = json.dumps(body).encode() if body is not None else None
        try:
            return self._http.request(method, self._path + path, data, self._headers, timeout)
        except ConnectionRefusedError:
            raise ModelError(
                f"cannot reach the model server at {self.base_url}: connection refused. "
                "Is it running, and is the URL right?"
            ) from None
        except TimeoutError:
            raise ModelError(f"the model server at {self.base_url} did not answer in time") from None
        except (OSError, http.client.HTTPException) as exc:
            raise ModelError(
                f"the model server at {self.base_url} did not answer ({exc.__class__.__name__}: {exc}). "
                "Is it running, and is the URL right? Answers received so far are cached: run the "
                "same command again to resume"
            ) from None

    def _post(self, path: str, body: dict, refused: str = "") -> dict:
        """POST with retries on a busy server; an HTTP error names the URL, and ``refused`` says what to change."""
        url = self.base_url + path
        for attempt in range(4):
            status, data = self._send("POST", path, body)
            if status in (429, 502, 503) and attempt < 3:
                time.sleep(0.5 * 2**attempt)  # busy or loading: back off and retry
                continue
            if status >= 400:
                raise ModelError(
                    f"{url} answered HTTP {status}: {data[:300].decode(errors='replace')}"
                    + _refused_logprobs(status, data, body)
                    + refused
                )
            try:
                return json.loads(data)
            except ValueError:
                raise ModelError(f"{url} answered something that is not JSON: {data[:200]!r}") from None
        raise AssertionError("unreachable")

    def _body(self, prompt: Prompt, **settings) -> tuple[str, dict]:
        body = {"model": self.model, **settings}
        if self.style == "completion":
            return "/completions", {**body, "prompt": prompt.completion_text()}
        body["messages"] = prompt.messages()
        if prompt.prefill and self.continue_final_message:
            body.update(continue_final_message=True, add_generation_prompt=False)
        return "/chat/completions", body

    def top_logprobs(self, prompt: Prompt, k: int = 20) -> Reply:
        path, body = self._body(prompt, max_tokens=1, temperature=0.0)
        if path == "/completions":
            body["logprobs"] = k
        else:
            body.update(logprobs=True, top_logprobs=k)
        return read_openai(self._post(path, body), "top_logprobs", self.style, self.base_url + path, k)

    def generate(self, prompt: Prompt, *, temperature: float, max_tokens: int, seed: int, stop=None) -> Reply:
        path, body = self._body(
            prompt, max_tokens=max_tokens, temperature=temperature, seed=seed, **({"stop": list(stop)} if stop else {})
        )
        return read_openai(self._post(path, body), "generate", self.style, self.base_url + path)

    def embed(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, from ``/v1/embeddings``; a server that does not embed is a clear error."""
        refused = f" -- the server does not serve embeddings for {self.model!r}. {EMBEDDINGS_HELP}"
        data = self._post("/embeddings", {"model": self.model, "input": list(texts)}, refused)
        return read_embeddings(data, len(texts), self.base_url + "/embeddings")

    def model_ids(self) -> list[str]:
        status, data = self._send("GET", "/models", timeout=min(5.0, self._http.timeout))
        if status >= 400:
            raise ModelError(f"cannot reach the model server at {self.base_url}: /models answered HTTP {status}")
        try:
            return [m.get("id") for m in json.loads(data).get("data", [])]
        except (ValueError, AttributeError):
            raise ModelError(f"{self.base_url}/models answered something that is not a model list") from None

    def close(self) -> None:
        self._http.close()


class OllamaClient:
    """A model on an Ollama server, through the official ``ollama`` client (logprobs need Ollama >= 0.12.11).
    Making one asks the server for the model's digest: an unreachable server or an unpulled model fails here."""

    def __init__(self, url: str, model: str, *, style: str = "chat", timeout: float = 600.0, parallel: int = 4):
        import ollama

        self.url, self.model, self.style, self.parallel = url.rstrip("/"), model, style, parallel
        self._client = ollama.Client(host=self.url, timeout=timeout)
        self.identity, self.endpoint = f"ollama:{model}@{self.digest()}", self.url
        self.base_url = openai_base(self.url)  # Ollama's OpenAI-compatible API, for DSPy

    def _call(self, fn, **kwargs):
        import ollama

        try:
            return fn(**kwargs)
        except ConnectionError:
            raise ModelError(f"cannot reach Ollama at {self.url}: is `ollama serve` running there?") from None
        except ollama.ResponseError as exc:
            raise ModelError(f"Ollama at {self.url} refused model {self.model!r}: {exc.error}") from None
        except httpx.HTTPError as exc:
            raise ModelError(f"cannot reach Ollama at {self.url}: {exc.__class__.__name__}") from None

    def _where(self) -> str:
        """The endpoint a reply came from, for messages (the ollama package posts to /api/chat or /api/generate)."""
        return f"Ollama at {self.url}/api/{'generate' if self.style == 'completion' else 'chat'}"

    def _request(self, prompt: Prompt, options: dict, **extra):
        if self.style == "completion":
            return self._call(
                self._client.generate,
                model=self.model,
                prompt=prompt.completion_text(),
                raw=True,
                options=options,
                **extra,
            )
        return self._call(self._client.chat, model=self.model, messages=prompt.messages(), options=options, **extra)

    def top_logprobs(self, prompt: Prompt, k: int = 20) -> Reply:
        resp = self._request(prompt, {"temperature": 0, "num_predict": 1}, logprobs=True, top_logprobs=k)
        return read_ollama(resp, "top_logprobs", self.style, self._where(), k)

    def generate(self, prompt: Prompt, *, temperature: float, max_tokens: int, seed: int, stop=None) -> Reply:
        options = {"temperature": temperature, "num_predict": max_tokens, "seed": seed}
        resp = self._request(prompt, {**options, **({"stop": list(stop)} if stop else {})})
        return read_ollama(resp, "generate", self.style, self._where())

    def embed(self, texts: list[str]) -> list[list[float]]:
        resp = self._call(self._client.embed, model=self.model, input=list(texts))
        vectors = [list(v) for v in (resp.get("embeddings") or [])]
        rows = {"data": [{"index": i, "embedding": v} for i, v in enumerate(vectors)]}
        return read_embeddings(rows, len(texts), f"Ollama at {self.url}/api/embed")

    def digest(self) -> str:
        listing = self._call(self._client.list)
        for entry in listing.get("models", []):
            if entry.get("model") in (self.model, f"{self.model}:latest"):
                return entry.get("digest") or ""
        raise ModelError(f"Ollama at {self.url} has no model {self.model!r}; run `ollama pull {self.model}`")

    def close(self) -> None:
        pass  # the ollama package keeps no connections worth closing between runs

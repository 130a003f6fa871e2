"""A scripted model client for tests: no server, no model, the providers' real response parsers.

Script raw provider responses (what an OpenAI-compatible server or Ollama would send) and the client reads
each with that provider's own parser, so a test exercises the parsing and the session's caching exactly as a
run would::

    client = MockClient(lambda kind, prompt, settings: openai_top({"1": -0.2, "2": -1.8}))
    session = ModelSession(client=client, cache=AnswerCache(tmp_path / "answers.sqlite"))

A script is a callable ``(kind, prompt, settings) -> response`` (``kind``: ``top_logprobs`` or ``generate``)
or a list of responses taken in order. A response may also be a :class:`Reply` (used as it is) or an
exception (raised). Every call is recorded in ``calls``.
"""

from __future__ import annotations

import math
import threading

from ..errors import ModelError
from .clients import Prompt, Reply, read_ollama, read_openai

WIRES = {"openai": read_openai, "ollama": read_ollama}


class MockClient:
    def __init__(
        self,
        script,
        *,
        wire: str = "openai",
        style: str = "chat",
        identity: str = "mock",
        endpoint: str = "mock",
        parallel: int = 1,
        base_url: str = "http://mock.invalid/v1",
    ):
        if wire not in WIRES:
            raise ModelError(f"wire must be one of {', '.join(WIRES)}, got {wire!r}")
        self.script, self.wire, self.style, self.parallel = script, wire, style, parallel
        self.identity, self.endpoint, self.base_url = identity, endpoint, base_url
        self.calls: list[tuple[str, Prompt, dict]] = []
        self._lock = threading.Lock()  # sessions call from worker threads

    def _answer(self, kind: str, prompt: Prompt, settings: dict) -> Reply:
        with self._lock:
            self.calls.append((kind, prompt, settings))
            if callable(self.script):
                response = self.script(kind, prompt, settings)
            elif len(self.calls) <= len(self.script):
                response = self.script[len(self.calls) - 1]
            else:
                raise ModelError(
                    f"the mock's script has {len(self.script)} responses; call {len(self.calls)} asked for one more"
                )
        if isinstance(response, BaseException):
            raise response
        if isinstance(response, Reply):
            return response
        return WIRES[self.wire](response, kind, self.style, f"mock {self.wire} server")

    def top_logprobs(self, prompt: Prompt, k: int = 20) -> Reply:
        return self._answer("top_logprobs", prompt, {"k": k})

    def generate(self, prompt: Prompt, *, temperature: float, max_tokens: int, seed: int, stop=None) -> Reply:
        return self._answer(
            "generate",
            prompt,
            {"temperature": temperature, "max_tokens": max_tokens, "seed": seed, "stop": list(stop or ())},
        )

    def close(self) -> None:
        pass


# Raw responses in each provider's shape, for scripts: ``probs`` maps a token to its probability.


def openai_top(probs: dict[str, float], style: str = "chat") -> dict:
    """An OpenAI-compatible logprobs response (chat, or llama.cpp's completions shape)."""
    top = [{"token": t, "logprob": math.log(p)} for t, p in probs.items()]
    return {
        "choices": [{"logprobs": {"content": [{"top_logprobs": top}]}, **_text_part("", style)}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 1},
    }


def openai_text(text: str, style: str = "chat") -> dict:
    return {"choices": [_text_part(text, style)], "usage": {"prompt_tokens": 10, "completion_tokens": 1}}


def _text_part(text: str, style: str) -> dict:
    return {"text": text} if style == "completion" else {"message": {"role": "assistant", "content": text}}


def ollama_top(probs: dict[str, float]) -> dict:
    top = [{"token": t, "logprob": math.log(p)} for t, p in probs.items()]
    return {
        "message": {"role": "assistant", "content": ""},
        "logprobs": [{"top_logprobs": top}],
        "prompt_eval_count": 10,
        "eval_count": 1,
    }


def ollama_text(text: str, style: str = "chat") -> dict:
    part = {"response": text} if style == "completion" else {"message": {"role": "assistant", "content": text}}
    return {**part, "prompt_eval_count": 10, "eval_count": 1}

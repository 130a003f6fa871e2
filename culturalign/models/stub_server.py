"""A stub OpenAI-compatible server, FOR TESTS AND BENCHMARKS ONLY: it is no model, and its answers must never
stand in for one in a result.

It answers ``GET /v1/models``, ``POST /v1/chat/completions``, ``POST /v1/completions`` and ``POST /v1/embeddings``
in the JSON shapes llama.cpp's server returns (chat: ``logprobs.content[0].top_logprobs``; completions: the same
``content`` list, or OpenAI's legacy ``top_logprobs`` dicts with ``legacy=True``) with fixed, valid log-probabilities:
the digits "1".."9", "0" and ten other tokens at probabilities 1/2, 1/4, ..., rotated by a hash of the prompt, so
every prompt has its own, reproducible answer. Each reply waits ``latency`` seconds first; requests are served
concurrently (asyncio, one task per connection, HTTP/1.1 keep-alive) on 127.0.0.1 at a free port.
``GET /stats`` counts requests, the most in flight at once and the requests per path (``?reset=1`` zeroes them).

It is stdlib only and runs as a script, in its own process, so a benchmark measures the client, not the stub:

    python culturalign/models/stub_server.py --latency-ms 50 [--port P] [--model stub] [--legacy]

:class:`StubServer` starts that process (and stops or kills it) from Python.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import subprocess
import sys
import time
from urllib.parse import urlsplit

TOKENS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "0", " ", "\n", "I", "The", "As", "-", "*", "My", "No", ".")


def top_tokens(seed: bytes, k: int) -> list[tuple[str, float]]:
    """The fixed top-k of a prompt: TOKENS rotated by the prompt's hash, at probabilities 1/2, 1/4, ..."""
    shift = hashlib.sha256(seed).digest()[0] % 10  # rotate the digits only: the top token is always a digit
    digits = TOKENS[shift:10] + TOKENS[:shift]
    return [(tok, -(i + 1) * math.log(2)) for i, tok in enumerate((digits + TOKENS[10:])[: max(1, k)])]


def embeddings_body(body: bytes, model: str) -> tuple[int, dict]:
    """``/v1/embeddings`` as llama.cpp answers it: 8 numbers per text, a pure function of the text."""
    try:
        texts = json.loads(body)["input"]
    except (ValueError, KeyError, TypeError):
        return 400, {"error": {"code": 400, "message": "'input' is required", "type": "invalid_request_error"}}
    texts = [texts] if isinstance(texts, str) else texts
    rows = [
        {
            "object": "embedding",
            "index": i,
            "embedding": [b / 255 - 0.5 for b in hashlib.sha256(t.encode()).digest()[:8]],
        }
        for i, t in enumerate(texts)
    ]
    return 200, {"object": "list", "model": model, "data": rows, "usage": {"prompt_tokens": len(texts)}}


def _token_entry(tok: str, logprob: float) -> dict:
    return {"id": TOKENS.index(tok), "token": tok, "bytes": list(tok.encode()), "logprob": logprob}


def completion_body(path: str, request: dict, model: str, legacy: bool = False) -> dict:
    """The reply llama.cpp's server would give to ``request`` at ``path``, with the stub's fixed tokens."""
    chat = path.endswith("/chat/completions")
    prompt = request.get("messages") if chat else request.get("prompt")
    seed = json.dumps(prompt, sort_keys=True).encode()
    if chat:
        k = int(request.get("top_logprobs") or 0) if request.get("logprobs") else 0
    else:
        k = int(request.get("logprobs") or request.get("n_probs") or 0)
    top = top_tokens(seed, max(k, 1))
    max_tokens = int(request.get("max_tokens") or 1)
    text = top[0][0] * min(max_tokens, 1)
    n_prompt = max(1, len(seed) // 4)
    usage = {
        "completion_tokens": len(text),
        "prompt_tokens": n_prompt,
        "total_tokens": n_prompt + len(text),
        "prompt_tokens_details": {"cached_tokens": 0},
    }
    timings = {
        "cache_n": 0,
        "prompt_n": n_prompt,
        "prompt_ms": 0.0,
        "prompt_per_token_ms": 0.0,
        "prompt_per_second": 0.0,
        "predicted_n": len(text),
        "predicted_ms": 0.0,
        "predicted_per_token_ms": 0.0,
        "predicted_per_second": 0.0,
    }
    choice = {"finish_reason": "length", "index": 0}
    if k:
        entries = [{**_token_entry(*top[0]), "top_logprobs": [_token_entry(t, lp) for t, lp in top]}]
        if chat or not legacy:
            choice["logprobs"] = {"content": entries}
        else:  # OpenAI's legacy completions format
            choice["logprobs"] = {
                "tokens": [top[0][0]],
                "token_logprobs": [top[0][1]],
                "top_logprobs": [dict(top)],
                "text_offset": [0],
            }
    if chat:
        choice["message"] = {"role": "assistant", "content": text}
    else:
        choice["text"] = text
    return {
        "choices": [choice],
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "stub",
        "object": "chat.completion" if chat else "text_completion",
        "usage": usage,
        "id": "stub-0",
        "timings": timings,
    }


class _Stub:
    def __init__(self, latency: float, model: str, legacy: bool):
        self.latency, self.model, self.legacy = latency, model, legacy
        self.reset()

    def reset(self) -> None:
        self.requests, self.in_flight, self.max_concurrent, self.by_path = 0, 0, 0, {}

    async def respond(self, method: str, target: str, body: bytes) -> tuple[int, dict]:
        url = urlsplit(target)
        path = url.path.rstrip("/")
        if method == "GET" and path == "/stats":
            stats = {
                "requests": self.requests,
                "in_flight": self.in_flight,
                "max_concurrent": self.max_concurrent,
                "by_path": self.by_path,
            }
            if "reset=1" in url.query:
                self.reset()
            return 200, stats
        if method == "GET" and path == "/health":
            return 200, {"status": "ok"}
        if method == "GET" and path in ("/v1/models", "/models"):
            return 200, {"object": "list", "data": [{"id": self.model, "object": "model", "owned_by": "stub"}]}
        if method != "POST" or not path.endswith(("/chat/completions", "/completions", "/embeddings")):
            return 404, {"error": {"code": 404, "message": "File Not Found", "type": "not_found_error"}}
        self.requests += 1
        self.by_path[path] = self.by_path.get(path, 0) + 1
        if path.endswith("/embeddings"):
            return embeddings_body(body, self.model)
        self.in_flight += 1
        self.max_concurrent = max(self.max_concurrent, self.in_flight)
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            try:
                request = json.loads(body)
            except ValueError:
                return 400, {"error": {"code": 400, "message": "invalid JSON", "type": "invalid_request_error"}}
            return 200, completion_body(path, request, self.model, self.legacy)
        finally:
            self.in_flight -= 1

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
                body = await reader.readexactly(int(headers.get("content-length", 0)))
                status, reply = await self.respond(method, target, body)
                data = json.dumps(reply).encode()
                close = headers.get("connection", "").lower() == "close"
                writer.write(
                    b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                    b"Connection: %s\r\n\r\n"
                    % (status, b"OK" if status == 200 else b"Error", len(data), b"close" if close else b"keep-alive")
                    + data
                )
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass  # the client went away or spoke something else
        finally:
            writer.close()


async def _serve(port: int, latency: float, model: str, legacy: bool) -> None:
    stub = _Stub(latency, model, legacy)
    server = await asyncio.start_server(stub.handle, "127.0.0.1", port, backlog=1024)
    print(f"stub serving at http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1", flush=True)
    async with server:
        await server.serve_forever()


def main(argv=None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description="Stub OpenAI-compatible server for tests and benchmarks (no model).")
    ap.add_argument("--port", type=int, default=0, help="0: a free port (printed on the first line)")
    ap.add_argument("--latency-ms", type=float, default=0.0)
    ap.add_argument("--model", default="stub")
    ap.add_argument("--legacy", action="store_true", help="completions in OpenAI's legacy logprobs format")
    args = ap.parse_args(argv)
    try:
        asyncio.run(_serve(args.port, args.latency_ms / 1000, args.model, args.legacy))
    except KeyboardInterrupt:
        pass


class StubServer:
    """The stub in its own process: ``with StubServer(latency=0.05) as stub: ... stub.base_url, stub.stats()``."""

    def __init__(self, latency: float = 0.0, *, model: str = "stub", legacy: bool = False, port: int = 0):
        self.latency, self.model, self.legacy, self.port = latency, model, legacy, port
        self.proc: subprocess.Popen | None = None
        self.base_url = ""

    def start(self) -> "StubServer":
        cmd = [
            sys.executable,
            __file__,
            "--port",
            str(self.port),
            "--latency-ms",
            str(self.latency * 1000),
            "--model",
            self.model,
        ] + (["--legacy"] if self.legacy else [])
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()  # printed once the socket listens
        if not line.startswith("stub serving at "):
            self.kill()
            raise RuntimeError(f"the stub server did not start: {line!r}")
        self.base_url = line.split()[-1]
        self.port = int(urlsplit(self.base_url).port)
        return self

    def stats(self, reset: bool = False) -> dict:
        import urllib.request

        root = self.base_url.removesuffix("/v1")
        with urllib.request.urlopen(f"{root}/stats{'?reset=1' if reset else ''}", timeout=10) as resp:
            return json.load(resp)

    def kill(self) -> None:
        """Stop the process at once, as a crashed server would (connections drop mid-request)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    stop = kill

    def __enter__(self) -> "StubServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.kill()


if __name__ == "__main__":
    main()

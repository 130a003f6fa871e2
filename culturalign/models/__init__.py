"""Models: the registry of named specs, the provider table, clients (one interface, a scripted mock for tests),
embedded llama.cpp serving, and cached sessions."""

from .clients import ModelClient, Prompt, Reply
from .embedded import EmbeddedServer, cache_dir, gguf_path
from .mock import MockClient
from .registry import ModelSpec, get_spec, load_registry
from .session import ModelSession

__all__ = [
    "MockClient",
    "ModelClient",
    "ModelSession",
    "ModelSpec",
    "EmbeddedServer",
    "Prompt",
    "Reply",
    "cache_dir",
    "get_spec",
    "gguf_path",
    "load_registry",
]

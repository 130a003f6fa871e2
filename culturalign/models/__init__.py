"""Models: the registry of named specs, embedded llama.cpp serving, clients, and cached sessions."""
from .clients import Prompt, Reply
from .embedded import EmbeddedServer, cache_dir, gguf_path
from .registry import ModelSpec, get_spec, load_registry
from .session import ModelSession

__all__ = ["ModelSession", "ModelSpec", "EmbeddedServer", "Prompt", "Reply", "cache_dir", "get_spec",
           "gguf_path", "load_registry"]

"""One registry class for everything users can add to by name: item types, programs, providers, objectives,
optimizers, report figures, task kinds and commands (``culturalign.extend`` has the public ``register_*`` functions).

An entry is an object or a lazy ``"package.module:attribute"`` target, imported on first use, so listing names
(for ``--help`` and every ``click.Choice``) never imports what the entries need. A name is registered once:
registering it again is refused with a clear error unless ``replace=True`` asks for it."""

from __future__ import annotations

import importlib
from typing import Generic, Iterator, TypeVar

from .errors import CulturalignError

T = TypeVar("T")


class Registry(Generic[T]):
    """Named entries of one kind. ``what`` names the kind in messages ("program", "objective", ...);
    ``extensible``: installed extensions (``culturalign.plugins``) are loaded before a look-up or a listing."""

    def __init__(
        self,
        what: str,
        entries: dict[str, T | str] | None = None,
        *,
        extensible: bool = False,
        error: type[CulturalignError] = CulturalignError,
    ):
        self.what = what
        self.extensible = extensible
        self.error = error
        self._entries: dict[str, T | str] = {}
        for name, entry in (entries or {}).items():
            self.register(name, entry)

    def register(self, name: str, entry: T | str, *, replace: bool = False) -> T | str:
        """Add ``entry`` (or a ``"module:attribute"`` target) under ``name``; returns ``entry``, so a class can be
        registered where it is defined."""
        if not isinstance(name, str) or not name.strip() or name != name.strip():
            raise self.error(
                f"a name in the {self.what} registry must be non-empty text without surrounding spaces, got {name!r}"
            )
        if isinstance(entry, str) and entry.count(":") != 1:
            raise self.error(f"{self.what} {name!r}: a lazy target is 'package.module:attribute', got {entry!r}")
        old = self._entries.get(name)
        if old is not None and old is not entry and not replace:
            article = "an" if self.what[0] in "aeiou" else "a"
            raise self.error(
                f"{article} {self.what} named {name!r} is already registered ({_label(old)}); choose another "
                "name, or pass replace=True to replace it"
            )
        self._entries[name] = entry
        return entry

    def unregister(self, name: str) -> None:
        """Remove ``name`` (tests and notebooks that register something for a while)."""
        if self._entries.pop(name, None) is None:
            raise self.error(f"no {self.what} named {name!r} is registered")

    def get(self, name: str) -> T:
        """The entry named ``name``, imported if it was registered lazily; an unknown name lists the known ones."""
        self._load_extensions()
        if not isinstance(name, str) or name not in self._entries:
            raise self.error(f"unknown {self.what} {name!r}; registered: {', '.join(self.names())}")
        entry = self._entries[name]
        if isinstance(entry, str):
            module, attr = entry.split(":")
            entry = self._entries[name] = getattr(importlib.import_module(module), attr)
        return entry

    def names(self) -> list[str]:
        """Every registered name, in registration order (extensions' last)."""
        self._load_extensions()
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        self._load_extensions()
        return isinstance(name, str) and name in self._entries  # a hostile file may name a list

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def _load_extensions(self) -> None:
        if self.extensible:
            from . import plugins

            plugins.load()

    def __repr__(self) -> str:
        return f"Registry({self.what!r}, {list(self._entries)})"


def _label(entry) -> str:
    if isinstance(entry, str):
        return entry
    return f"{getattr(entry, '__module__', '?')}.{getattr(entry, '__qualname__', type(entry).__qualname__)}"

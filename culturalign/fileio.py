"""Atomic file writes: a reader sees the old file or the new one, never half of it."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable, Union

Payload = Union[str, bytes, Callable]


def atomic_write(path, data: Payload, mode: int = 0o644) -> Path:
    """Write ``data`` (text, bytes, or a callable that writes to a binary file handle) to ``path`` via a
    temporary file in the same directory and a rename; a failure leaves any previous file untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            if callable(data):
                data(fh)
            else:
                fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(tmp, mode)  # mkstemp creates 0600; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path

"""Is each registered model usable right now? Cheap checks only: nothing is loaded or assembled."""

from __future__ import annotations

import pandas as pd

from .providers import readiness
from .registry import load_registry

__all__ = ["model_table", "readiness"]


def model_table() -> pd.DataFrame:
    specs, default = load_registry()
    rows = []
    for name, spec in specs.items():
        ok, status = readiness(spec)
        rows.append(
            {
                "model": name + (" (default)" if name == default else ""),
                "provider": spec.provider,
                "style": spec.style,
                "ready": ok,
                "status": status,
            }
        )
    return pd.DataFrame(rows)

"""Progress of long, open-ended runs (compiles): countries answered, rate, model calls, cache reuse.

An optimizer decides as it goes how many programs it tries, so there is no honest ETA for a compile; the
line shows what is known (elapsed time, countries answered and their rate, model calls, cache reuse).
"""

from __future__ import annotations

import sys
import threading
import time


class CompileProgress:
    def __init__(self, session, stream=None, every: float = 5.0, unit: str = "countries answered"):
        self.session, self.stream, self.every, self.unit = session, stream or sys.stderr, every, unit
        self.start = time.monotonic()
        self.countries = 0
        self._last = 0.0
        self._lock = threading.Lock()

    def __call__(self, country: str) -> None:
        with self._lock:
            self.countries += 1
            now = time.monotonic()
            if now - self._last >= self.every:
                self._last = now
                self.stream.write(self.line(country) + "\n")
                self.stream.flush()

    def line(self, country: str = "") -> str:
        u = self.session.usage
        elapsed = time.monotonic() - self.start
        rate = self.countries / elapsed * 60 if elapsed else 0.0
        return (
            f"[compile {elapsed / 60:5.1f} min] {self.countries} {self.unit} ({rate:.1f}/min, last: "
            f"{country}); {u.calls} model calls, {u.cache_hits} answers reused from the cache"
        )

"""Failed sign-in attempts per client address and per user name, in a sliding window.

Kept in memory: each web replica limits on its own, which bounds guessing to replicas times the limit.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque


class LoginLimiter:
    def __init__(self, max_failures: int, window_seconds: float) -> None:
        self._max = max_failures
        self._window = window_seconds
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def _prune(self, key: str, now: float) -> deque[float]:
        times = self._failures[key]
        while times and now - times[0] > self._window:
            times.popleft()
        if not times:
            del self._failures[key]
            return deque()
        return times

    def retry_after(self, *keys: str) -> float:
        """Seconds until another attempt is allowed for all `keys` (0 when allowed now)."""
        now = time.monotonic()
        wait = 0.0
        for key in keys:
            times = self._prune(key, now)
            if len(times) >= self._max:
                wait = max(wait, self._window - (now - times[0]))
        return wait

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            self._failures[key].append(now)
        if len(self._failures) > 100_000:  # bounded memory under a spray of names
            for key in list(self._failures)[:50_000]:
                del self._failures[key]

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)

"""Sign-in attempts in a sliding window, counted before the password is checked.

An attempt is counted when it starts (check and count in one step, with no await between them), so
parallel tries cannot all pass a check that has not yet seen the others; a success takes its own
attempt back. Each key has its own limit: the pair (account, client address) is tight, so one person
guessing is stopped without locking the account for everybody else; the account and the address on
their own have a looser cap against guessing from many addresses or spraying many accounts.

Kept in memory: each web replica limits on its own, which bounds guessing to replicas times the limit.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence

Limit = tuple[str, int]  # (key, attempts allowed per window)


class LoginLimiter:
    def __init__(self, window_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._window = window_seconds
        self._clock = clock
        self._attempts: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._attempts.get(key)
        if times is None:
            return deque()
        while times and now - times[0] > self._window:
            times.popleft()
        if not times:
            del self._attempts[key]
            return deque()
        return times

    def begin(self, limits: Sequence[Limit]) -> tuple[float, float]:
        """(seconds to wait, 0 when allowed; the attempt's stamp). An allowed attempt is counted now."""
        now = self._clock()
        wait = 0.0
        for key, allowed in limits:
            times = self._recent(key, now)
            if len(times) >= allowed:
                wait = max(wait, self._window - (now - times[-allowed]))
        if wait > 0:
            return wait, now
        for key, _ in limits:
            self._attempts[key].append(now)
        if len(self._attempts) > 100_000:  # bounded memory under a spray of names
            for key in list(self._attempts)[:50_000]:
                del self._attempts[key]
        return 0.0, now

    def succeeded(self, limits: Sequence[Limit], stamp: float, forget: str | None = None) -> None:
        """Takes back the attempt begun at `stamp`; `forget` clears that key's failures entirely."""
        for key, _ in limits:
            times = self._attempts.get(key)
            if times is not None and stamp in times:
                times.remove(stamp)
                if not times:
                    del self._attempts[key]
        if forget is not None:
            self._attempts.pop(forget, None)

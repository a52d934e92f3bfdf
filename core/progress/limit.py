"""Per-student rate limit on progress reports: a token bucket per user, in this process's memory.

`per_min` tokens a minute flow into a bucket of `burst`; each report takes one, and an empty bucket answers
429 with Retry-After (the seconds until the next token). Each API worker keeps its own buckets, so with N
workers a student may get up to N times the limit through (keep-alive connections stay on one worker; a
sendBeacon opens a new connection, which may land on any): the limit stops a runaway player or a script,
it is not an exact quota. Buckets that have filled up again are dropped, so memory follows active students.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from core.errors import ErrorKind, TransientError

PRUNE_EVERY_S = 60.0


class TooManyReports(TransientError):
    """A student sent progress reports faster than LECTERN_PROGRESS_RATE_PER_MIN allows."""

    kind = ErrorKind.RETRYABLE

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimiter:
    def __init__(self, per_min: float, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_min / 60.0  # tokens a second
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[int, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()
        self._pruned_at = clock()

    def take(self, key: int) -> None:
        """One token of `key`'s bucket, or TooManyReports with the wait until the next one."""
        now = self.clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                wait = (1.0 - tokens) / self.rate
                raise TooManyReports(
                    f"too many progress reports: at most {self.rate * 60:g} a minute (LECTERN_PROGRESS_RATE_PER_MIN)",
                    retry_after=max(1, math.ceil(wait)),
                )
            self._buckets[key] = (tokens - 1.0, now)
            if now - self._pruned_at >= PRUNE_EVERY_S:
                self._prune(now)

    def _prune(self, now: float) -> None:
        full_after = self.burst / self.rate
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full_after}
        self._pruned_at = now

    def __len__(self) -> int:
        return len(self._buckets)

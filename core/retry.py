"""The one retry policy: which errors retry, how many times, how long to wait.

Only `TransientError` retries (429, 5xx, timeouts, connection failures); a `PermanentError` (any other
4xx) is raised at once, because the same request would fail the same way. Waits grow exponentially from
`base_s`, are capped at `cap_s`, and are jittered downwards by up to `jitter` (a fraction) so a fleet of
clients does not retry in lockstep. When the server names a wait (`Retry-After` on a 429) that wait is
used instead — up to `max_retry_after_s`, beyond which we give up rather than block a caller for minutes.

The sleep function and random source are injectable so tests can count waits without waiting.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from core.errors import MuxRateLimited, TransientError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_s: float = 0.5
    cap_s: float = 8.0
    jitter: float = 0.5
    respect_retry_after: bool = True
    max_retry_after_s: float = 60.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be >= 1")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("jitter is a fraction between 0 and 1")

    def backoff(self, retry_number: int, rand: float = 1.0) -> float:
        """Wait before retry number `retry_number` (1-based); `rand` in [0, 1] picks the jitter."""
        ceiling = min(self.cap_s, self.base_s * 2.0 ** (retry_number - 1))
        return ceiling * (1.0 - self.jitter * (1.0 - rand))

    def delay_for(self, error: TransientError, retry_number: int, rand: float = 1.0) -> float | None:
        """Seconds to wait before the next attempt, or None when the error's own wait is too long."""
        if isinstance(error, MuxRateLimited) and error.retry_after is not None and self.respect_retry_after:
            if error.retry_after > self.max_retry_after_s:
                return None
            return max(0.0, error.retry_after)
        return self.backoff(retry_number, rand)


DEFAULT_POLICY = RetryPolicy()


@dataclass
class Retrier:
    """Runs a call under a policy; `on_retry(error, retry_number, delay)` observes each retry."""

    policy: RetryPolicy = DEFAULT_POLICY
    sleep: Callable[[float], None] = time.sleep
    rand: Callable[[], float] = field(default=random.random)
    on_retry: Callable[[TransientError, int, float], None] | None = None

    def call(self, fn: Callable[[], T]) -> T:
        retry_number = 0
        while True:
            try:
                return fn()
            except TransientError as exc:
                retry_number += 1
                if retry_number >= self.policy.attempts:
                    raise
                delay = self.policy.delay_for(exc, retry_number, self.rand())
                if delay is None:
                    raise
                if self.on_retry is not None:
                    self.on_retry(exc, retry_number, delay)
                self.sleep(delay)

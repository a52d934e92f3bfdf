"""Client-side pacing of Mux calls, so a fleet of migration threads stays under Mux's rate limits.

MuxService already retries a 429 with backoff (core/retry.py); pacing keeps us from provoking them. Mux
has separate budgets for writes (historically ~1 create/s) and reads (~5 GET/s), so there are two token
buckets. The buckets are per process: with N worker processes, give each 1/N of the account's budget
(LECTERN_MIGRATION_MUX_CREATE_PER_S / LECTERN_MIGRATION_MUX_READ_PER_S).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

from core.mux.models import Asset, PlaybackId, Upload
from core.mux.service import MuxService
from core.retry import Retrier


class RateLimiter:
    """A thread-safe token bucket: `acquire()` blocks until a token is free and returns the seconds waited."""

    def __init__(
        self,
        per_s: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_s <= 0:
            raise ValueError("per_s must be positive")
        self.per_s = per_s
        self.burst = max(1.0, burst if burst is not None else per_s)
        self.clock = clock
        self.sleep = sleep
        self._tokens = self.burst
        self._at = clock()
        self._lock = threading.Lock()
        self.waited_s = 0.0

    def _reserve(self) -> float:
        with self._lock:
            now = self.clock()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.per_s)
            self._at = now
            # Take the token now even if it is in the future: callers queue up in arrival order.
            self._tokens -= 1.0
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.per_s
            self.waited_s += wait
            return wait

    def acquire(self) -> float:
        wait = self._reserve()
        if wait > 0:
            self.sleep(wait)
        return wait


class PacedMux:
    """The MuxService calls the migration makes, each taking a token from the write or read bucket first."""

    def __init__(self, mux: MuxService, *, create_per_s: float, read_per_s: float) -> None:
        self.mux = mux
        self.writes = RateLimiter(create_per_s)
        self.reads = RateLimiter(read_per_s)

    @property
    def retrier(self) -> Retrier:
        return self.mux.retrier

    def get_asset(self, asset_id: str) -> Asset:
        self.reads.acquire()
        return self.mux.get_asset(asset_id)

    def iter_assets(self, *, page_size: int = 100) -> Iterator[Asset]:
        # One token per list request. Pages are counted as Mux answers them, not by `page_size`: Mux may
        # cap `limit` below what was asked.
        pages = self.mux.iter_asset_pages(page_size=page_size)
        while True:
            self.reads.acquire()
            page = next(pages, None)
            if page is None:
                return
            yield from page

    def create_asset_from_url(
        self, url: str, *, passthrough: str, playback_policy: str, title: str | None, external_id: str | None
    ) -> Asset:
        self.writes.acquire()
        return self.mux.create_asset_from_url(
            url, passthrough=passthrough, playback_policy=playback_policy, title=title, external_id=external_id
        )

    def create_direct_upload(
        self, *, lesson_id: int, playback_policy: str, title: str | None, external_id: str | None
    ) -> Upload:
        self.writes.acquire()
        return self.mux.create_direct_upload(
            lesson_id=lesson_id, playback_policy=playback_policy, title=title, external_id=external_id
        )

    def get_direct_upload(self, upload_id: str) -> Upload:
        self.reads.acquire()
        return self.mux.get_direct_upload(upload_id)

    def create_playback_id(self, asset_id: str, policy: str) -> PlaybackId:
        self.writes.acquire()
        return self.mux.create_playback_id(asset_id, policy)

    def delete_asset(self, asset_id: str) -> None:
        self.writes.acquire()
        self.mux.delete_asset(asset_id)

"""Caps on long-lived event streams: at most `per_user` open per user and `total` per process.

Counted in this process (an API process serves its own connections); a stream takes a slot when it opens
and gives it back when it ends, however it ends (`StreamSlot.release` is idempotent).
"""

from __future__ import annotations

import threading
from collections import Counter

from core.errors import TooManyStreams

# What a refused client is told to wait: streams end within LECTERN_LESSON_EVENTS_MAX_S, and most far sooner.
RETRY_AFTER_S = 5


class StreamSlot:
    def __init__(self, slots: StreamSlots, user_id: int) -> None:
        self._slots = slots
        self.user_id = user_id
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._slots._release(self.user_id)


class StreamSlots:
    def __init__(self, *, per_user: int, total: int) -> None:
        self.per_user = per_user
        self.total = total
        self._open: Counter[int] = Counter()
        self._lock = threading.Lock()

    def acquire(self, user_id: int) -> StreamSlot:
        """A slot for one more stream of `user_id`; `TooManyStreams` when a cap is reached."""
        with self._lock:
            if self._open[user_id] >= self.per_user:
                raise TooManyStreams(
                    f"user {user_id} already has {self.per_user} event streams open; close one or retry later",
                    retry_after=RETRY_AFTER_S,
                )
            if self._open.total() >= self.total:
                raise TooManyStreams(
                    f"this server has {self.total} event streams open; retry later", retry_after=RETRY_AFTER_S
                )
            self._open[user_id] += 1
        return StreamSlot(self, user_id)

    def _release(self, user_id: int) -> None:
        with self._lock:
            self._open[user_id] -= 1
            if self._open[user_id] <= 0:
                del self._open[user_id]

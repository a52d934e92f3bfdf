"""Emulator time: wall clock plus an offset that tests move forward instead of sleeping."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Clock:
    def __init__(self, offset: float = 0.0) -> None:
        self._offset = offset
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    def now(self) -> float:
        return time.time() + self._offset

    @property
    def offset(self) -> float:
        return self._offset

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._offset += seconds
            listeners = list(self._listeners)
        for listener in listeners:
            listener()
        return self.now()

    def set_offset(self, offset: float) -> None:
        with self._lock:
            self._offset = offset

    def on_advance(self, listener: Callable[[], None]) -> None:
        """Run `listener` after every advance (timeouts must fire at once, not at the next sweep)."""
        with self._lock:
            self._listeners.append(listener)

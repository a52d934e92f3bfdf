"""Request counters per route template and status (tests use them to spot duplicate calls)."""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))

    def record(self, key: str, status: int) -> None:
        with self._lock:
            self._requests[key][status] += 1

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                key: {"count": sum(by_status.values()), "by_status": {str(k): v for k, v in by_status.items()}}
                for key, by_status in sorted(self._requests.items())
            }

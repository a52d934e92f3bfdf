"""Waiting in tests: on a condition, polled, with a deadline; never a fixed sleep that hopes the work is done."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

POLL_S = 0.05  # short next to every wait in the suite, long enough not to fight the code under test for the GIL


def wait_until(
    predicate: Callable[[], T], timeout: float = 30.0, interval: float = POLL_S, what: str = "condition"
) -> T:
    """Poll `predicate` until it returns something truthy and return that; TimeoutError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not met within {timeout} s")
        time.sleep(interval)

"""Password checks: one scrypt verification for every failure kind, malformed hashes, the concurrency cap."""

from __future__ import annotations

import statistics
import threading
import time

import pytest

from core.passwords import HashingBusy, HashingSlots, check_password, hash_password, verify_password


def test_hash_and_verify() -> None:
    stored = hash_password("correct horse")
    assert verify_password("correct horse", stored)
    assert not verify_password("wrong", stored)
    assert check_password("correct horse", stored)


@pytest.mark.parametrize(
    "stored",
    ["!", "", "scrypt$x$8$1$AAAA$AAAA", "scrypt$3$8$1$AAAA$AAAA", "scrypt$32768$8$1$***$AAAA",
     "scrypt$1073741824$8$1$AAAA$AAAA", "bcrypt$whatever"],
)  # fmt: skip
def test_unusable_or_malformed_hashes_never_match_and_never_raise(stored: str) -> None:
    assert not verify_password("anything", stored)
    assert not check_password("anything", stored)


def _median_s(stored: str | None, tries: int = 5) -> float:
    times = []
    for _ in range(tries):
        start = time.perf_counter()
        check_password("guess", stored)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def test_every_failure_kind_takes_one_full_check() -> None:
    real = hash_password("correct horse")
    weak = "scrypt$1024$8$1$c2FsdHNhbHRzYWx0c2FsdA==$ZGlnZXN0ZGlnZXN0ZGlnZXN0ZGlnZXN0"
    check_password("warm", None)  # builds the dummy hash once
    slow = _median_s(real)
    # Medians over a few tries, compared as a ratio: a loaded machine slows all kinds alike. Before the dummy
    # check an unusable hash answered in ~0.4 ms against ~75 ms for a wrong password.
    for stored in (None, "!", "scrypt$nonsense", weak):
        assert _median_s(stored) > 0.5 * slow, stored


def test_slots_cap_concurrent_checks_and_answer_busy() -> None:
    slots = HashingSlots(max_concurrent=1, wait_s=0.05)
    inside = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with slots.slot():
            inside.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    assert inside.wait(5)
    started = time.monotonic()
    with pytest.raises(HashingBusy, match="busy"), slots.slot():
        pass
    assert time.monotonic() - started < 1.0  # waits its wait_s, not for the queue
    release.set()
    holder.join(5)
    with slots.slot():  # free again
        pass

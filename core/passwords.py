"""Password hashing with scrypt (stdlib), stored as `scrypt$n$r$p$salt_b64$hash_b64`.

`check_password` always spends one scrypt verification, also for accounts without a usable hash (checked
against a dummy hash), so a sign-in's timing never tells an unusable account from a wrong password.
`HashingSlots` caps how many checks run at once in a process: each costs ~80 ms of a core, and a flood of
sign-ins must get "busy, try again" rather than a queue that grows without bound.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from core.errors import ErrorKind, TransientError

# OWASP's scrypt floor (N=2^17, r=8, p=1) costs ~0.3 s here; 2^15 keeps sign-in snappy on 2 cores while
# staying far above what a leaked table can be brute-forced with. Stored per hash, so it can rise later.
_N, _R, _P = 2**15, 8, 1
_MAXMEM = 128 * _N * _R * 2
UNUSABLE = "!"
# A stored hash asking for more than this (n*r*p) is treated as unusable instead of costing seconds or GBs.
_MAX_WORK = 2**20 * 8


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, maxmem=_MAXMEM)
    return "$".join(
        [
            "scrypt",
            str(_N),
            str(_R),
            str(_P),
            base64.b64encode(salt).decode(),
            base64.b64encode(digest).decode(),
        ]
    )


def _parse(stored: str) -> tuple[int, int, int, bytes, bytes] | None:
    """The scrypt parameters, salt and digest of a stored hash; None when it is not one we can check."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return None
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, expected = base64.b64decode(parts[4], validate=True), base64.b64decode(parts[5], validate=True)
    except (ValueError, binascii.Error):
        return None
    if n < 2 or n & (n - 1) or r < 1 or p < 1 or n * r * p > _MAX_WORK or not salt or not expected:
        return None
    return n, r, p, salt, expected


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches; accounts marked unusable (or malformed hashes) never match."""
    parsed = _parse(stored)
    if parsed is None:
        return False
    n, r, p, salt, expected = parsed
    try:
        digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=128 * n * r * 2 + 1024 * 1024)
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(digest, expected)


@functools.cache
def _dummy_hash() -> str:
    # Built on first use, not at import (scrypt costs ~80 ms); same parameters as every new hash.
    return hash_password(secrets.token_urlsafe(16))


def check_password(password: str, stored: str | None) -> bool:
    """`verify_password`, but always one full scrypt check: a missing or unusable hash is checked against a
    dummy one (and fails), so every failure takes the same time."""
    parsed = _parse(stored) if stored is not None else None
    if stored is None or parsed is None:
        verify_password(password, _dummy_hash())
        return False
    n, r, p = parsed[:3]
    if n * r * p < _N * _R * _P:
        verify_password(password, _dummy_hash())  # a legacy cheaper hash must not answer faster either
    return verify_password(password, stored)


class HashingBusy(TransientError):
    """Every password-check slot stayed taken for the whole wait; the caller should say "try again"."""

    kind = ErrorKind.RETRYABLE

    def __init__(self) -> None:
        super().__init__("Sign-in is busy right now. Try again in a few seconds.")


class HashingSlots:
    """At most `max_concurrent` password checks at once in this process; a caller waits at most `wait_s`."""

    def __init__(self, max_concurrent: int, wait_s: float) -> None:
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self.max_concurrent = max_concurrent
        self.wait_s = wait_s

    @contextmanager
    def slot(self) -> Iterator[None]:
        if not self._slots.acquire(timeout=self.wait_s):
            raise HashingBusy()
        try:
            yield
        finally:
            self._slots.release()

"""Password hashing with scrypt (stdlib), stored as `scrypt$n$r$p$salt_b64$hash_b64`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# OWASP's scrypt floor (N=2^17, r=8, p=1) costs ~0.3 s here; 2^15 keeps sign-in snappy on 2 cores while
# staying far above what a leaked table can be brute-forced with. Stored per hash, so it can rise later.
_N, _R, _P = 2**15, 8, 1
_MAXMEM = 128 * _N * _R * 2
UNUSABLE = "!"


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


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches; accounts marked unusable never match."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
    salt, expected = base64.b64decode(parts[4]), base64.b64decode(parts[5])
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=128 * n * r * 2)
    return hmac.compare_digest(digest, expected)

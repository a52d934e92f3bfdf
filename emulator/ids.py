"""Identifiers shaped like Mux's: long opaque alphanumeric strings."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def new_id(length: int = 44) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def asset_id() -> str:
    return new_id(44)


def playback_id() -> str:
    return new_id(40)


def upload_id() -> str:
    return new_id(40)


def track_id() -> str:
    return new_id(36)


def signing_key_id() -> str:
    return new_id(40)

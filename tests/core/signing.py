"""A throw-away RSA signing key shaped like the one Mux returns (base64 of a PKCS#1 PEM)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


@dataclass(frozen=True)
class TestSigningKey:
    key_id: str
    private_key_b64: str
    public_key: Any


@lru_cache(maxsize=1)
def signing_key() -> TestSigningKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    return TestSigningKey("test-kid", base64.b64encode(pem).decode(), key.public_key())

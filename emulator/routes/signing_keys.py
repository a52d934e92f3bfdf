"""Signing keys under /system/v1 and the deprecated /video/v1 aliases.

Keys are real 2048-bit RSA pairs. The private key (base64 of a PKCS#1 PEM) is shown once, on create;
the emulator keeps only the public half, which is all it needs to verify playback tokens.
"""

from __future__ import annotations

import base64
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter, Response

from emulator import ids, validation
from emulator.deps import Emu
from emulator.errors import not_found
from emulator.objects import epoch_string
from emulator.state import SigningKeyRecord

router = APIRouter()

PREFIXES = ("/system/v1/signing-keys", "/video/v1/signing-keys")


def _generate() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(private_pem).decode(), public_pem.decode()


def create_signing_key(emu: Emu) -> dict[str, Any]:
    private_b64, public_pem = _generate()
    data = {"id": ids.signing_key_id(), "created_at": epoch_string(emu.clock.now())}
    with emu.store.lock:
        emu.store.signing_keys[data["id"]] = SigningKeyRecord(
            data=data, seq=emu.store.next_seq(), public_pem=public_pem
        )
        emu.store.commit()
    return {"data": {**data, "private_key": private_b64}}


def list_signing_keys(emu: Emu, limit: int | None = None, page: int | None = None) -> dict[str, Any]:
    limit, page = validation.page_params(limit, page, max_limit=emu.config.max_page_limit)
    records = emu.store.signing_keys_oldest_first()
    start = (page - 1) * limit
    return {"data": [r.data for r in records[start : start + limit]]}


def get_signing_key(emu: Emu, signing_key_id: str) -> dict[str, Any]:
    record = emu.store.signing_key(signing_key_id)
    if record is None:
        raise not_found()
    return {"data": record.data}


def delete_signing_key(emu: Emu, signing_key_id: str) -> Response:
    with emu.store.lock:
        if emu.store.signing_keys.pop(signing_key_id, None) is None:
            raise not_found()
        emu.store.commit()
    return Response(status_code=204)


for _prefix in PREFIXES:
    router.add_api_route(_prefix, create_signing_key, methods=["POST"], status_code=201)
    router.add_api_route(_prefix, list_signing_keys, methods=["GET"])
    router.add_api_route(_prefix + "/{signing_key_id}", get_signing_key, methods=["GET"])
    router.add_api_route(_prefix + "/{signing_key_id}", delete_signing_key, methods=["DELETE"], status_code=204)

"""URL signing keys through the System API (`/system/v1/signing-keys`)."""

from __future__ import annotations

from collections.abc import Iterator

from core.mux.client import MuxBase, require
from core.mux.models import SigningKey, signing_key_from_sdk


class SigningKeysMixin(MuxBase):
    def create_signing_key(self) -> SigningKey:
        """A new key; its `private_key` (base64 PEM) is returned only now — store it."""
        resp = self._call("create signing key", self.signing_keys_api.create_signing_key)
        return signing_key_from_sdk(require(resp, "create signing key").data)

    def get_signing_key(self, key_id: str) -> SigningKey:
        resp = self._call("get signing key", self.signing_keys_api.get_signing_key, key_id)
        return signing_key_from_sdk(require(resp, "get signing key").data)

    def iter_signing_keys(self, *, page_size: int = 100) -> Iterator[SigningKey]:
        page = 1
        while True:
            resp = self._call("list signing keys", self.signing_keys_api.list_signing_keys, limit=page_size, page=page)
            items = require(resp, "list signing keys").data or []
            for item in items:
                yield signing_key_from_sdk(item)
            if len(items) < page_size:
                return
            page += 1

    def delete_signing_key(self, key_id: str) -> None:
        self._call("delete signing key", self.signing_keys_api.delete_signing_key, key_id)

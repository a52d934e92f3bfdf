"""URL signing keys through the System API (`/system/v1/signing-keys`)."""

from __future__ import annotations

from collections.abc import Iterator

from core.mux.client import MuxBase, require
from core.mux.models import SigningKey, signing_key_from_json, signing_key_from_sdk
from core.mux.pagination import PageNumberPaginator


class SigningKeysMixin(MuxBase):
    def create_signing_key(self) -> SigningKey:
        """A new key; its `private_key` (base64 PEM) is returned only now — store it."""
        resp = self._call("create signing key", self.signing_keys_api.create_signing_key)
        return signing_key_from_sdk(require(resp, "create signing key").data)

    def get_signing_key(self, key_id: str) -> SigningKey:
        resp = self._call("get signing key", self.signing_keys_api.get_signing_key, key_id)
        return signing_key_from_sdk(require(resp, "get signing key").data)

    def iter_signing_keys(self, *, page_size: int = 100) -> Iterator[SigningKey]:
        """Every key, walked by page number to the first empty page (the list carries no total)."""
        api = self.signing_keys_api
        for rows in self._walk("list signing keys", api.list_signing_keys, PageNumberPaginator(), limit=page_size):
            yield from (signing_key_from_json(row) for row in rows)

    def delete_signing_key(self, key_id: str) -> None:
        self._call("delete signing key", self.signing_keys_api.delete_signing_key, key_id)

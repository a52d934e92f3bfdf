"""MuxService: every Mux call Lectern makes, one object built from settings (or a given ApiClient)."""

from __future__ import annotations

from core.mux.assets import AssetsMixin
from core.mux.data import DataMixin
from core.mux.signing_keys import SigningKeysMixin
from core.mux.uploads import UploadsMixin


class MuxService(AssetsMixin, UploadsMixin, DataMixin, SigningKeysMixin):
    """`MuxService(settings, api_client=None, retry_policy=..., sleep=...)`; see `core.mux.client.MuxBase`."""

"""Assets: get, list (every page), delete, create from a URL, playback IDs."""

from __future__ import annotations

from collections.abc import Iterator

import mux_python

from core.mux.client import MuxBase, require
from core.mux.models import Asset, PlaybackId, asset_from_json, asset_from_sdk
from core.mux.pagination import CursorPaginator


class AssetsMixin(MuxBase):
    def get_asset(self, asset_id: str) -> Asset:
        """The asset as Mux sends it (raw JSON, so a status or field Mux added since the SDK is kept)."""
        return asset_from_json(self._raw_data("get asset", self.assets_api.get_asset, asset_id))

    def iter_asset_pages(self, *, page_size: int = 100, upload_id: str | None = None) -> Iterator[list[Asset]]:
        """Every asset, one list per request, walked by `next_cursor` (Mux's recommended way for assets)."""
        kwargs: dict[str, object] = {"limit": page_size}
        if upload_id:
            kwargs["upload_id"] = upload_id
        for rows in self._walk("list assets", self.assets_api.list_assets, CursorPaginator(), **kwargs):
            yield [asset_from_json(row) for row in rows]

    def iter_assets(self, *, page_size: int = 100, upload_id: str | None = None) -> Iterator[Asset]:
        """Every asset in the environment, newest first."""
        for page in self.iter_asset_pages(page_size=page_size, upload_id=upload_id):
            yield from page

    def list_assets(self, *, page_size: int = 100) -> list[Asset]:
        return list(self.iter_assets(page_size=page_size))

    def delete_asset(self, asset_id: str) -> None:
        self._call("delete asset", self.assets_api.delete_asset, asset_id)

    def create_asset_from_url(
        self,
        url: str,
        *,
        passthrough: str,
        playback_policy: str = "public",
        title: str | None = None,
        external_id: str | None = None,
    ) -> Asset:
        request = mux_python.CreateAssetRequest(
            inputs=[mux_python.InputSettings(url=url)],
            playback_policies=[playback_policy],
            passthrough=passthrough,
            video_quality=self.settings.mux_video_quality,
            meta=_meta(title, external_id),
        )
        resp = self._call("create asset", self.assets_api.create_asset, request)
        return asset_from_sdk(require(resp, "create asset").data)

    def create_playback_id(self, asset_id: str, policy: str) -> PlaybackId:
        request = mux_python.CreatePlaybackIDRequest(policy=policy)
        resp = self._call("create playback id", self.assets_api.create_asset_playback_id, asset_id, request)
        data = require(resp, "create playback id").data
        return PlaybackId(id=data.id, policy=str(data.policy))

    def delete_playback_id(self, asset_id: str, playback_id: str) -> None:
        self._call("delete playback id", self.assets_api.delete_asset_playback_id, asset_id, playback_id)


def _meta(title: str | None, external_id: str | None) -> mux_python.AssetMetadata | None:
    if title is None and external_id is None:
        return None
    # Mux caps title at 512 code points and external_id at 128.
    return mux_python.AssetMetadata(
        title=title[:512] if title else None, external_id=external_id[:128] if external_id else None
    )

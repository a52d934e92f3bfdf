"""Assets: get, list (every page), delete, create from a URL, playback IDs."""

from __future__ import annotations

from collections.abc import Iterator

import mux_python

from core.mux.client import MuxBase, require
from core.mux.models import Asset, PlaybackId, asset_from_sdk


class AssetsMixin(MuxBase):
    def get_asset(self, asset_id: str) -> Asset:
        resp = self._call("get asset", self.assets_api.get_asset, asset_id)
        return asset_from_sdk(require(resp, "get asset").data)

    def iter_assets(self, *, page_size: int = 100, upload_id: str | None = None) -> Iterator[Asset]:
        """Every asset, walking pages: by `next_cursor` when Mux gives one, else by page number."""
        page, cursor = 1, None
        seen_cursors: set[str] = set()
        while True:
            kwargs: dict[str, object] = {"limit": page_size}
            if cursor:
                kwargs["cursor"] = cursor
            else:
                kwargs["page"] = page
            if upload_id:
                kwargs["upload_id"] = upload_id
            resp = require(self._call("list assets", self.assets_api.list_assets, **kwargs), "list assets")
            items = resp.data or []
            for item in items:
                yield asset_from_sdk(item)
            next_cursor = resp.next_cursor
            if not items:
                return
            if next_cursor:
                # A server that repeats a cursor would loop forever; treat it as the end.
                if next_cursor in seen_cursors:
                    return
                seen_cursors.add(next_cursor)
                cursor = next_cursor
            elif len(items) < page_size or cursor:
                return
            else:
                page += 1

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

"""Where sync jobs get Mux data: small protocols, and their adapter over core's MuxService.

Jobs only see the protocols, so unit tests hand them a list-backed fake. The adapter reads video views
as raw JSON pages (`MuxService.iter_video_view_pages` / `video_view`) rather than SDK models, for two reasons:
the SDK's list model (`AbridgedVideoView`) keeps only 14 fields and silently drops the rest
(viewer_user_id, video_id, asset_id, playhead, startup time ...), and building ~190-attribute SDK objects
per view would cap a backfill at a few thousand views per second. Mux's list endpoint answers with
abridged views, so the adapter fetches each new view in full with get-video-view (several at a time, on
the SDK's connection pool) — but not the views the caller says it already holds (`known`, by the list's `id`,
Mux's opaque view id, which is not the `view_id` UUID the full view and the export files carry): a Mux
view does not change once it is listed, so the overlap window of an incremental run costs one list call
per page, not one call per view.

Whole days are cheaper from Mux Data's daily view exports (`ViewExportsSource`): one gzipped CSV file
per completed UTC day with every view in full. Accounts whose plan has no exports answer the listing
with 403 or 404; the adapter reports that as `ViewExportsUnavailable` and the job keeps to list+get.
"""

from __future__ import annotations

from collections.abc import Container, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from core.errors import ErrorKind, MuxAuthError, MuxNotFound, PermanentError
from core.mux import MuxService
from core.mux.models import Asset, ExportDownload, ViewExport

Page = list[dict[str, Any]]

# Fields only the full view has; an item with none of them is the abridged list shape.
_FULL_VIEW_FIELDS = ("viewer_user_id", "video_id", "asset_id", "view_max_playhead_position", "video_duration")


class ViewsSource(Protocol):
    def iter_view_pages(self, start: datetime, end: datetime, *, known: Container[str] | None = None) -> Iterator[Page]:
        """Pages of full Mux Data views whose view_end falls in [start, end), oldest first.

        A source that pays per view for the full record may leave out the views whose list `id` (Mux's
        opaque id) is in `known` (views the caller already stored); one that gets full records for free
        may ignore it.
        """
        ...


class ViewExportsUnavailable(PermanentError):
    """The account cannot list view exports (plan without them, or a token without Data access)."""

    kind = ErrorKind.UPSTREAM


@runtime_checkable
class ViewExportsSource(Protocol):
    """Mux Data's daily view exports; a ViewsSource that also has them gets whole days as files."""

    view_exports_enabled: bool

    def list_view_exports(self) -> list[ViewExport]:
        """The exports Mux lists now (raises ViewExportsUnavailable when the account has none)."""
        ...

    def download_view_export(self, url: str, dest: Path, *, if_none_match: str | None = None) -> ExportDownload:
        """The file at `url`, decompressed into `dest`; `not_modified` when its ETag is still `if_none_match`."""
        ...


class UsageSource(Protocol):
    def iter_usage_pages(self, start: datetime, end: datetime) -> Iterator[Page]:
        """Pages of delivery-usage rows aggregated over [start, end] (hour-aligned, inside Mux's window)."""
        ...


class AssetsSource(Protocol):
    def iter_asset_pages(self) -> Iterator[Page]:
        """Pages of every Mux asset in the environment (REST shape: id, status, duration, passthrough ...)."""
        ...


class MuxSources:
    """ViewsSource, ViewExportsSource, UsageSource and AssetsSource over one MuxService.

    `view_exports` (default: the service's `LECTERN_SYNC_VIEW_EXPORTS` setting) turns the export path on.
    """

    def __init__(
        self,
        service: MuxService,
        *,
        views_page_size: int = 1000,
        usage_page_size: int = 100,
        asset_page_size: int = 100,
        detail_workers: int = 4,
        view_exports: bool | None = None,
    ) -> None:
        self.service = service
        self.view_exports_enabled = (
            bool(getattr(service.settings, "sync_view_exports", True)) if view_exports is None else view_exports
        )
        self.views_page_size = views_page_size
        self.usage_page_size = usage_page_size
        self.asset_page_size = asset_page_size
        self.detail_workers = detail_workers
        self._pool: ThreadPoolExecutor | None = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def list_view_exports(self) -> list[ViewExport]:
        try:
            return self.service.list_view_exports()
        except MuxNotFound as exc:
            raise ViewExportsUnavailable(exc.message) from exc
        except MuxAuthError as exc:
            if exc.status == 401:  # wrong credentials: list+get would fail the same way, so say so
                raise
            raise ViewExportsUnavailable(exc.message) from exc

    def download_view_export(self, url: str, dest: Path, *, if_none_match: str | None = None) -> ExportDownload:
        return self.service.download_view_export(url, dest, if_none_match=if_none_match, gunzip=True)

    def _full_view(self, item: dict[str, Any]) -> dict[str, Any] | None:
        try:
            data = self.service.video_view(str(item.get("id")))
        except MuxNotFound:
            # Listed a moment ago, gone now (deleted by a data-retention run): the list item has no
            # `view_id` to key it on, and Mux no longer serves the view, so there is nothing to store.
            return None
        return {**item, **data}

    def _full_views(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if self.detail_workers <= 1 or len(items) == 1:
            views = [self._full_view(i) for i in items]
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.detail_workers, thread_name_prefix="mux-view-detail")
            views = list(self._pool.map(self._full_view, items))
        return [v for v in views if v is not None]

    def iter_view_pages(self, start: datetime, end: datetime, *, known: Container[str] | None = None) -> Iterator[Page]:
        # The paginator stops on an empty page or the answer's total_row_count, never on a short page.
        pages = self.service.iter_video_view_pages(timeframe=(start, end), page_size=self.views_page_size)
        for items in pages:
            if items and not any(k in items[0] for k in _FULL_VIEW_FIELDS):
                fresh = [i for i in items if known is None or i.get("id") not in known]
                if fresh:
                    yield self._full_views(fresh)
            elif items:
                yield items

    def iter_usage_pages(self, start: datetime, end: datetime) -> Iterator[Page]:
        yield from self.service.iter_delivery_usage_pages(timeframe=(start, end), page_size=self.usage_page_size)

    def iter_asset_pages(self) -> Iterator[Page]:
        for assets in self.service.iter_asset_pages(page_size=self.asset_page_size):
            yield [asset_row(asset) for asset in assets]


def asset_row(asset: Asset) -> dict[str, Any]:
    """The asset as Mux's REST JSON (the SDK model's dict), with the fields our dataclass normalised."""
    row = dict(asset.raw)
    row.setdefault("id", asset.id)
    row.setdefault("status", asset.status)
    row.setdefault("duration", asset.duration_s)
    row.setdefault("passthrough", asset.passthrough)
    if not row.get("playback_ids"):
        row["playback_ids"] = [{"id": p.id, "policy": p.policy} for p in asset.playback_ids]
    return row

"""Mux Data video views, view exports and Video delivery usage.

Rows are Mux's raw JSON objects (plain dicts), so sync jobs load them without SDK types and keep every
field Mux sends: the SDK's list model keeps only 14 fields of a view, rejects enum values Mux added later,
and building SDK objects per view costs more than the HTTP call. Lists are walked by the one paginator
(core/mux/pagination.py), by page number to the answer's `total_row_count`. View exports are
listed through the SDK; their files are signed URLs fetched with a plain HTTP client
(`download_view_export`), streamed to disk and retried like every other call.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from core.errors import MuxError, MuxInvalidRequest, MuxNotFound, MuxRateLimited, MuxResponseInvalid, MuxUnavailable
from core.mux import unknown
from core.mux.client import MuxBase, parse_retry_after, require
from core.mux.models import ExportDownload, ViewExport, ViewExportFile
from core.mux.pagination import PageNumberPaginator

Timeframe = tuple[datetime | int | float, datetime | int | float] | Sequence[str]


def timeframe_param(timeframe: Timeframe | None) -> list[str] | None:
    """`timeframe[]` values: two datetimes/epochs become epoch-second strings; strings pass through."""
    if timeframe is None:
        return None
    out: list[str] = []
    for value in timeframe:
        if isinstance(value, datetime):
            out.append(str(int(value.timestamp())))
        elif isinstance(value, int | float):
            out.append(str(int(value)))
        else:
            out.append(str(value))
    return out


_S3_TEXT = re.compile(r"<(Code|Message)>([^<]*)</")
_CHUNK = 1 << 20


def _file_error(response: httpx.Response, operation: str) -> MuxError:
    """A refused file download as Lectern's errors (signed-URL hosts answer S3's XML, not Mux's JSON)."""
    status = response.status_code
    parts = dict(_S3_TEXT.findall(response.text[:2000]))
    detail = ": ".join(p for p in (parts.get("Code"), parts.get("Message")) if p) or response.reason_phrase
    text = f"Mux {operation} failed ({status}): {detail}"
    if status == 429:
        return MuxRateLimited(text, retry_after=parse_retry_after(response.headers), status=status)
    if status == 408 or status >= 500:
        return MuxUnavailable(text, status=status)
    if status == 404:
        return MuxNotFound(text, status=status)
    return MuxInvalidRequest(f"{text} (a signed export URL is short-lived: list the exports again)", status=status)


class _Gunzip:
    """Decompresses gzip members as they stream in (a file may hold several); passes other bytes through."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.decoder: Any = None
        self.plain: bool | None = None  # decided by the first two bytes: gzip magic or not
        self.head = b""

    def write(self, data: bytes) -> None:
        if self.plain is None:
            self.head += data
            if len(self.head) < 2:
                return
            data, self.head = self.head, b""
            self.plain = not data.startswith(b"\x1f\x8b")
        if self.plain:
            self.out.write(data)
            return
        while data:
            if self.decoder is None:
                self.decoder = zlib.decompressobj(wbits=31)
            self.out.write(self.decoder.decompress(data))
            data = self.decoder.unused_data
            if self.decoder.eof:
                self.decoder = None  # a member ended; any bytes left start the next one

    def finish(self) -> None:
        if self.head:  # a body of one byte cannot be gzip
            self.out.write(self.head)
        if self.plain is False and self.decoder is not None and not self.decoder.eof:
            raise MuxUnavailable("Mux download view export: the gzip stream ended early", status=0)


class DataMixin(MuxBase):
    def list_view_exports(self) -> list[ViewExport]:
        """Mux Data's daily view exports still available (Mux keeps each file for seven days), newest first.

        Raises MuxAuthError (403) or MuxNotFound when the account's plan has no exports.
        """
        resp = require(self._call("list view exports", self.exports_api.list_exports_views), "list view exports")
        out: list[ViewExport] = []
        for item in resp.data or []:
            day = item.export_date
            if isinstance(day, str):
                day = date.fromisoformat(day)
            if not isinstance(day, date):
                continue
            files = tuple(
                ViewExportFile(version=f.version, type=f.type, url=f.path) for f in item.files or [] if f.path
            )
            out.append(ViewExport(export_date=day, files=files))
        return out

    def download_view_export(
        self, url: str, dest: Path, *, if_none_match: str | None = None, gunzip: bool = True
    ) -> ExportDownload:
        """Fetch an export file into `dest`, streamed (never whole in memory), retrying transient failures.

        The URL is signed, so no Mux credentials go with it (S3 refuses a request that has both). With
        `if_none_match` (an ETag from an earlier download) an unchanged file answers 304 and `dest` is left
        alone. With `gunzip` the `.csv.gz` body is decompressed on the way to disk, which saves the loader a
        single-threaded pass of its own.
        """
        operation = "download view export"
        headers = {"If-None-Match": if_none_match} if if_none_match else {}

        def attempt() -> ExportDownload:
            try:
                with self.files_http().stream("GET", url, headers=headers) as response:
                    if response.status_code == 304:
                        return ExportDownload(not_modified=True, etag=response.headers.get("etag") or if_none_match)
                    if response.status_code != 200:
                        response.read()
                        raise _file_error(response, operation)
                    size = 0
                    with dest.open("wb") as handle:
                        sink: Any = _Gunzip(handle) if gunzip else handle
                        for chunk in response.iter_raw(_CHUNK):
                            sink.write(chunk)
                            size += len(chunk)
                        if gunzip:
                            sink.finish()
                    return ExportDownload(not_modified=False, etag=response.headers.get("etag"), bytes=size)
            except httpx.HTTPError as exc:
                raise MuxUnavailable(f"Mux {operation} failed: {type(exc).__name__}: {exc}", status=0) from exc
            except zlib.error as exc:
                # A body cut short or damaged in transit: fetch it again. (A local OSError, such as a full
                # disk, is not Mux's doing and propagates as it is.)
                raise MuxUnavailable(f"Mux {operation}: unreadable gzip body: {exc}", status=0) from exc

        return self.retrier.call(attempt)

    def iter_video_view_pages(
        self,
        *,
        timeframe: Timeframe | None = None,
        filters: Sequence[str] = (),
        metric_filters: Sequence[str] = (),
        viewer_id: str | None = None,
        order_direction: str = "asc",
        page_size: int = 100,
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of list-video-views (Mux's JSON rows), walked by page number to the answer's total_row_count."""
        kwargs: dict[str, Any] = {"limit": page_size, "order_direction": order_direction}
        if (tf := timeframe_param(timeframe)) is not None:
            kwargs["timeframe"] = tf
        if filters:
            kwargs["filters"] = list(filters)
        if metric_filters:
            kwargs["metric_filters"] = list(metric_filters)
        if viewer_id:
            kwargs["viewer_id"] = viewer_id
        return self._walk("list video views", self.views_api.list_video_views, PageNumberPaginator(), **kwargs)

    def video_view(self, mux_view_id: str) -> dict[str, Any]:
        """One full view (get-video-view's `data`, every field Mux sends) as JSON; MuxNotFound when gone.

        Takes Mux's opaque `id` (what the views list returns), not the view's `view_id` UUID.
        """
        doc = self._raw_json("get video view", self.views_api.get_video_view, mux_view_id)
        data = doc.get("data")
        if not isinstance(data, dict):
            raise MuxResponseInvalid("Mux get video view: the answer has no view object")
        return data

    def iter_video_views(
        self,
        *,
        timeframe: Timeframe | None = None,
        filters: Sequence[str] = (),
        metric_filters: Sequence[str] = (),
        viewer_id: str | None = None,
        order_direction: str = "asc",
        page_size: int = 100,
    ) -> Iterator[dict[str, Any]]:
        """Every view of list-video-views (Mux's abridged JSON rows) for the timeframe and filters."""
        pages = self.iter_video_view_pages(
            timeframe=timeframe,
            filters=filters,
            metric_filters=metric_filters,
            viewer_id=viewer_id,
            order_direction=order_direction,
            page_size=page_size,
        )
        for rows in pages:
            yield from rows

    def iter_delivery_usage(
        self, *, timeframe: Timeframe | None = None, asset_id: str | None = None, page_size: int = 100
    ) -> Iterator[dict[str, Any]]:
        """Every delivery-usage row (Mux's JSON) for the timeframe."""
        for rows in self.iter_delivery_usage_pages(timeframe=timeframe, asset_id=asset_id, page_size=page_size):
            yield from rows

    def iter_delivery_usage_pages(
        self, *, timeframe: Timeframe | None = None, asset_id: str | None = None, page_size: int = 100
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of delivery-usage rows (Mux's JSON), walked by page number to the answer's total_row_count.

        An asset state, resolution tier or video quality Mux added since mux-python 5.1.0 is kept and logged once.
        """
        kwargs: dict[str, Any] = {"limit": page_size}
        if (tf := timeframe_param(timeframe)) is not None:
            kwargs["timeframe"] = tf
        if asset_id:
            kwargs["asset_id"] = asset_id
        operation = "list delivery usage"
        for rows in self._walk(operation, self.delivery_usage_api.list_delivery_usage, PageNumberPaginator(), **kwargs):
            for row in rows:
                unknown.note_fields("delivery_report", row, unknown.DELIVERY_REPORT_FIELDS)
                unknown.note_value("delivery_report.asset_state", row.get("asset_state"), unknown.DELIVERY_ASSET_STATES)
                unknown.note_value(
                    "delivery_report.asset_resolution_tier",
                    row.get("asset_resolution_tier"),
                    unknown.ASSET_RESOLUTION_TIERS,
                )
                unknown.note_value(
                    "delivery_report.asset_video_quality", row.get("asset_video_quality"), unknown.ASSET_VIDEO_QUALITIES
                )
            yield rows

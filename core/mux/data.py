"""Mux Data video views and Video delivery usage, as iterators that walk every page.

Rows are plain dicts (the SDK model's `to_dict()`), so sync jobs can load them without SDK types.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from core.mux.client import MuxBase, require

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


def walk_pages(fetch: Callable[[int], Any], page_size: int, *, max_pages: int = 100_000) -> Iterator[dict[str, Any]]:
    """Yield every row of a page-numbered list: stop on an empty or short page or at total_row_count."""
    yielded = 0
    for page in range(1, max_pages + 1):
        resp = fetch(page)
        items = resp.data or []
        for item in items:
            yield item.to_dict() if hasattr(item, "to_dict") else dict(item)
        yielded += len(items)
        total = getattr(resp, "total_row_count", None)
        if not items or len(items) < page_size or (total is not None and yielded >= total):
            return


class DataMixin(MuxBase):
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
        kwargs: dict[str, Any] = {"limit": page_size, "order_direction": order_direction}
        if (tf := timeframe_param(timeframe)) is not None:
            kwargs["timeframe"] = tf
        if filters:
            kwargs["filters"] = list(filters)
        if metric_filters:
            kwargs["metric_filters"] = list(metric_filters)
        if viewer_id:
            kwargs["viewer_id"] = viewer_id

        def fetch(page: int) -> Any:
            resp = self._call("list video views", self.views_api.list_video_views, page=page, **kwargs)
            return require(resp, "list video views")

        yield from walk_pages(fetch, page_size)

    def iter_delivery_usage(
        self, *, timeframe: Timeframe | None = None, asset_id: str | None = None, page_size: int = 100
    ) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {"limit": page_size}
        if (tf := timeframe_param(timeframe)) is not None:
            kwargs["timeframe"] = tf
        if asset_id:
            kwargs["asset_id"] = asset_id

        def fetch(page: int) -> Any:
            resp = self._call("list delivery usage", self.delivery_usage_api.list_delivery_usage, page=page, **kwargs)
            return require(resp, "list delivery usage")

        yield from walk_pages(fetch, page_size)

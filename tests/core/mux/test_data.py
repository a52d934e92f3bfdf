from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.mux import MuxService
from core.mux.data import timeframe_param
from core.settings import load_settings
from tests.core.mux.fakes import RawResponse


class FakePaged:
    """A page-numbered list of `total` rows that serves at most `cap` rows a page, whatever `limit` asks."""

    def __init__(self, total: int, report_total: bool, cap: int = 1000) -> None:
        self.total = total
        self.report_total = report_total
        self.cap = cap
        self.calls: list[dict[str, Any]] = []

    def _page(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        limit, page = min(kwargs["limit"], self.cap), kwargs["page"]
        rows = [{"id": f"v{i}"} for i in range((page - 1) * limit, min(page * limit, self.total))]
        return RawResponse({"data": rows, "total_row_count": self.total if self.report_total else None})

    list_video_views = _page
    list_delivery_usage = _page


def svc() -> MuxService:
    return MuxService(load_settings(mux_token_id="id", mux_token_secret="s"))


def test_video_views_walk_every_page_with_filters_and_timeframe() -> None:
    service = svc()
    fake = FakePaged(total=10, report_total=True)
    service.views_api = fake  # type: ignore[assignment]
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    rows = list(service.iter_video_views(timeframe=(start, end), filters=["country:US"], page_size=4))
    assert [r["id"] for r in rows] == [f"v{i}" for i in range(10)]
    assert [c["page"] for c in fake.calls] == [1, 2, 3]
    assert fake.calls[0]["timeframe"] == [str(int(start.timestamp())), str(int(end.timestamp()))]
    assert fake.calls[0]["filters"] == ["country:US"]
    assert fake.calls[0]["order_direction"] == "asc"


def test_exact_multiple_of_page_size_stops_on_total_or_empty_page() -> None:
    for report_total, expected_calls in ((True, 2), (False, 3)):
        service = svc()
        fake = FakePaged(total=8, report_total=report_total)
        service.delivery_usage_api = fake  # type: ignore[assignment]
        assert len(list(service.iter_delivery_usage(asset_id="a1", page_size=4))) == 8
        assert len(fake.calls) == expected_calls
        assert fake.calls[0]["asset_id"] == "a1"


def test_timeframe_param_accepts_durations_and_epochs() -> None:
    assert timeframe_param(["7:days"]) == ["7:days"]
    assert timeframe_param((1700000000, 1700003600.5)) == ["1700000000", "1700003600"]
    assert timeframe_param(None) is None


def test_a_capped_limit_never_ends_a_walk_early() -> None:
    """Mux may serve fewer rows than `limit` asked: a short page is not the last one."""
    for report_total, expected_calls in ((True, 4), (False, 5)):
        service = svc()
        fake = FakePaged(total=10, report_total=report_total, cap=3)
        service.views_api = fake  # type: ignore[assignment]
        rows = list(service.iter_video_views(page_size=100))
        assert [r["id"] for r in rows] == [f"v{i}" for i in range(10)]
        assert len(fake.calls) == expected_calls

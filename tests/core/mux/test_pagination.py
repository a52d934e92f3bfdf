"""The one paginator's stop rules, driven by a fake fetch function."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import MuxPageLimitExceeded, MuxResponseInvalid
from core.mux import MuxService
from core.mux.pagination import (
    DEFAULT_MAX_PAGES,
    CursorPaginator,
    ListPage,
    PageNumberPaginator,
    paginate,
)
from core.settings import load_settings
from tests.core.mux.fakes import RawResponse


class NumberedList:
    """`total` rows served page by page, at most `cap` a page (a server that caps `limit`)."""

    def __init__(self, total: int, cap: int, *, report_total: bool = True, item_total: int | None = None) -> None:
        self.rows = list(range(total))
        self.cap = cap
        self.report_total = report_total
        self.item_total = item_total
        self.calls: list[dict[str, Any]] = []

    def __call__(self, params: dict[str, Any]) -> ListPage:
        self.calls.append(params)
        start = (params["page"] - 1) * self.cap
        items = [{"n": n, "total_row_count": self.item_total} for n in self.rows[start : start + self.cap]]
        return ListPage(items=items, total_row_count=len(self.rows) if self.report_total else None)


def walk(fetch: Any, paginator: Any, max_pages: int = DEFAULT_MAX_PAGES) -> list[Any]:
    return [item for page in paginate(fetch, paginator, operation="list things", max_pages=max_pages) for item in page]


def test_page_numbers_stop_at_the_total_however_short_the_pages() -> None:
    fetch = NumberedList(total=20, cap=7)
    rows = walk(fetch, PageNumberPaginator())
    assert [r["n"] for r in rows] == list(range(20))
    assert [c["page"] for c in fetch.calls] == [1, 2, 3]  # 7 + 7 + 6: the total ends it, no empty page asked


def test_page_numbers_without_a_total_go_on_past_short_pages_to_an_empty_one() -> None:
    fetch = NumberedList(total=20, cap=7, report_total=False)
    assert len(walk(fetch, PageNumberPaginator())) == 20
    assert [c["page"] for c in fetch.calls] == [1, 2, 3, 4]


def test_an_empty_first_page_ends_the_walk() -> None:
    fetch = NumberedList(total=0, cap=7, report_total=False)
    assert walk(fetch, PageNumberPaginator()) == []
    assert len(fetch.calls) == 1


def test_the_per_item_total_row_count_of_abridged_views_is_not_the_lists_total() -> None:
    # Abridged video views carry their own `total_row_count`; only the answer's counts.
    doc = {"data": [{"id": "v1", "total_row_count": 1}], "total_row_count": 30}
    assert ListPage.from_json(doc).total_row_count == 30
    assert ListPage.from_json({"data": [{"id": "v1", "total_row_count": 1}]}).total_row_count is None
    fetch = NumberedList(total=15, cap=5, report_total=False, item_total=5)
    assert len(walk(fetch, PageNumberPaginator())) == 15


def test_list_page_from_json_reads_only_well_typed_facts() -> None:
    page = ListPage.from_json({"data": None, "total_row_count": True, "next_cursor": ""})
    assert page == ListPage(items=[], total_row_count=None, next_cursor=None)
    with pytest.raises(MuxResponseInvalid, match="list assets"):
        ListPage.from_json({"data": {"id": "x"}}, "list assets")


class CursorList:
    def __init__(self, total: int, cap: int, *, repeat_after: int | None = None) -> None:
        self.rows = list(range(total))
        self.cap = cap
        self.repeat_after = repeat_after
        self.calls: list[dict[str, Any]] = []

    def __call__(self, params: dict[str, Any]) -> ListPage:
        self.calls.append(params)
        start = int(params.get("cursor", 0))
        end = start + self.cap
        items = self.rows[start:end]
        if self.repeat_after is not None and end >= self.repeat_after:
            end = self.repeat_after  # a broken server that hands back the same cursor again
        return ListPage(items=items, next_cursor=str(end) if end < len(self.rows) else None)


def test_cursors_walk_to_an_empty_next_cursor_however_short_the_pages() -> None:
    fetch = CursorList(total=20, cap=7)
    assert walk(fetch, CursorPaginator()) == list(range(20))
    assert fetch.calls == [{}, {"cursor": "7"}, {"cursor": "14"}]


def test_cursor_walk_ends_on_an_empty_page_even_with_a_cursor() -> None:
    def fetch(params: dict[str, Any]) -> ListPage:
        return ListPage(items=[], next_cursor="more")

    assert walk(fetch, CursorPaginator()) == []


def test_a_repeated_cursor_is_a_clear_error_not_an_endless_loop() -> None:
    fetch = CursorList(total=50, cap=7, repeat_after=14)
    with pytest.raises(MuxPageLimitExceeded, match="list things: the answer repeated a next_cursor"):
        walk(fetch, CursorPaginator())
    assert len(fetch.calls) == 3


def test_a_list_that_never_ends_hits_the_page_cap_with_a_clear_error() -> None:
    def endless(params: dict[str, Any]) -> ListPage:
        return ListPage(items=[params["page"]])  # no total, never empty

    with pytest.raises(MuxPageLimitExceeded, match=r"list things: the list had not ended after 5 pages \(5 rows\)"):
        walk(endless, PageNumberPaginator(), max_pages=5)


def test_a_list_that_ends_on_the_last_allowed_page_is_read_whole() -> None:
    fetch = NumberedList(total=21, cap=7)
    assert len(walk(fetch, PageNumberPaginator(), max_pages=3)) == 21
    with pytest.raises(MuxPageLimitExceeded):
        walk(NumberedList(total=21, cap=7), PageNumberPaginator(), max_pages=2)
    with pytest.raises(ValueError):
        walk(fetch, PageNumberPaginator(), max_pages=0)


def test_the_page_cap_is_a_setting_with_a_tested_default() -> None:
    assert load_settings().mux_list_max_pages == DEFAULT_MAX_PAGES == 100_000
    settings = load_settings(mux_token_id="id", mux_token_secret="s", mux_list_max_pages=2)
    service = MuxService(settings)

    class Keys:
        def list_signing_keys(self, **kwargs: Any) -> RawResponse:
            return RawResponse({"data": [{"id": f"k{kwargs['page']}"}]})  # a server that never runs out

    service.signing_keys_api = Keys()  # type: ignore[assignment]
    with pytest.raises(MuxPageLimitExceeded, match=r"list signing keys.*LECTERN_MUX_LIST_MAX_PAGES"):
        list(service.iter_signing_keys())

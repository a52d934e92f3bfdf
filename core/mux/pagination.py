"""One way to walk a Mux list endpoint: by page number or by cursor, stopping only where Mux says the list ends.

Modelled on dlt's `rest_client/paginators.py`: a paginator holds one walk's state, `next_params()` gives
the query arguments of the next request, `update_state(page)` reads the answer and decides
`has_next_page`. `paginate(fetch, paginator, ...)` drives it and yields each page's rows.

Stop rules. Mux may cap `limit` below what was asked (its maximum is not published), so a page shorter
than the requested size proves nothing and never ends a walk:
- `PageNumberPaginator` (`page=1, 2, ...`): stops on an empty page, or once the rows read reach the
  answer's `total_row_count` when it carries one (Data lists, delivery usage). Lists without a total
  (signing keys, uploads) cost one extra request: the empty page after the last.
- `CursorPaginator` (`cursor=<next_cursor>`; list assets, which Mux recommends walking by cursor): stops on
  an empty page or an empty `next_cursor`.
A walk still going after `max_pages` requests, or a cursor handed back twice, raises
`MuxPageLimitExceeded`: a clear error rather than an endless loop or a silently truncated list.

Only the answer's own `total_row_count` counts: the abridged video-view items carry a per-item
`total_row_count` as well, which `ListPage.from_json` does not look at.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.errors import MuxPageLimitExceeded, MuxResponseInvalid

# The default page cap; MuxService takes its own from the MUX_LIST_MAX_PAGES setting (LECTERN_MUX_LIST_MAX_PAGES).
DEFAULT_MAX_PAGES = 100_000


@dataclass(frozen=True)
class ListPage:
    """One answer of a list endpoint: its rows and the two facts a walk may stop on."""

    items: list[Any] = field(default_factory=list)
    total_row_count: int | None = None
    next_cursor: str | None = None

    @classmethod
    def from_json(cls, doc: Mapping[str, Any], operation: str = "list") -> ListPage:
        """Mux's list JSON (`data`, optional `total_row_count`, optional `next_cursor`)."""
        data = doc.get("data")
        if data is None:
            data = []
        if not isinstance(data, list):
            raise MuxResponseInvalid(f"Mux {operation}: the answer's `data` is not a list")
        total = doc.get("total_row_count")
        cursor = doc.get("next_cursor")
        return cls(
            items=data,
            total_row_count=total if isinstance(total, int) and not isinstance(total, bool) else None,
            next_cursor=cursor if isinstance(cursor, str) and cursor else None,
        )


class Paginator(ABC):
    """The state of one walk; a new paginator for every walk."""

    def __init__(self) -> None:
        self.has_next_page = True
        self.pages = 0
        self.rows = 0

    @abstractmethod
    def next_params(self) -> dict[str, Any]:
        """Query arguments (`page=` or `cursor=`) of the next request."""

    def update_state(self, page: ListPage) -> None:
        """Count the page and decide whether another request is needed."""
        self.pages += 1
        self.rows += len(page.items)
        if not page.items:
            self.has_next_page = False
        else:
            self._advance(page)

    @abstractmethod
    def _advance(self, page: ListPage) -> None:
        """Step past a non-empty page, or set `has_next_page = False` where the list ends."""


class PageNumberPaginator(Paginator):
    """`page=1, 2, ...`: ends on an empty page or at the answer's `total_row_count`."""

    def __init__(self, first_page: int = 1) -> None:
        super().__init__()
        self.page = first_page

    def next_params(self) -> dict[str, Any]:
        return {"page": self.page}

    def _advance(self, page: ListPage) -> None:
        if page.total_row_count is not None and self.rows >= page.total_row_count:
            self.has_next_page = False
        else:
            self.page += 1


class CursorPaginator(Paginator):
    """First request without a cursor, then `cursor=<next_cursor>`: ends on an empty `next_cursor`."""

    def __init__(self) -> None:
        super().__init__()
        self.cursor: str | None = None
        self._seen: set[str] = set()

    def next_params(self) -> dict[str, Any]:
        return {"cursor": self.cursor} if self.cursor else {}

    def _advance(self, page: ListPage) -> None:
        cursor = page.next_cursor
        if not cursor:
            self.has_next_page = False
            return
        if cursor in self._seen:
            # Following it again would walk the same rows forever.
            raise MuxPageLimitExceeded(
                f"the answer repeated a next_cursor given before ({cursor[:40]!r}) after {self.pages} pages"
            )
        self._seen.add(cursor)
        self.cursor = cursor


def paginate(
    fetch: Callable[[dict[str, Any]], ListPage],
    paginator: Paginator,
    *,
    operation: str,
    max_pages: int = DEFAULT_MAX_PAGES,
) -> Iterator[list[Any]]:
    """Yield the rows of every non-empty page; `fetch(params)` makes one request with the paginator's params.

    Raises MuxPageLimitExceeded when the list has not ended after `max_pages` requests.
    """
    if max_pages < 1:
        raise ValueError("max_pages must be at least 1")
    while paginator.has_next_page:
        if paginator.pages >= max_pages:
            raise MuxPageLimitExceeded(
                f"Mux {operation}: the list had not ended after {max_pages} pages ({paginator.rows} rows); "
                "raise LECTERN_MUX_LIST_MAX_PAGES or narrow the request (a shorter timeframe)"
            )
        page = fetch(paginator.next_params())
        try:
            paginator.update_state(page)
        except MuxPageLimitExceeded as exc:
            raise MuxPageLimitExceeded(f"Mux {operation}: {exc.message}") from None
        if page.items:
            yield page.items

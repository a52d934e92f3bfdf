"""The webhook log: search stored events, show one with its secrets redacted, count refused deliveries.

Read-only functions over the platform DB for the admin API (`api/routes/admin_webhooks.py`), `lectern
webhooks` and the Operations page. A search answers one page in the shape of Mux's own lists
(`core.mux.pagination.ListPage`: the rows and a `next_cursor`), so a client walks it with the one paginator
Lectern has (`CursorPaginator` + `paginate`), exactly as Lectern walks Mux's asset list. Pages are newest
first by (received_at, id) and the cursor is the last row's key (opaque: base64url), so events arriving
meanwhile never shift a page.

Filters: event types, outcomes, lesson, asset, upload, and a received-at range [since, until). An event is
about an asset when the asset is its object or its `data.asset_id` (upload events), about an upload when the
upload is its object or its `data.upload_id` (asset events made from an upload).

Redaction (`redact`, applied to every payload shown): the stored payload is the event body Mux signed (the
`Mux-Signature` header is never stored), but it may still carry capabilities:
- an upload's `url` (video.upload.* `data.url`): a signed URL anyone may PUT a video to until it expires;
- any URL whose query carries a signature, credential, token, key or expiry parameter (a presigned S3 input
  URL, a signed GCS URL): the query is replaced;
- any field whose name says secret, password, token, signature, authorization, cookie, credential, private
  key, api key, access key or stream key (e.g. a receiver's `set-cookie` echoed in `attempts[].response_headers`).
The paths redacted are listed with the payload, so an admin knows something was there.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from core.db.models import WebhookEvent, WebhookRejection, table_of
from core.errors import ErrorKind, NotFound, PermanentError
from core.mux.pagination import ListPage
from core.webhooks import MuxEvent, Outcome

EVENTS = table_of(WebhookEvent)
REJECTIONS = table_of(WebhookRejection)
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
STORED_OUTCOMES = tuple(o.value for o in Outcome if o is not Outcome.duplicate)
REDACTED = "[redacted]"
_SECRET_KEY = re.compile(
    r"secret|password|passwd|token|signature|authorization|cookie|credential|private.?key|api.?key|access.?key"
    r"|stream.?key",
    re.IGNORECASE,
)
_SIGNED_QUERY = re.compile(
    r"(?:^|&)(?:x-amz-[a-z-]+|x-goog-[a-z-]+|signature|sig|token|googleaccessid|awsaccesskeyid|expires|key-pair-id"
    r"|policy)=",
    re.IGNORECASE,
)
_ID = re.compile(r"[\x21-\x7e]{1,64}")
Reader = Session | Connection


class FilterInvalid(PermanentError):
    """A webhook log filter or page cursor is malformed."""

    kind = ErrorKind.INVALID


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # a time without a zone is read as UTC, as Lectern stores them
    return value.astimezone(UTC)


@dataclass(frozen=True)
class EventFilter:
    """Which stored events: every field given must match (types and outcomes: any of those listed)."""

    types: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()
    lesson_id: int | None = None
    asset_id: str | None = None
    upload_id: str | None = None
    since: datetime | None = None  # received at or after
    until: datetime | None = None  # received before

    def __post_init__(self) -> None:
        unknown = sorted(set(self.outcomes) - set(STORED_OUTCOMES))
        if unknown:
            raise FilterInvalid(f"unknown outcome {', '.join(unknown)}: choose from {', '.join(STORED_OUTCOMES)}")
        for name, value in (("asset id", self.asset_id), ("upload id", self.upload_id)):
            if value is not None and not _ID.fullmatch(value):
                raise FilterInvalid(f"{name} must be 1-64 printable ASCII characters")
        for event_type in self.types:
            if not 0 < len(event_type) <= 100:
                raise FilterInvalid("an event type must be 1-100 characters")
        object.__setattr__(self, "since", _utc(self.since))
        object.__setattr__(self, "until", _utc(self.until))
        if self.since and self.until and self.since >= self.until:
            raise FilterInvalid("since must be before until")

    @property
    def is_empty(self) -> bool:
        return self == EventFilter()

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.types:
            found.append(EVENTS.c.type.in_(self.types))
        if self.outcomes:
            found.append(EVENTS.c.outcome.in_(self.outcomes))
        if self.lesson_id is not None:
            found.append(EVENTS.c.lesson_id == self.lesson_id)
        if self.asset_id is not None:
            found.append(_about("asset", "asset_id", self.asset_id))
        if self.upload_id is not None:
            found.append(_about("upload", "upload_id", self.upload_id))
        if self.since is not None:
            found.append(EVENTS.c.received_at >= self.since)
        if self.until is not None:
            found.append(EVENTS.c.received_at < self.until)
        return found


def _about(object_type: str, data_key: str, value: str) -> ColumnElement[bool]:
    named_in_data = EVENTS.c.payload[("data", data_key)].as_string() == value
    return or_(and_(EVENTS.c.object_type == object_type, EVENTS.c.object_id == value), named_in_data)


@dataclass(frozen=True)
class EventRow:
    id: str
    type: str
    outcome: str
    error: str | None
    lesson_id: int | None
    asset_id: str | None
    upload_id: str | None
    occurred_at: datetime  # Mux's created_at (when it arrived, for an event without one)
    received_at: datetime

    @property
    def lag_s(self) -> float:
        """Delivery lag: Mux's created_at to received."""
        return (self.received_at - self.occurred_at).total_seconds()

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "outcome": self.outcome,
            "error": self.error,
            "lesson_id": self.lesson_id,
            "asset_id": self.asset_id,
            "upload_id": self.upload_id,
            "occurred_at": self.occurred_at.isoformat(),
            "received_at": self.received_at.isoformat(),
            "lag_s": round(self.lag_s, 3),
        }


_ROW_COLUMNS = (
    EVENTS.c.id,
    EVENTS.c.type,
    EVENTS.c.outcome,
    EVENTS.c.error,
    EVENTS.c.lesson_id,
    EVENTS.c.object_type,
    EVENTS.c.object_id,
    EVENTS.c.payload,
    EVENTS.c.occurred_at,
    EVENTS.c.received_at,
)


def _event_row(row: Any) -> EventRow:
    payload = row.payload if isinstance(row.payload, dict) else {}
    data = payload.get("data")
    # The same reading of asset and upload ids as the processor's (core/webhooks.py MuxEvent).
    view = MuxEvent(
        id=row.id,
        type=row.type,
        created_at=None,
        object_type=row.object_type,
        object_id=row.object_id,
        data=data if isinstance(data, dict) else {},
        payload=payload,
    )
    return EventRow(
        row.id,
        row.type,
        row.outcome,
        row.error,
        row.lesson_id,
        view.asset_id,
        view.upload_id,
        row.occurred_at,
        row.received_at,
    )


def encode_cursor(row: EventRow) -> str:
    raw = f"{row.received_at.isoformat()}|{row.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, event_id = text.partition("|")
        received_at = datetime.fromisoformat(at)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise FilterInvalid("cursor is not one this log handed out (start again without it)") from None
    if received_at.tzinfo is None or not _ID.fullmatch(event_id):
        raise FilterInvalid("cursor is not one this log handed out (start again without it)")
    return received_at, event_id


def search_events(
    reader: Reader, where: EventFilter, *, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
) -> ListPage:
    """One page of matching events, newest first: `items` are `EventRow`s, `next_cursor` None at the end."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise FilterInvalid(f"limit must be between 1 and {MAX_PAGE_SIZE}")
    query = select(*_ROW_COLUMNS).where(*where.conditions())
    if cursor:
        at, event_id = decode_cursor(cursor)
        query = query.where(or_(EVENTS.c.received_at < at, and_(EVENTS.c.received_at == at, EVENTS.c.id < event_id)))
    query = query.order_by(EVENTS.c.received_at.desc(), EVENTS.c.id.desc()).limit(limit + 1)
    rows = [_event_row(r) for r in reader.execute(query).all()]
    more = len(rows) > limit
    rows = rows[:limit]
    return ListPage(items=rows, next_cursor=encode_cursor(rows[-1]) if more and rows else None)


def event_ids_in_order(reader: Reader, where: EventFilter, *, limit: int, skip_applied: bool = True) -> list[str]:
    """Matching event ids in the order Mux created them (oldest first): the order a bulk replay applies them."""
    query = select(EVENTS.c.id).where(*where.conditions())
    if skip_applied:
        query = query.where(EVENTS.c.outcome != Outcome.applied.value)
    query = query.order_by(EVENTS.c.occurred_at, EVENTS.c.received_at, EVENTS.c.id).limit(limit)
    return list(reader.execute(query).scalars())


@dataclass(frozen=True)
class EventDetail:
    row: EventRow
    object_type: str | None
    object_id: str | None
    payload: dict[str, Any]  # redacted
    redacted: list[str]  # the paths redacted, e.g. "data.url"

    def as_dict(self) -> dict[str, Any]:
        return self.row.as_dict() | {
            "object_type": self.object_type,
            "object_id": self.object_id,
            "payload": self.payload,
            "redacted": self.redacted,
        }


def event_detail(reader: Reader, event_id: str) -> EventDetail:
    """One stored event with its payload redacted; `NotFound` when no event has this id."""
    row = reader.execute(select(*_ROW_COLUMNS).where(EVENTS.c.id == event_id)).one_or_none()
    if row is None:
        raise NotFound(f"no webhook event {event_id!r} is stored")
    payload, paths = redact(row.payload if isinstance(row.payload, dict) else {})
    return EventDetail(_event_row(row), row.object_type, row.object_id, payload, paths)


# --- redaction -------------------------------------------------------------------------------------


def redact(payload: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A copy of `payload` without capabilities (see the module docstring), and the paths taken out."""
    paths: list[str] = []
    is_upload = str(payload.get("type", "")).startswith("video.upload.")
    out = _redact(payload, "", paths, upload_data=False, is_upload=is_upload)
    return out, paths


def _redact(value: Any, path: str, paths: list[str], *, upload_data: bool, is_upload: bool) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if item not in (None, "", [], {}) and (
                _SECRET_KEY.search(str(key)) or (upload_data and key == "url" and isinstance(item, str))
            ):
                out[key] = REDACTED
                paths.append(where)
                continue
            out[key] = _redact(item, where, paths, upload_data=is_upload and where == "data", is_upload=is_upload)
        return out
    if isinstance(value, list):
        return [
            _redact(item, f"{path}[{i}]", paths, upload_data=False, is_upload=is_upload) for i, item in enumerate(value)
        ]
    if isinstance(value, str) and "?" in value and "://" in value:
        return _redact_url(value, path, paths)
    return value


def _redact_url(value: str, path: str, paths: list[str]) -> str:
    try:
        parts = urlsplit(value)
    except ValueError:
        return value
    if parts.scheme not in ("http", "https") or not _SIGNED_QUERY.search(parts.query):
        return value
    paths.append(path)
    return urlunsplit(parts._replace(query=REDACTED))


# --- refused deliveries ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RejectionCount:
    hour: datetime
    reason: str  # core.webhooks.Rejection
    count: int


def rejection_counts(reader: Reader, *, since: datetime, until: datetime) -> list[RejectionCount]:
    """Deliveries answered but not stored, per hour and reason, for the hours starting in [since, until)."""
    query = (
        select(REJECTIONS.c.hour, REJECTIONS.c.reason, REJECTIONS.c.count)
        .where(REJECTIONS.c.hour >= since, REJECTIONS.c.hour < until)
        .order_by(REJECTIONS.c.hour, REJECTIONS.c.reason)
    )
    return [RejectionCount(*row) for row in reader.execute(query).all()]


def rejection_totals(counts: Iterable[RejectionCount]) -> dict[str, int]:
    """Counts added up by reason (pure)."""
    totals: dict[str, int] = {}
    for count in counts:
        totals[count.reason] = totals.get(count.reason, 0) + count.count
    return totals

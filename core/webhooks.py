"""Mux webhooks: verify the signature, store each event once, apply it to its lesson exactly once.

Signature (`Mux-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]`): v1 = hex HMAC-SHA256 keyed with
the webhook secret (UTF-8) over `f"{t}."` + the RAW body bytes; any one v1 may match (Mux lists several
while a secret rotates); compared in constant time. The timestamp must be within `tolerance_s` of now in
BOTH directions: older means a replay, and — stricter than Mux's own SDKs, which only reject old ones — a
timestamp more than `tolerance_s` in the future is rejected too, since a sender clock that far ahead
would let a captured request stay replayable for longer. Each failure has its own reason string.

Processing (`WebhookProcessor.handle`): ONE transaction stores the event row with
INSERT ... ON CONFLICT DO NOTHING (no row inserted means a duplicate, which changes nothing) and applies
the change planned by the pure `plan_transition` to the lesson row, so an event is never half-applied and
never applied twice, however many copies arrive at once. The order differs by backend because their locks
differ:
- PostgreSQL: the lesson row is locked first (SELECT ... FOR UPDATE), so copies of one event queue on
  it; then ONE statement inserts the event row with its final outcome and, only if it was inserted,
  updates the lesson (a data-modifying CTE). Two statements per event keep the hot path short.
- SQLite: the event row is inserted first (as `received`), which takes the database's single write lock
  at once; reading the lesson first would start a read transaction that fails to upgrade when another
  process (the migration worker, the sync) writes in between. Threads of one process queue on a lock first.
If applying raises, the transaction rolls back, the event is recorded as `failed` in a fresh transaction
and the error goes up (the API answers 500, Mux retries, and a retry of a `failed` event may claim it
again). Connections are not pinged before use: a connection the server dropped fails the first statement,
and the whole event is retried once on a fresh connection.

Migration assets: an asset the S3-to-Mux migration made (`meta.external_id` starting with
MIGRATION_EXTERNAL_ID_PREFIX) belongs to the migration until it switches the lesson to it: it verifies
the asset first, and the lesson keeps playing from S3 meanwhile. Its events are `ignored` while the lesson
is on another asset; once switched, they apply like any other (a later `video.asset.deleted` counts).

Ownership: the lesson is found by the event's asset id, then its upload id, and only then by
`passthrough` (free text to Mux: only ASCII digits naming a lesson id count). A lesson that already has
a Mux asset or upload accepts only events about that asset or upload, so a passthrough naming another
lesson never re-points it (`unmatched`); a lesson with neither may be claimed by passthrough.

Order safety: an event whose `created_at` is older than the lesson's `video_status_at` is `stale`; an
event without `created_at` is older than anything known (it may fill a lesson with no `video_status_at`,
and never sets one); a lesson never moves from ready back to processing for the same asset; events about
an asset from a superseded upload are `stale`; a deletion of the lesson's upload's asset applies even when it
arrives before any event named that asset.

Poison: bodies are parsed as strict JSON (no NaN/Infinity, no number beyond a double, at most
MAX_JSON_DEPTH levels); a body that is not an event raises `WebhookPayloadInvalid` (HTTP 400, nothing
stored; Mux never sends one). A signed event with an unusable field (a `created_at` that is no time or lies
in the future, an id Lectern cannot store) is stored as `ignored` with the reason and answered 200, so Mux
stops redelivering it. Values Mux may add (statuses, error types, fields) are kept in the stored event
and logged once per process (`webhook.unknown_value`).

Outcomes (`Outcome`): applied | stale | unmatched (no lesson owns it) | ignored (a type we do not act on,
or unusable) | failed; `duplicate` is answered but never stored: it is counted, in the same transaction, in
`webhook_rejections` (one upsert per hour and `Rejection` reason; the route counts refused signatures, bodies
that are no event and oversized bodies the same way, with `count_rejection`).

Uploads: every event about a direct upload (upload events, and asset events naming `data.upload_id`) also
moves that upload's `uploads` row forward (`plan_upload_change`, core/uploads.py), whatever it does to a
lesson — a replaced or a migration upload still gets its outcome. On PostgreSQL that UPDATE rides in the same
statement as the event insert and the lesson update (one more CTE, no extra round trip).

Replay (`replay_stored`, for core/webhook_ops.py): a stored event handled again by the same planner against
the lesson as it is now; applied events are final.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, Integer, String, bindparam, case, exists, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from core.auth import MAX_ID
from core.db.fast_read import FastRead
from core.db.models import (
    Lesson,
    PlaybackPolicy,
    UploadStatus,
    VideoProvider,
    VideoStatus,
    WebhookEvent,
    WebhookRejection,
    table_of,
)
from core.db.records import LessonState
from core.errors import WebhookPayloadInvalid, WebhookSignatureInvalid
from core.logging import get_logger
from core.mux import unknown
from core.uploads import UploadChange, change_statement

log = get_logger(__name__)

SIGNATURE_HEADER = "Mux-Signature"
ASSET_CREATED = "video.asset.created"
ASSET_READY = "video.asset.ready"
ASSET_ERRORED = "video.asset.errored"
ASSET_DELETED = "video.asset.deleted"
UPLOAD_ASSET_CREATED = "video.upload.asset_created"
UPLOAD_CANCELLED = "video.upload.cancelled"
UPLOAD_ERRORED = "video.upload.errored"
MIGRATION_EXTERNAL_ID_PREFIX = "lectern-migration:"
HANDLED_TYPES = frozenset(
    {ASSET_CREATED, ASSET_READY, ASSET_ERRORED, ASSET_DELETED, UPLOAD_ASSET_CREATED, UPLOAD_CANCELLED, UPLOAD_ERRORED}
)


# --- signature -------------------------------------------------------------------------------------


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The header value Mux would send (used by tests, the bench and the emulator-free tools)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def parse_signature_header(header: str | None) -> tuple[int, list[str]]:
    if header is None or not header.strip():
        raise WebhookSignatureInvalid("missing Mux-Signature header")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise WebhookSignatureInvalid("malformed Mux-Signature header (expected t=...,v1=...)")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise WebhookSignatureInvalid("malformed timestamp in Mux-Signature header") from None
        elif key == "v1" and value:
            signatures.append(value.strip().lower())
    if timestamp is None:
        raise WebhookSignatureInvalid("no timestamp (t=) in Mux-Signature header")
    if not signatures:
        raise WebhookSignatureInvalid("no v1 signature in Mux-Signature header")
    return timestamp, signatures


def verify_signature(
    body: bytes, header: str | None, secret: str, *, tolerance_s: int = 300, now: float | None = None
) -> int:
    """Check a webhook's signature; the signed timestamp, or `WebhookSignatureInvalid(reason)`."""
    if not secret:
        raise WebhookSignatureInvalid("webhook secret not configured (MUX_WEBHOOK_SECRET)")
    timestamp, signatures = parse_signature_header(header)
    current = time.time() if now is None else now
    if timestamp < current - tolerance_s:
        raise WebhookSignatureInvalid(f"timestamp too old (more than {tolerance_s} s ago)")
    if timestamp > current + tolerance_s:
        raise WebhookSignatureInvalid(f"timestamp too far in the future (more than {tolerance_s} s ahead)")
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    # Check every candidate so the time taken does not reveal which one matched.
    matched = False
    for candidate in signatures:
        matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise WebhookSignatureInvalid("no signature matches the payload")
    return timestamp


class Rejection(StrEnum):
    """Why a delivery was answered but not stored, counted per hour in `webhook_rejections`.

    A fixed set, never the sender's text: a flood of forged bodies adds at most one row per hour and reason.
    """

    duplicate = "duplicate"
    too_large = "too_large"
    invalid_payload = "invalid_payload"
    secret_not_configured = "secret_not_configured"
    signature_missing = "signature_missing"
    signature_malformed = "signature_malformed"
    timestamp_too_old = "timestamp_too_old"
    timestamp_in_future = "timestamp_in_future"
    signature_mismatch = "signature_mismatch"
    signature_invalid = "signature_invalid"  # a signature failure this list does not name yet


# The reasons `parse_signature_header` and `verify_signature` raise with, by how they begin.
_SIGNATURE_REJECTIONS = (
    ("webhook secret not configured", Rejection.secret_not_configured),
    ("missing Mux-Signature header", Rejection.signature_missing),
    ("malformed", Rejection.signature_malformed),
    ("no timestamp", Rejection.signature_malformed),
    ("no v1 signature", Rejection.signature_malformed),
    ("timestamp too old", Rejection.timestamp_too_old),
    ("timestamp too far in the future", Rejection.timestamp_in_future),
    ("no signature matches", Rejection.signature_mismatch),
)


def signature_rejection(exc: WebhookSignatureInvalid) -> Rejection:
    """The counter a signature failure goes to."""
    return next(
        (r for prefix, r in _SIGNATURE_REJECTIONS if exc.reason.startswith(prefix)), Rejection.signature_invalid
    )


def hour_of(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


# --- events ----------------------------------------------------------------------------------------

# How deep a Mux event nests (envelope -> data -> new_asset_settings -> meta: 4); beyond this a body is
# not an event, and json.loads would recurse until RecursionError.
MAX_JSON_DEPTH = 32
# What Lectern's columns hold (lessons.mux_*_id and webhook_events.id are String(64)); Mux's ids are
# shorter. Printable ASCII only: a NUL or a lone surrogate would fail inside PostgreSQL instead.
_ID = re.compile(r"[\x21-\x7e]{1,64}")
_TYPE = re.compile(r"[\x21-\x7e]{1,100}")
_LESSON_ID = re.compile(r"[0-9]{1,10}")  # ASCII digits only: int() also takes "²" and other Unicode digits
EARLIEST_EVENT = datetime(2000, 1, 1, tzinfo=UTC)  # before Mux existed: not a real event time
MAX_DURATION_S = 30 * 24 * 3600.0  # longer than any asset Mux accepts
MAX_ERROR_CHARS = 2000
_STRUCTURAL = re.compile(rb'[\[\]{}"\\]')
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class Outcome(StrEnum):
    """What happened to an event; stored in webhook_events.outcome (all but `duplicate`)."""

    received = "received"
    applied = "applied"
    stale = "stale"
    unmatched = "unmatched"
    ignored = "ignored"
    failed = "failed"
    duplicate = "duplicate"


def _reject_constant(name: str) -> Any:
    raise WebhookPayloadInvalid(f"body is not strict JSON: {name} is not a JSON value")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # "1e999" parses to inf
        raise WebhookPayloadInvalid(f"body is not strict JSON: number {text[:40]} is out of range")
    return value


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """Whether arrays/objects in `body` nest deeper than `limit` (brackets inside strings do not count).

    One pass over the structural characters, linear in the body's size whatever it holds.
    """
    if body.count(b"[") + body.count(b"{") <= limit:  # the usual case: too few brackets to go that deep
        return False
    depth, in_string, escaped_at = 0, False, -1
    for match in _STRUCTURAL.finditer(body):
        char, at = match.group(), match.start()
        if in_string:
            if at == escaped_at:
                continue
            if char == b"\\":
                escaped_at = at + 1
            elif char == b'"':
                in_string = False
        elif char == b'"':
            in_string = True
        elif char in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif char in (b"]", b"}"):
            depth -= 1
    return False


def load_json(body: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Strict JSON (RFC 8259): no NaN/Infinity, no numbers beyond a float, bounded nesting.

    Python's json accepts NaN and Infinity and turns 1e999 into inf; a stored Infinity later broke pages.
    """
    if json_depth_exceeds(body, max_depth):
        raise WebhookPayloadInvalid(f"body nests deeper than {max_depth} levels")
    try:
        return json.loads(body, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise WebhookPayloadInvalid(f"body is not JSON: {str(exc)[:200]}") from None


@dataclass(frozen=True)
class MuxEvent:
    """A signed Mux event. `problem` says why a well-formed event cannot be used (it is stored, not applied)."""

    id: str
    type: str
    created_at: datetime | None  # None: the event carried no time (older than anything known)
    object_type: str | None
    object_id: str | None
    data: dict[str, Any]
    payload: dict[str, Any] = field(repr=False)
    problem: str | None = None

    @property
    def is_upload_event(self) -> bool:
        return self.type.startswith("video.upload.")

    @property
    def asset_id(self) -> str | None:
        if self.is_upload_event:
            return _str(self.data.get("asset_id"))
        return _str(self.data.get("id")) or (self.object_id if self.object_type == "asset" else None)

    @property
    def upload_id(self) -> str | None:
        if self.is_upload_event:
            return _str(self.data.get("id")) or self.object_id
        return _str(self.data.get("upload_id"))

    @property
    def _asset_fields(self) -> dict[str, Any]:
        """The asset's own settings: the event's data, or an upload's `new_asset_settings`."""
        if not self.is_upload_event:
            return self.data
        settings = self.data.get("new_asset_settings")
        return settings if isinstance(settings, dict) else {}

    @property
    def passthrough(self) -> str | None:
        return _str(self._asset_fields.get("passthrough"))

    @property
    def passthrough_lesson_id(self) -> int | None:
        """The lesson id in `passthrough`, when it is one (passthrough is free text to Mux)."""
        text = self.passthrough
        if text is None or not _LESSON_ID.fullmatch(text):
            return None
        value = int(text)
        return value if 0 < value <= MAX_ID else None

    @property
    def external_id(self) -> str | None:
        meta = self._asset_fields.get("meta")
        return _str(meta.get("external_id")) if isinstance(meta, dict) else None

    @property
    def is_migration_asset(self) -> bool:
        return (self.external_id or "").startswith(MIGRATION_EXTERNAL_ID_PREFIX)


def _str(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def parse_timestamp(value: Any) -> datetime | None:
    """An aware UTC datetime from ISO-8601 text or unix seconds; None when it is not a usable time."""
    try:
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            parsed = datetime.fromtimestamp(value, UTC)
        elif isinstance(value, str) and value:
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                seconds = float(value)
                if not math.isfinite(seconds):
                    return None
                parsed = datetime.fromtimestamp(seconds, UTC)
            parsed = parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        else:
            return None
    except (ValueError, OverflowError, OSError):  # out of range, non-finite, not a time
        return None
    return parsed


def _event_time(doc: dict[str, Any], received_at: datetime, max_future_s: float) -> tuple[datetime | None, str | None]:
    """(created_at, problem): a missing time is None (allowed); an unusable one is a problem."""
    raw = doc.get("created_at")
    if raw is None or raw == "":
        return None, None
    at = parse_timestamp(raw)
    if at is None or at < EARLIEST_EVENT:
        return None, f"created_at {str(raw)[:40]!r} is not a usable time"
    if at > received_at + timedelta(seconds=max_future_s):
        # Later than the signed send time allows: applying it would make every real event look stale.
        return None, f"created_at {at.isoformat()} is in the future"
    return at, None


def _id_problems(doc_data: dict[str, Any], event: MuxEvent) -> str | None:
    for name, value in (("asset id", event.asset_id), ("upload id", event.upload_id)):
        if value is not None and not _ID.fullmatch(value):
            return f"{name} {value[:70]!r} is not an id Lectern can store"
    ids = doc_data.get("playback_ids")
    if ids is not None and not isinstance(ids, list):
        return "playback_ids is not a list"
    return None


def parse_event(body: bytes, *, received_at: datetime | None = None, max_future_s: float = 300) -> MuxEvent:
    """A Mux event from a verified raw body; `WebhookPayloadInvalid` when it is not one.

    Bodies that are not a JSON event (not strict JSON, too deep, no usable id or type) raise: the route
    answers 400. An event whose fields are unusable (a bad created_at or id) is returned with `problem`
    set: it is stored and answered 200, so Mux does not redeliver it for a day.
    """
    return event_from_document(load_json(body), received_at=received_at, max_future_s=max_future_s)


def event_from_document(doc: Any, *, received_at: datetime | None = None, max_future_s: float = 300) -> MuxEvent:
    """`parse_event` after the JSON: also how a stored payload becomes an event again (a replay)."""
    if not isinstance(doc, dict):
        raise WebhookPayloadInvalid("body is not a JSON object")
    event_id, event_type = doc.get("id"), doc.get("type")
    if not isinstance(event_id, str) or not _ID.fullmatch(event_id):
        raise WebhookPayloadInvalid("event has no usable id (1-64 printable ASCII characters)")
    if not isinstance(event_type, str) or not _TYPE.fullmatch(event_type):
        raise WebhookPayloadInvalid("event has no type (1-100 printable ASCII characters)")
    data = doc.get("data")
    if data is not None and not isinstance(data, dict):
        raise WebhookPayloadInvalid("event data is not an object")
    obj = found if isinstance(found := doc.get("object"), dict) else {}
    object_type, object_id = _str(obj.get("type")), _str(obj.get("id"))
    received = received_at or datetime.now(UTC)
    created, problem = _event_time(doc, received, max_future_s)
    event = MuxEvent(
        id=event_id,
        type=event_type,
        created_at=created,
        object_type=object_type if object_type and _ID.fullmatch(object_type) and len(object_type) <= 32 else None,
        object_id=object_id if object_id and _ID.fullmatch(object_id) else None,
        data=data or {},
        payload=doc,
    )
    problem = problem or _id_problems(event.data, event)
    if problem is None:
        note_unknown_values(event)
    return replace(event, problem=problem) if problem else event


# Values Mux documents today (one list, shared with the API reads in core/mux/unknown.py); a new one is kept
# (the raw event is stored) and logged once per process.
KNOWN_VALUES: dict[str, frozenset[str]] = {
    "asset.status": unknown.ASSET_STATUSES,
    "upload.status": unknown.UPLOAD_STATUSES,
    "asset.errors.type": unknown.ASSET_ERROR_TYPES,
}


def note_unknown_values(event: MuxEvent) -> None:
    """Log each value Mux sends that Lectern does not know, once per process per (field, value).

    The event's type, not `data.status`, drives the lesson's state, so an unknown status changes nothing
    by itself; it is logged so someone can teach Lectern what it means.
    """
    if not event.type.startswith(("video.asset.", "video.upload.")) or event.type.count(".") != 2:
        return  # sub-objects (tracks, renditions) have statuses of their own
    kind = "upload" if event.is_upload_event else "asset"
    errors = event.data.get("errors")
    found = [(f"{kind}.status", event.data.get("status"))]
    if isinstance(errors, dict):
        found.append(("asset.errors.type", errors.get("type")))
    for name, value in found:
        if isinstance(value, str):
            unknown.note_value(
                name, value, KNOWN_VALUES[name], event="webhook.unknown_value", event_id=event.id, type=event.type
            )


# --- planning (pure) -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TransitionPlan:
    """What one event does to its lesson: the outcome, the column changes, and why."""

    outcome: Outcome
    changes: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None


def _text(value: Any) -> str:
    """Mux's text made safe for a Text column (PostgreSQL refuses NUL and lone surrogates), bounded."""
    text = _CONTROL.sub("", str(value))[:MAX_ERROR_CHARS]
    return text.encode("utf-8", "replace").decode("utf-8")


def _asset_error(data: dict[str, Any]) -> str:
    errors = found if isinstance(found := data.get("errors"), dict) else {}
    raw = errors.get("messages")
    messages = [str(m) for m in raw] if isinstance(raw, list) else []
    return _text("; ".join(messages) or str(errors.get("type") or "Mux could not process the video"))


def _upload_error(data: dict[str, Any]) -> str:
    error = found if isinstance(found := data.get("error"), dict) else {}
    return _text(error.get("message") or error.get("type") or "the upload failed")


def _duration(value: Any) -> float | None:
    """Mux's duration in seconds, or None when it is not a plausible one (a huge int overflows a float)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        seconds = float(value)
    except OverflowError:
        return None
    return seconds if math.isfinite(seconds) and 0 <= seconds <= MAX_DURATION_S else None


def _playback_id(data: dict[str, Any], policy: str) -> str | None:
    ids = data.get("playback_ids")
    for item in ids if isinstance(ids, list) else []:
        playback_id = item.get("id") if isinstance(item, dict) and item.get("policy") == policy else None
        if isinstance(playback_id, str) and _ID.fullmatch(playback_id):
            return playback_id
    return None


def ownership_problem(event: MuxEvent, lesson: LessonState) -> str | None:
    """Why `lesson` does not own `event`, or None when it does.

    A lesson that already has a Mux asset or upload owns only events about that asset or upload;
    `passthrough` (free text anyone with access to the Mux environment can set) never re-points it.
    A lesson with neither may be claimed by passthrough (an asset made outside Lectern for it).
    """
    if not (lesson.mux_asset_id or lesson.mux_upload_id):
        return None
    asset_id, upload_id = event.asset_id, event.upload_id
    if (asset_id and asset_id == lesson.mux_asset_id) or (upload_id and upload_id == lesson.mux_upload_id):
        return None
    return (
        f"passthrough names lesson {lesson.id}, but the event's asset {asset_id} / upload {upload_id} "
        f"is not the lesson's (asset {lesson.mux_asset_id} / upload {lesson.mux_upload_id})"
    )


def plan_transition(event: MuxEvent, lesson: LessonState) -> TransitionPlan:
    """What `event` does to `lesson`: the column changes, or why it does nothing."""
    if event.type not in HANDLED_TYPES:
        return TransitionPlan(Outcome.ignored, reason=f"{event.type} does not change a lesson")
    asset_id, upload_id, at = event.asset_id, event.upload_id, event.created_at
    same_asset = bool(asset_id) and asset_id == lesson.mux_asset_id
    same_upload = bool(upload_id) and upload_id == lesson.mux_upload_id
    if event.is_migration_asset and not same_asset:
        return TransitionPlan(
            Outcome.ignored, reason="a migration asset: the migration verifies it, then switches the lesson"
        )
    if not same_asset and upload_id and lesson.mux_upload_id and not same_upload:
        return TransitionPlan(Outcome.stale, reason=f"upload {upload_id} was superseded by {lesson.mux_upload_id}")
    if (problem := ownership_problem(event, lesson)) is not None:
        return TransitionPlan(Outcome.unmatched, reason=problem)
    if at is None:
        # No time: older than anything known. It may fill a lesson with no state yet, and never sets
        # video_status_at, so the next dated event still decides.
        if lesson.video_status_at is not None:
            return TransitionPlan(
                Outcome.stale, reason="event has no created_at, so it cannot be newer than the lesson's state"
            )
        base: dict[str, Any] = {}
    else:
        # While waiting for an upload, video_status_at is our own clock (when the URL was handed out), so
        # events of that very upload are never "older" than it, whatever the clocks say.
        own_pending_upload = lesson.video_status == VideoStatus.waiting_upload and same_upload
        if lesson.video_status_at is not None and at < lesson.video_status_at and not own_pending_upload:
            return TransitionPlan(Outcome.stale, reason=f"event from {at.isoformat()} is older than the lesson's state")
        base = {"video_status_at": at}

    if event.type in (UPLOAD_ASSET_CREATED, ASSET_CREATED):
        if same_asset and lesson.video_status in (VideoStatus.ready, VideoStatus.errored):
            return TransitionPlan(Outcome.stale, reason=f"asset {asset_id} is already {lesson.video_status}")
        changes = {**base, "video_status": VideoStatus.processing.value, "video_error": None}
        if asset_id:
            changes["mux_asset_id"] = asset_id
        if upload_id and not lesson.mux_upload_id:
            changes["mux_upload_id"] = upload_id
        return TransitionPlan(Outcome.applied, changes)

    if event.type == ASSET_READY:
        policy = lesson.playback_policy or PlaybackPolicy.public.value
        playback_id = _playback_id(event.data, policy)
        if playback_id is None:
            return TransitionPlan(
                Outcome.applied,
                {
                    **base,
                    "mux_asset_id": asset_id,
                    "video_status": VideoStatus.errored.value,
                    "video_error": f"asset {asset_id} has no {policy} playback ID; add one in Mux",
                },
            )
        return TransitionPlan(
            Outcome.applied,
            {
                **base,
                "mux_asset_id": asset_id,
                "mux_playback_id": playback_id,
                "video_duration_s": _duration(event.data.get("duration")),
                "video_status": VideoStatus.ready.value,
                "video_provider": VideoProvider.mux.value,
                "video_error": None,
            },
        )

    if event.type == ASSET_ERRORED:
        return TransitionPlan(
            Outcome.applied,
            {
                **base,
                "mux_asset_id": asset_id,
                "video_status": VideoStatus.errored.value,
                "video_error": _asset_error(event.data),
            },
        )

    if event.type == ASSET_DELETED:
        # The asset of the lesson's own upload counts before an earlier event has named it: delivered out of
        # order, the deletion comes first, and the older events after it are then stale.
        own_unnamed_asset = same_upload and not lesson.mux_asset_id
        if not (same_asset or own_unnamed_asset):
            return TransitionPlan(Outcome.ignored, reason=f"asset {asset_id} is not the lesson's current asset")
        changes = {**base, "mux_asset_id": None, "mux_playback_id": None, "video_duration_s": None}
        pending_other_upload = (
            lesson.mux_upload_id
            and not same_upload
            and lesson.video_status in (VideoStatus.waiting_upload, VideoStatus.processing)
        )
        if not pending_other_upload:
            changes.update(
                mux_upload_id=None,
                video_provider=VideoProvider.s3.value if lesson.video_url else None,
                video_status=(VideoStatus.ready if lesson.video_url else VideoStatus.none).value,
                video_error=None,
            )
        return TransitionPlan(Outcome.applied, changes)

    if event.type == UPLOAD_CANCELLED:
        if not same_upload:
            return TransitionPlan(Outcome.ignored, reason=f"upload {upload_id} is not the lesson's pending upload")
        playable = bool(lesson.mux_playback_id or lesson.video_url)
        return TransitionPlan(
            Outcome.applied,
            {
                **base,
                "video_status": (VideoStatus.ready if playable else VideoStatus.none).value,
                "video_error": "upload cancelled",
            },
        )

    # UPLOAD_ERRORED
    if not same_upload:
        return TransitionPlan(Outcome.ignored, reason=f"upload {upload_id} is not the lesson's pending upload")
    return TransitionPlan(
        Outcome.applied,
        {**base, "video_status": VideoStatus.errored.value, "video_error": _upload_error(event.data)},
    )


def plan_upload_change(event: MuxEvent, received_at: datetime) -> UploadChange | None:
    """What `event` says about the direct upload it concerns (its `uploads` row), whatever it does to a lesson.

    Asset events name their upload in `data.upload_id` (Mux sets it on assets made from a direct upload);
    assets made another way have none and change no upload.
    """
    upload_id = event.upload_id
    if event.problem is not None or upload_id is None or event.type not in HANDLED_TYPES:
        return None
    at, asset_id = event.created_at or received_at, event.asset_id
    if event.type in (UPLOAD_ASSET_CREATED, ASSET_CREATED):
        return UploadChange(upload_id, UploadStatus.asset_created, at, asset_id) if asset_id else None
    if event.type == ASSET_READY:
        return UploadChange(upload_id, UploadStatus.ready, at, asset_id)
    if event.type == ASSET_ERRORED:
        return UploadChange(upload_id, UploadStatus.errored, at, asset_id, _asset_error(event.data))
    if event.type == UPLOAD_CANCELLED:
        return UploadChange(upload_id, UploadStatus.cancelled, at)
    if event.type == UPLOAD_ERRORED:
        return UploadChange(upload_id, UploadStatus.errored, at, error=_upload_error(event.data))
    return None  # video.asset.deleted: the upload's outcome stays what it was


# --- processing ------------------------------------------------------------------------------------

LESSONS = table_of(Lesson)
EVENTS = table_of(WebhookEvent)
REJECTIONS = table_of(WebhookRejection)


@dataclass(frozen=True)
class HandleResult:
    event_id: str
    event_type: str
    outcome: str
    lesson_id: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class ReplayResult:
    """A stored event handled again: its outcome before and after, and whether its lesson changed."""

    event_id: str
    event_type: str
    before: str
    after: str
    lesson_id: int | None
    reason: str | None
    lesson_changed: bool

    def as_dict(self) -> dict[str, Any]:
        """The shape the admin API answers and the audit log records."""
        return {
            "event_id": self.event_id,
            "type": self.event_type,
            "before": self.before,
            "after": self.after,
            "lesson_id": self.lesson_id,
            "lesson_changed": self.lesson_changed,
            "reason": self.reason,
        }


class _Statements:
    """Every statement of the hot path, built once per dialect (building them costs more than running them).

    Core, not the ORM: an event touches one row of two tables, and the identity map only added work.
    """

    def __init__(self, dialect: str) -> None:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        self.store = insert(EVENTS).on_conflict_do_nothing().returning(EVENTS.c.id)
        failed_event = update(EVENTS).where(EVENTS.c.id == bindparam("b_id"), EVENTS.c.outcome == Outcome.failed)
        self.claim_failed = failed_event.values(outcome=Outcome.received, error=None).returning(EVENTS.c.id)
        self.claim_failed_as = failed_event.values(
            outcome=bindparam("outcome"), error=bindparam("error"), lesson_id=bindparam("lesson_id")
        ).returning(EVENTS.c.id)
        self.outcome = update(EVENTS).where(EVENTS.c.id == bindparam("b_id"))
        self.mark_failed = update(EVENTS).where(
            EVENTS.c.id == bindparam("b_id"), EVENTS.c.outcome.in_((Outcome.received, Outcome.failed))
        )
        self.update_lesson = update(LESSONS).where(LESSONS.c.id == bindparam("b_lesson_id"))
        upsert = insert(REJECTIONS).values(hour=bindparam("hour"), reason=bindparam("reason"), count=1)
        self.count_rejection = upsert.on_conflict_do_update(
            index_elements=[REJECTIONS.c.hour, REJECTIONS.c.reason], set_={"count": REJECTIONS.c.count + 1}
        )
        stored_event = select(EVENTS.c.outcome, EVENTS.c.payload, EVENTS.c.received_at)
        self.stored_event = stored_event.where(EVENTS.c.id == bindparam("b_id"))
        self.lock_event = select(EVENTS.c.outcome).where(EVENTS.c.id == bindparam("b_id")).with_for_update()
        # SQLite: a write first, so a replay holds the database's write lock before it reads (module docstring).
        self.touch_event = update(EVENTS).where(EVENTS.c.id == bindparam("b_id")).values(outcome=EVENTS.c.outcome)
        state = LessonState.columns()  # what planning reads, not the whole row
        # On the bare cursor (core/db/fast_read.py): SQLAlchemy's execution costs more than the query.
        # The lesson owning the event's asset, else its upload, else the passthrough lesson: one statement,
        # and only the row returned is locked (LIMIT under FOR UPDATE), so an event never holds two locks.
        asset_id, upload_id = bindparam("asset_id", type_=String), bindparam("upload_id", type_=String)
        lesson_id = bindparam("lesson_id", type_=Integer)
        rank = case((LESSONS.c.mux_asset_id == asset_id, 0), (LESSONS.c.mux_upload_id == upload_id, 1), else_=2)
        self.lesson_for_event = FastRead(
            select(*state)
            .where(
                or_(LESSONS.c.mux_asset_id == asset_id, LESSONS.c.mux_upload_id == upload_id, LESSONS.c.id == lesson_id)
            )
            .order_by(rank)
            .limit(1)
            .with_for_update()
        )
        self._store_and_update: dict[tuple[frozenset[str], UploadStatus | None], Any] = {}

    def store_and_update(self, changed: frozenset[str], upload: UploadStatus | None = None) -> Any:
        """PostgreSQL: the event insert, the lesson update and the upload's row in one statement (one round trip).

        `WITH stored AS (INSERT ... ON CONFLICT DO NOTHING RETURNING id)[, upload AS (UPDATE uploads ... AND
        EXISTS (SELECT 1 FROM stored))] UPDATE lessons ... WHERE id = :lesson AND EXISTS (SELECT 1 FROM stored)
        RETURNING id`: no row back means the event was already stored (and nothing changed).
        Parameters: the event's columns prefixed `e_`, the changed lesson columns `l_`, the upload change `u_`.
        """
        key = (changed, upload)
        found = self._store_and_update.get(key)
        if found is None:
            stored = (
                postgresql.insert(EVENTS)
                .values({c.key: bindparam(f"e_{c.key}", type_=c.type) for c in EVENTS.c})
                .on_conflict_do_nothing()
                .returning(EVENTS.c.id)
                .cte("stored")
            )
            found = (
                update(LESSONS)
                .where(LESSONS.c.id == bindparam("b_lesson_id"), exists(select(stored.c.id)))
                .values({key: bindparam(f"l_{key}", type_=LESSONS.c[key].type) for key in sorted(changed)})
                .returning(LESSONS.c.id)
            )
            if upload is not None:
                # A data-modifying CTE runs whether or not the main statement reads it.
                found = found.add_cte(
                    change_statement(upload, prefix="u_", where=[exists(select(stored.c.id))]).cte("upload")
                )
            self._store_and_update[key] = found
        return found


class WebhookProcessor:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        clock: Callable[[], datetime] | None = None,
        max_future_s: float = 300,
    ) -> None:
        self.session_factory = session_factory
        self.engine: Engine = session_factory.kw["bind"]
        self.clock = clock or (lambda: datetime.now(UTC))
        self.max_future_s = max_future_s  # how parse_event judged created_at on arrival; a replay judges the same
        self._sql = _Statements(self.engine.dialect.name)
        # SQLite has one writer; threads of this process queue on a lock instead of on SQLite's busy
        # handler, whose growing sleeps (up to 100 ms) dominated latency under concurrent deliveries.
        self._write_lock: threading.Lock | None = threading.Lock() if self.engine.dialect.name == "sqlite" else None
        self._lock_lesson_first = self.engine.dialect.name == "postgresql"  # see the module docstring

    def handle(self, event: MuxEvent) -> HandleResult:
        with self.exclusive():
            return self._handle(event)

    def exclusive(self) -> threading.Lock | nullcontext[None]:
        """Held around every write of this processor: SQLite's single writer, queued per process."""
        return self._write_lock or nullcontext()

    def count_rejection(self, reason: Rejection) -> None:
        """One more delivery refused for `reason` this hour: one upsert, outside any transaction.

        Never raises: the refusal's answer matters more than its count (a failure is logged).
        """
        try:
            with self.exclusive(), self.engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                conn.execute(self._sql.count_rejection, {"hour": hour_of(self.clock()), "reason": reason.value})
        except Exception as exc:
            log.warning("webhook.rejection_not_counted", reason=reason.value, error=str(exc)[:300])

    def _count_duplicate(self, conn: Connection, event: MuxEvent) -> HandleResult:
        conn.execute(self._sql.count_rejection, {"hour": hour_of(self.clock()), "reason": Rejection.duplicate.value})
        return HandleResult(event.id, event.type, Outcome.duplicate)

    def _apply_upload(self, conn: Connection, event: MuxEvent, change: UploadChange | None = None) -> None:
        now = self.clock()
        change = change or plan_upload_change(event, now)
        if change is not None:
            conn.execute(change_statement(change.status), change.params(now))

    def _handle(self, event: MuxEvent) -> HandleResult:
        try:
            try:
                result = self._transaction(event)
            except DBAPIError as exc:
                if not exc.connection_invalidated:
                    raise
                # The pool handed out a connection the server had dropped (no pre-ping on this hot path).
                log.warning("webhook.connection_retry", event_id=event.id, error=str(exc.orig)[:300])
                result = self._transaction(event)
        except Exception as exc:
            self._record_failure(event, exc)
            log.exception("webhook.failed", event_id=event.id, type=event.type, error=str(exc))
            raise
        log.info(
            "webhook.processed",
            event_id=event.id,
            type=event.type,
            outcome=result.outcome,
            lesson_id=result.lesson_id,
            reason=result.reason,
            asset_id=event.asset_id,
            upload_id=event.upload_id,
        )
        return result

    def _transaction(self, event: MuxEvent) -> HandleResult:
        with self.engine.begin() as conn:
            if self._lock_lesson_first:
                return self._lock_then_store(conn, event)
            return self._store_then_apply(conn, event)

    def _lock_then_store(self, conn: Connection, event: MuxEvent) -> HandleResult:
        sql = self._sql
        lesson = self._find_lesson(conn, event) if self._wants_lesson(event) else None
        plan, result = self._plan(event, lesson)
        values = self._row(event, result.outcome, result.reason) | {"lesson_id": result.lesson_id}
        changes = plan.changes if lesson is not None and plan is not None else {}
        upload = plan_upload_change(event, values["received_at"])
        if changes and lesson is not None:
            params = {f"e_{k}": v for k, v in values.items()} | {f"l_{k}": v for k, v in changes.items()}
            if upload is not None:
                params |= upload.params(values["received_at"], prefix="u_")
            statement = sql.store_and_update(frozenset(changes), upload.status if upload else None)
            if conn.execute(statement, params | {"b_lesson_id": lesson.id}).scalar_one_or_none() is not None:
                return result
            # Already stored: a duplicate, unless an earlier delivery of it failed (then it may apply now).
            if not self._claim_failed(conn, event, result):
                return self._count_duplicate(conn, event)
            conn.execute(sql.update_lesson, {"b_lesson_id": lesson.id, **changes})
            self._apply_upload(conn, event, upload)
            return result
        if conn.execute(sql.store, values).scalar_one_or_none() is None and not self._claim_failed(conn, event, result):
            return self._count_duplicate(conn, event)
        self._apply_upload(conn, event, upload)
        return result

    def _claim_failed(self, conn: Connection, event: MuxEvent, result: HandleResult) -> bool:
        claim = {"b_id": event.id, "outcome": result.outcome, "error": result.reason, "lesson_id": result.lesson_id}
        return conn.execute(self._sql.claim_failed_as, claim).scalar_one_or_none() is not None

    def _store_then_apply(self, conn: Connection, event: MuxEvent) -> HandleResult:
        sql = self._sql
        stored = conn.execute(sql.store, self._row(event, Outcome.received)).scalar_one_or_none() is not None
        if not stored and conn.execute(sql.claim_failed, {"b_id": event.id}).scalar_one_or_none() is None:
            return self._count_duplicate(conn, event)
        lesson = self._find_lesson(conn, event) if self._wants_lesson(event) else None
        plan, result = self._plan(event, lesson)
        if lesson is not None and plan is not None and plan.changes:
            conn.execute(sql.update_lesson, {"b_lesson_id": lesson.id, **plan.changes})
        self._apply_upload(conn, event)
        outcome = {"b_id": event.id, "outcome": result.outcome, "lesson_id": result.lesson_id, "error": result.reason}
        conn.execute(sql.outcome, outcome)
        return result

    def replay_stored(self, conn: Connection, event_id: str) -> ReplayResult | None:
        """Handle a stored event again on the caller's transaction (opened under `exclusive()`); None if unknown.

        The same planner as on arrival, against the lesson as it is now, so the event applies only where it is
        still news (a `failed` event whose cause is fixed, an `unmatched` one whose lesson now exists) and
        changes nothing otherwise. An `applied` event is final: an event applies once. Locks are taken in the
        order deliveries take them (the lesson, then the event row on PostgreSQL), so a delivery of the same
        event racing the replay queues instead of deadlocking.
        """
        sql = self._sql
        if not self._lock_lesson_first:
            conn.execute(sql.touch_event, {"b_id": event_id})
        row = conn.execute(sql.stored_event, {"b_id": event_id}).one_or_none()
        if row is None:
            return None
        event = event_from_document(row.payload, received_at=row.received_at, max_future_s=self.max_future_s)
        if row.outcome == Outcome.applied:
            return ReplayResult(event.id, event.type, row.outcome, row.outcome, None, "already applied", False)
        lesson = self._find_lesson(conn, event) if self._wants_lesson(event) else None
        before = row.outcome
        if self._lock_lesson_first:
            before = conn.execute(sql.lock_event, {"b_id": event_id}).scalar_one()
            if before == Outcome.applied:  # a delivery of it applied while this one waited for the lesson
                return ReplayResult(event.id, event.type, before, before, None, "already applied", False)
        plan, result = self._plan(event, lesson)
        changed = lesson is not None and plan is not None and bool(plan.changes)
        if changed and lesson is not None and plan is not None:
            conn.execute(sql.update_lesson, {"b_lesson_id": lesson.id, **plan.changes})
        self._apply_upload(conn, event)
        outcome = {"b_id": event.id, "outcome": result.outcome, "lesson_id": result.lesson_id, "error": result.reason}
        conn.execute(sql.outcome, outcome)
        return ReplayResult(event.id, event.type, before, result.outcome, result.lesson_id, result.reason, changed)

    def _row(self, event: MuxEvent, outcome: str, error: str | None = None) -> dict[str, Any]:
        received_at = self.clock()  # an undated event's row records when it arrived (the column is required)
        return {
            "id": event.id,
            "type": event.type[:100],
            "object_type": event.object_type,
            "object_id": event.object_id,
            "occurred_at": event.created_at or received_at,
            "received_at": received_at,
            "outcome": outcome,
            "error": error,
            "payload": event.payload,
            "lesson_id": None,
        }

    def _record_failure(self, event: MuxEvent, exc: Exception) -> None:
        error = str(exc)[:2000]
        try:
            with self.engine.begin() as conn:
                conn.execute(self._sql.store, self._row(event, Outcome.failed, error))
                conn.execute(self._sql.mark_failed, {"b_id": event.id, "outcome": Outcome.failed, "error": error})
        except Exception as record_exc:  # the original error matters more; keep it
            log.error("webhook.failure_not_recorded", event_id=event.id, error=str(record_exc))

    def _find_lesson(self, conn: Connection, event: MuxEvent) -> LessonState | None:
        """The lesson, locked: the one owning the event's asset, else its upload, else the passthrough lesson.

        Ownership first: a passthrough naming another lesson must not win over the lesson whose asset or
        upload this is (plan_transition then refuses a passthrough lesson that owns something else).
        """
        if event.asset_id is None and event.upload_id is None and event.passthrough_lesson_id is None:
            return None
        params = {"asset_id": event.asset_id, "upload_id": event.upload_id, "lesson_id": event.passthrough_lesson_id}
        row = self._sql.lesson_for_event.one_or_none(conn, params)
        return LessonState(*row) if row is not None else None

    @staticmethod
    def _wants_lesson(event: MuxEvent) -> bool:
        return event.type in HANDLED_TYPES and event.problem is None

    @staticmethod
    def _plan(event: MuxEvent, lesson: LessonState | None) -> tuple[TransitionPlan | None, HandleResult]:
        if event.problem is not None:
            return None, HandleResult(event.id, event.type, Outcome.ignored, reason=event.problem)
        if event.type not in HANDLED_TYPES:
            reason = f"{event.type} does not change a lesson"
            return None, HandleResult(event.id, event.type, Outcome.ignored, reason=reason)
        if lesson is None:
            return None, HandleResult(event.id, event.type, Outcome.unmatched, reason="no lesson for this event")
        plan = plan_transition(event, lesson)
        lesson_id = None if plan.outcome == Outcome.unmatched else lesson.id
        return plan, HandleResult(event.id, event.type, plan.outcome, lesson_id, plan.reason)

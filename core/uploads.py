"""Every Mux direct upload Lectern creates and what became of it (the `uploads` table).

A lesson keeps only its latest upload id; this table keeps them all, so a replaced or failed upload still
counts in the upload success rate (Admin > Operations).

- `record_upload`: in the transaction that hands the upload out (`core.lessons.LessonVideoService
  .request_upload`, the migration's stream mode in `core.migration.ingest`); insert-or-nothing by upload id,
  so a retried request never records one twice.
- `UploadChange` + `change_statement`: what a webhook event says about its upload, applied by the webhook
  processor in the event's own transaction (`core.webhooks.plan_upload_change` plans it). Statuses only move
  forward: waiting -> asset_created -> ready | errored, and waiting -> cancelled | errored | timed_out, so a
  retried, replayed or late event changes nothing. A `timed_out` row still moves on when Mux says an asset
  was made after all: our clock marked it, Mux's word wins.
- `plan_upload_sweep` (pure) + `sweep_uploads`: Mux sends no webhook when an upload times out, and a missed
  webhook leaves a row behind. The assets sync job calls `sweep_uploads` with its complete asset listing: an
  unfinished upload whose asset is listed takes the asset's state; a `waiting` one with no asset past its
  timeout (plus a grace for webhooks in flight) becomes `timed_out`.
- `upload_stats`: created vs ready / errored / timed out / cancelled, success rate by day and by the user who
  created the upload, and the failures with Mux's error, for the Operations page.

Success rate = ready / (ready + errored + timed_out): a cancelled upload is the teacher's choice and one still
in flight has no outcome yet, so neither counts either way.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Update, bindparam, false, func, literal_column, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnClause

from core.db.models import Lesson, Upload, UploadStatus, User, table_of
from core.heal import asset_error

UPLOADS = table_of(Upload)
# A webhook in flight when the timeout passes must not be contradicted by the sweep.
TIMEOUT_GRACE_S = 300
MAX_ERROR_CHARS = 2000
FINAL = frozenset({UploadStatus.ready, UploadStatus.errored, UploadStatus.cancelled, UploadStatus.timed_out})
UNFINISHED = (UploadStatus.waiting.value, UploadStatus.asset_created.value, UploadStatus.timed_out.value)
# The one definition of an upload's outcome for success rates (the Operations page, the upload alert rule): a
# cancelled upload is the teacher's choice, not a failure, and counts on neither side.
FAILED = (UploadStatus.errored.value, UploadStatus.timed_out.value)
DECIDED = (UploadStatus.ready.value, *FAILED)
# Which statuses each status may be reached from: forward only.
REACHED_FROM: dict[UploadStatus, tuple[str, ...]] = {
    UploadStatus.asset_created: (UploadStatus.waiting.value, UploadStatus.timed_out.value),
    UploadStatus.ready: UNFINISHED,
    UploadStatus.errored: UNFINISHED,
    UploadStatus.cancelled: (UploadStatus.waiting.value, UploadStatus.timed_out.value),
    UploadStatus.timed_out: (UploadStatus.waiting.value,),
}


def record_upload(
    session: Session, upload_id: str, *, lesson_id: int | None, created_by: int | None, now: datetime | None = None
) -> None:
    """Add the new upload (status `waiting`) to the caller's transaction; an id already recorded is left alone."""
    at = now or datetime.now(UTC)
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    row = {
        "mux_upload_id": upload_id,
        "lesson_id": lesson_id,
        "created_by": created_by,
        "status": UploadStatus.waiting.value,
        "created_at": at,
        "updated_at": at,
    }
    session.execute(insert(UPLOADS).values(row).on_conflict_do_nothing(index_elements=["mux_upload_id"]))


# --- changes from webhooks and the sweep ------------------------------------------------------------


@dataclass(frozen=True)
class UploadChange:
    """One upload's new status (and asset, and Mux's error), `at` the time Mux reported it."""

    upload_id: str
    status: UploadStatus
    at: datetime
    asset_id: str | None = None
    error: str | None = None

    def params(self, now: datetime, prefix: str = "") -> dict[str, Any]:
        return {
            f"{prefix}b_upload_id": self.upload_id,
            f"{prefix}status": self.status.value,
            f"{prefix}b_asset_id": self.asset_id,
            f"{prefix}error": self.error[:MAX_ERROR_CHARS] if self.error else None,
            f"{prefix}updated_at": now,
            f"{prefix}finished_at": self.at if self.status in FINAL else None,
        }


def change_statement(status: UploadStatus, *, prefix: str = "", where: Iterable[Any] = ()) -> Update:
    """The UPDATE that applies an `UploadChange` of this status (parameters from `UploadChange.params`, each
    name behind `prefix`; `where` adds conditions, e.g. that the event was stored)."""
    if not prefix and not where:
        return _CHANGES[status]
    return _change_statement(status, prefix, where)


def _change_statement(status: UploadStatus, prefix: str = "", where: Iterable[Any] = ()) -> Update:
    asset_id = bindparam(f"{prefix}b_asset_id", type_=UPLOADS.c.mux_asset_id.type)
    # The statuses as literals: an expanding IN parameter is re-rendered on every execution.
    reached_from: list[ColumnClause[Any]] = [literal_column(f"'{value}'") for value in REACHED_FROM[status]]
    return (
        update(UPLOADS)
        .where(UPLOADS.c.mux_upload_id == bindparam(f"{prefix}b_upload_id"), UPLOADS.c.status.in_(reached_from), *where)
        .values(
            status=bindparam(f"{prefix}status"),
            mux_asset_id=func.coalesce(asset_id, UPLOADS.c.mux_asset_id),
            error=bindparam(f"{prefix}error"),
            updated_at=bindparam(f"{prefix}updated_at", type_=UPLOADS.c.updated_at.type),
            finished_at=bindparam(f"{prefix}finished_at", type_=UPLOADS.c.finished_at.type),
        )
    )


# Built once: composing a statement costs more than running it (webhooks are a hot path).
_CHANGES = {status: _change_statement(status) for status in REACHED_FROM}


def apply_change(conn: Connection, change: UploadChange, now: datetime) -> bool:
    """Apply one change on the caller's connection; whether a row moved."""
    result = conn.execute(change_statement(change.status), change.params(now))
    return bool(result.rowcount)


@dataclass(frozen=True)
class PendingUpload:
    upload_id: str
    status: str
    created_at: datetime


def plan_upload_sweep(
    pending: Iterable[PendingUpload], assets: Iterable[Mapping[str, Any]], *, now: datetime, timeout_s: int
) -> list[UploadChange]:
    """What a complete asset listing says about unfinished uploads (pure)."""
    by_upload: dict[str, Mapping[str, Any]] = {}
    for listed in assets:
        upload_id = listed.get("upload_id")
        if upload_id and listed.get("id"):
            by_upload[str(upload_id)] = listed
    expired_before = now - timedelta(seconds=timeout_s + TIMEOUT_GRACE_S)
    changes: list[UploadChange] = []
    for row in pending:
        asset = by_upload.get(row.upload_id)
        if asset is not None:
            asset_id, status = str(asset["id"]), asset.get("status")
            if status == "ready":
                changes.append(UploadChange(row.upload_id, UploadStatus.ready, now, asset_id))
            elif status == "errored":
                changes.append(UploadChange(row.upload_id, UploadStatus.errored, now, asset_id, asset_error(asset)))
            elif row.status != UploadStatus.asset_created:
                changes.append(UploadChange(row.upload_id, UploadStatus.asset_created, now, asset_id))
        elif row.status == UploadStatus.waiting and row.created_at < expired_before:
            error = f"no file arrived within the upload's timeout ({timeout_s} s)"
            changes.append(UploadChange(row.upload_id, UploadStatus.timed_out, now, error=error))
    return changes


def sweep_uploads(conn: Connection, assets: Iterable[Mapping[str, Any]], *, now: datetime, timeout_s: int) -> int:
    """Apply `plan_upload_sweep` to every unfinished upload, on the caller's connection; rows changed."""
    rows = conn.execute(
        select(UPLOADS.c.mux_upload_id, UPLOADS.c.status, UPLOADS.c.created_at).where(UPLOADS.c.status.in_(UNFINISHED))
    ).all()
    pending = [PendingUpload(*row) for row in rows]
    if not pending:
        return 0
    changes = plan_upload_sweep(pending, assets, now=now, timeout_s=timeout_s)
    return sum(apply_change(conn, change, now) for change in changes)


# --- statistics for the Operations page --------------------------------------------------------------


@dataclass(frozen=True)
class UploadRow:
    upload_id: str
    lesson_id: int | None
    created_by: int | None
    creator: str | None  # the user's name, or None (a migration upload, or a deleted user)
    lesson_title: str | None
    status: str
    asset_id: str | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class UploadTally:
    """Counts for one group (a day, a user, everything)."""

    created: int = 0
    by_status: dict[str, int] = field(default_factory=dict)

    @property
    def ready(self) -> int:
        return self.by_status.get(UploadStatus.ready, 0)

    @property
    def failed(self) -> int:
        return sum(self.by_status.get(UploadStatus(status), 0) for status in FAILED)

    @property
    def success_rate(self) -> float | None:
        """ready / (ready + errored + timed_out); None while nothing has an outcome."""
        decided = self.ready + self.failed
        return self.ready / decided if decided else None


@dataclass(frozen=True)
class UploadStats:
    total: UploadTally
    by_day: dict[date, UploadTally]  # by the day the upload was created (UTC)
    by_user: dict[int | None, UploadTally]  # by created_by (None: migration uploads, deleted users)
    user_names: dict[int, str]
    failures: list[UploadRow]  # errored and timed out, newest first, at most `max_failures`


def _tally(counts: Mapping[str, int]) -> UploadTally:
    return UploadTally(created=sum(counts.values()), by_status=dict(counts))


def upload_rows(
    session: Session | Connection,
    *,
    since: datetime,
    until: datetime,
    statuses: Iterable[str] | None = None,
    users: Collection[int | None] | None = None,
    limit: int | None = None,
) -> list[UploadRow]:
    """The uploads created in [since, until), newest first, with their creator's name and lesson title.

    `users`: only those created by these user ids (None in it: uploads without a user, e.g. the migration's);
    `limit`: at most that many rows."""
    query = (
        select(
            UPLOADS.c.mux_upload_id,
            UPLOADS.c.lesson_id,
            UPLOADS.c.created_by,
            User.name,
            Lesson.title,
            UPLOADS.c.status,
            UPLOADS.c.mux_asset_id,
            UPLOADS.c.error,
            UPLOADS.c.created_at,
            UPLOADS.c.finished_at,
        )
        .select_from(UPLOADS)
        .outerjoin(User, User.id == UPLOADS.c.created_by)
        .outerjoin(Lesson, Lesson.id == UPLOADS.c.lesson_id)
        .where(UPLOADS.c.created_at >= since, UPLOADS.c.created_at < until)
        .order_by(UPLOADS.c.created_at.desc(), UPLOADS.c.id.desc())
    )
    if statuses is not None:
        query = query.where(UPLOADS.c.status.in_(list(statuses)))
    if users is not None:
        ids = [u for u in users if u is not None]
        by: list[ColumnElement[bool]] = [UPLOADS.c.created_by.in_(ids)] if ids else []
        if None in users:
            by.append(UPLOADS.c.created_by.is_(None))
        query = query.where(or_(*by) if by else false())
    if limit is not None:
        query = query.limit(limit)
    return [UploadRow(*row) for row in session.execute(query).all()]


def _created_day(reader: Session | Connection) -> ColumnElement[Any]:
    """The UTC day an upload was created, computed by the database."""
    dialect = reader.dialect if isinstance(reader, Connection) else reader.get_bind().dialect
    if dialect.name == "postgresql":
        return func.date(func.timezone("UTC", UPLOADS.c.created_at))
    return func.date(UPLOADS.c.created_at)  # SQLite stores UTC text


def upload_stats(
    session: Session | Connection, *, since: datetime, until: datetime, max_failures: int = 100
) -> UploadStats:
    """Uploads created in [since, until): totals, by day, by creating user, and the failures with Mux's error.

    Counted in SQL per (day, user, status): a week of uploads is a few hundred groups, not a row each."""
    day = _created_day(session).label("day")
    grouped = session.execute(
        select(day, UPLOADS.c.created_by, User.name, UPLOADS.c.status, func.count())
        .select_from(UPLOADS)
        .outerjoin(User, User.id == UPLOADS.c.created_by)
        .where(UPLOADS.c.created_at >= since, UPLOADS.c.created_at < until)
        .group_by(day, UPLOADS.c.created_by, User.name, UPLOADS.c.status)
    ).all()
    total: Counter[str] = Counter()
    days: dict[date, Counter[str]] = defaultdict(Counter)
    users: dict[int | None, Counter[str]] = defaultdict(Counter)
    names: dict[int, str] = {}
    for created, user, name, status, count in grouped:
        on = created if isinstance(created, date) else date.fromisoformat(str(created)[:10])
        total[status] += count
        days[on][status] += count
        users[user][status] += count
        if user is not None and name is not None:
            names[user] = name
    failed = (UploadStatus.errored.value, UploadStatus.timed_out.value)
    return UploadStats(
        total=_tally(total),
        by_day={on: _tally(counts) for on, counts in sorted(days.items())},
        by_user={user: _tally(counts) for user, counts in users.items()},
        user_names=names,
        failures=upload_rows(session, since=since, until=until, statuses=failed, limit=max_failures)
        if max_failures > 0
        else [],
    )

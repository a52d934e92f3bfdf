"""What Admin > Operations reads: the platform DB's operational tables (SQL here) and the warehouse's playback
and sync figures (named queries in warehouse/operations.py and warehouse/queries.py).

Platform-DB functions take a session factory and a window `[start, end)` of UTC datetimes, bind every value,
and run the same statements on PostgreSQL and SQLite; only the hour/day truncation and the delivery lag
are spelled per dialect (`_hour`, `_day`, `_seconds_between`). Times come back as UTC pandas timestamps.
Operations is for admins (the page checks the role), so nothing here is scoped to a teacher.
A platform DB that does not answer raises `OperationsDataUnavailable` (shown by the page's error display).

Tables: `webhook_events` (every stored event; its `occurred_at` is Mux's `created_at`), `webhook_rejections`
(deliveries answered but not stored, per hour and reason), `uploads` (every direct upload), `migration_jobs`,
`alerts` and `operator_actions`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy import ColumnElement, Select, and_, case, func, literal, literal_column, or_, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.db.models import (
    Alert,
    AlertState,
    Course,
    Lesson,
    MigrationJob,
    MigrationState,
    OperatorAction,
    Upload,
    User,
    WebhookEvent,
    WebhookRejection,
)
from core.errors import TransientError
from dashboard import analytics
from dashboard.analytics import NoWarehouse
from warehouse import operations, queries
from warehouse.store import WarehouseNotReady

MAX_ROWS = 500
OPEN_ALERT_STATES = (AlertState.pending.value, AlertState.firing.value)
FINISHED_MIGRATION = (MigrationState.done.value, MigrationState.failed.value)


class OperationsDataUnavailable(TransientError):
    """The platform DB did not answer the Operations page's read."""


@contextmanager
def _reading(factory: sessionmaker[Session]) -> Iterator[Session]:
    try:
        with factory() as session:
            yield session
    except (OperationalError, DBAPIError) as exc:
        raise OperationsDataUnavailable(
            f"the platform database did not answer ({type(exc).__name__}); try again in a moment"
        ) from exc


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


# date_bin (PostgreSQL 14+) from a UTC midnight cuts UTC hours and days whatever the session's time zone, and
# costs a fraction of date_trunc(timezone(...)) over a week of events.
_UTC_ORIGIN: ColumnElement[Any] = literal_column("TIMESTAMPTZ '2000-01-01 00:00:00+00'")


def _hour(session: Session, column: Any) -> ColumnElement[Any]:
    if _dialect(session) == "postgresql":
        return func.date_bin(literal_column("INTERVAL '1 hour'"), column, _UTC_ORIGIN)
    return func.strftime("%Y-%m-%d %H:00:00", column)  # SQLite stores UTC text


def _day(session: Session, column: Any) -> ColumnElement[Any]:
    if _dialect(session) == "postgresql":
        return func.date_bin(literal_column("INTERVAL '1 day'"), column, _UTC_ORIGIN)
    return func.strftime("%Y-%m-%d 00:00:00", column)


def _seconds_between(session: Session, earlier: Any, later: Any) -> ColumnElement[Any]:
    if _dialect(session) == "postgresql":
        # date_part gives a double; EXTRACT gives a numeric, several times slower to average.
        return func.date_part("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _frame(
    session: Session, stmt: Select[*tuple[Any, ...]], times: Sequence[str] = (), *, sort: Sequence[str] = ()
) -> pd.DataFrame:
    """The rows as a frame; `sort` orders a grouped result here rather than in SQL, where an ORDER BY over a
    computed hour makes PostgreSQL sort every row (on disk past work_mem) instead of hashing the groups."""
    rows = session.execute(stmt).mappings().all()
    df = pd.DataFrame([dict(r) for r in rows], columns=list(stmt.selected_columns.keys()))
    for column in times:
        # Both backends' answers (aware or naive datetimes, SQLite's text) as UTC timestamps.
        df[column] = pd.to_datetime(df[column], utc=True, format="ISO8601")
    return df.sort_values(list(sort), ignore_index=True) if sort else df


# --- webhooks --------------------------------------------------------------------------------------


def webhook_hourly(factory: sessionmaker[Session], start: datetime, end: datetime) -> pd.DataFrame:
    """Stored events per received hour and outcome."""
    e = WebhookEvent
    with _reading(factory) as session:
        hour = _hour(session, e.received_at).label("hour")
        stmt = (
            select(hour, e.outcome, func.count().label("events"))
            .where(e.received_at >= start, e.received_at < end)
            .group_by(hour, e.outcome)
        )
        return _frame(session, stmt, ["hour"], sort=["hour", "outcome"])


def webhook_types(factory: sessionmaker[Session], start: datetime, end: datetime) -> pd.DataFrame:
    """Stored events per type and outcome, with the mean and worst delivery lag (seconds).

    Separate from the hourly counts: grouping a week of events by hour, type and outcome at once costs more
    than the two smaller groupings together."""
    e = WebhookEvent
    with _reading(factory) as session:
        lag = _seconds_between(session, e.occurred_at, e.received_at)
        stmt = (
            select(
                e.type,
                e.outcome,
                func.count().label("events"),
                func.avg(lag).label("lag_avg_s"),
                func.max(lag).label("lag_max_s"),
            )
            .where(e.received_at >= start, e.received_at < end)
            .group_by(e.type, e.outcome)
        )
        return _frame(session, stmt, sort=["type", "outcome"])


def webhook_lag(factory: sessionmaker[Session], start: datetime, end: datetime) -> dict[str, float | None]:
    """Delivery lag (Mux's `created_at` to received) of the window's events: p50, p95 and max, in seconds."""
    e = WebhookEvent
    window = and_(e.received_at >= start, e.received_at < end)
    with _reading(factory) as session:
        lag = _seconds_between(session, e.occurred_at, e.received_at)
        if _dialect(session) == "postgresql":
            # Both percentiles from one sort.
            percentiles, worst = session.execute(
                select(func.percentile_cont(postgresql.array([0.5, 0.95])).within_group(lag), func.max(lag)).where(
                    window
                )
            ).one()
            p50, p95 = percentiles or (None, None)
        else:  # SQLite has no percentile function; an embedded deployment's events fit in memory
            lags = pd.Series(session.execute(select(lag).where(window)).scalars().all(), dtype="float64")
            p50, p95, worst = (lags.quantile(0.5), lags.quantile(0.95), lags.max()) if len(lags) else (None,) * 3
    return {k: None if v is None or pd.isna(v) else float(v) for k, v in (("p50", p50), ("p95", p95), ("max", worst))}


def last_received(factory: sessionmaker[Session]) -> pd.DataFrame:
    """Per event type, when the last one arrived (any time, not only in the window), newest first."""
    e = WebhookEvent
    with _reading(factory) as session:
        stmt = (
            select(e.type, func.max(e.received_at).label("last_received_at"))
            .group_by(e.type)
            .order_by(func.max(e.received_at).desc())
        )
        return _frame(session, stmt, ["last_received_at"])


def webhook_events(
    factory: sessionmaker[Session],
    start: datetime,
    end: datetime,
    *,
    type: str | None = None,
    outcome: str | None = None,
    hour: datetime | None = None,
    lesson_id: int | None = None,
    object_id: str | None = None,
    limit: int = MAX_ROWS,
) -> pd.DataFrame:
    """The stored events behind a number, newest first (no payload: the webhook log shows one at a time)."""
    e = WebhookEvent
    with _reading(factory) as session:
        stmt = select(
            e.received_at,
            e.type,
            e.outcome,
            e.lesson_id,
            e.object_type,
            e.object_id,
            e.occurred_at,
            _seconds_between(session, e.occurred_at, e.received_at).label("lag_s"),
            e.error,
            e.id,
        ).where(e.received_at >= start, e.received_at < end)
        if type is not None:
            stmt = stmt.where(e.type == type)
        if outcome is not None:
            stmt = stmt.where(e.outcome == outcome)
        if hour is not None:
            stmt = stmt.where(e.received_at >= hour, e.received_at < hour + timedelta(hours=1))
        if lesson_id is not None:
            stmt = stmt.where(e.lesson_id == lesson_id)
        if object_id is not None:
            stmt = stmt.where(e.object_id == object_id)
        stmt = stmt.order_by(e.received_at.desc(), e.id).limit(limit)
        return _frame(session, stmt, ["received_at", "occurred_at"])


def webhook_payload(factory: sessionmaker[Session], event_id: str) -> dict[str, Any] | None:
    """The stored body of one event as Mux sent it (None when no event has that id); callers redact it."""
    with _reading(factory) as session:
        payload = session.execute(select(WebhookEvent.payload).where(WebhookEvent.id == event_id)).scalar_one_or_none()
    return dict(payload) if isinstance(payload, dict) else None


def webhook_rejections(factory: sessionmaker[Session], start: datetime, end: datetime) -> pd.DataFrame:
    """Deliveries answered but not stored (duplicates, refused signatures ...) per hour and reason."""
    r = WebhookRejection
    first_hour = start.replace(minute=0, second=0, microsecond=0)
    with _reading(factory) as session:
        stmt = (
            select(r.hour, r.reason, r.count.label("deliveries"))
            .where(r.hour >= first_hour, r.hour < end)
            .order_by(r.hour, r.reason)
        )
        return _frame(session, stmt, ["hour"])


# --- uploads ---------------------------------------------------------------------------------------


def _upload_teacher() -> ColumnElement[Any]:
    # The lesson's teacher; an upload whose lesson is gone counts for the user who created it.
    return func.coalesce(Course.teacher_id, Upload.created_by)


def _uploads_joined(stmt: Select[*tuple[Any, ...]]) -> Select[*tuple[Any, ...]]:
    return (
        stmt.select_from(Upload)
        .outerjoin(Lesson, Lesson.id == Upload.lesson_id)
        .outerjoin(Course, Course.id == Lesson.course_id)
        .outerjoin(User, User.id == _upload_teacher())
    )


def uploads_grouped(factory: sessionmaker[Session], start: datetime, end: datetime) -> pd.DataFrame:
    """Uploads created in the window per UTC day, teacher and status."""
    u = Upload
    with _reading(factory) as session:
        day = _day(session, u.created_at).label("day")
        teacher = _upload_teacher().label("teacher_id")
        stmt = _uploads_joined(
            select(day, teacher, User.name.label("teacher_name"), u.status, func.count().label("uploads"))
        )
        stmt = stmt.where(u.created_at >= start, u.created_at < end).group_by(day, teacher, User.name, u.status)
        return _frame(session, stmt, ["day"], sort=["day", "teacher_id", "status"])


def upload_rows(
    factory: sessionmaker[Session],
    start: datetime,
    end: datetime,
    *,
    statuses: Sequence[str] | None = None,
    teacher_id: int | None = None,
    day: datetime | None = None,
    limit: int = MAX_ROWS,
) -> pd.DataFrame:
    """The uploads behind a number, newest first, with Mux's error for each failed one."""
    u = Upload
    with _reading(factory) as session:
        stmt = _uploads_joined(
            select(
                u.created_at,
                u.status,
                u.error,
                u.lesson_id,
                Lesson.title.label("lesson_title"),
                _upload_teacher().label("teacher_id"),
                User.name.label("teacher_name"),
                u.mux_upload_id,
                u.mux_asset_id,
                u.finished_at,
            )
        ).where(u.created_at >= start, u.created_at < end)
        if statuses is not None:
            stmt = stmt.where(u.status.in_(list(statuses)))
        if teacher_id is not None:
            # The same test as _upload_teacher(), spelt so PostgreSQL can use the lesson index.
            theirs = (
                select(Lesson.id).join(Course, Course.id == Lesson.course_id).where(Course.teacher_id == teacher_id)
            )
            stmt = stmt.where(or_(u.lesson_id.in_(theirs), and_(u.lesson_id.is_(None), u.created_by == teacher_id)))
        if day is not None:
            stmt = stmt.where(u.created_at >= day, u.created_at < day + timedelta(days=1))
        stmt = stmt.order_by(u.created_at.desc(), u.id).limit(limit)
        return _frame(session, stmt, ["created_at", "finished_at"])


# --- migration, alerts, audit ----------------------------------------------------------------------


def migration_finished(factory: sessionmaker[Session], start: datetime, end: datetime) -> pd.DataFrame:
    """Migration jobs that finished (done or failed) in the window, per hour and state."""
    j = MigrationJob
    with _reading(factory) as session:
        hour = _hour(session, j.finished_at).label("hour")
        stmt = (
            select(hour, j.state, func.count().label("jobs"))
            .where(j.finished_at >= start, j.finished_at < end, j.state.in_(FINISHED_MIGRATION))
            .group_by(hour, j.state)
        )
        return _frame(session, stmt, ["hour"], sort=["hour", "state"])


def open_alerts(factory: sessionmaker[Session]) -> pd.DataFrame:
    """Alerts that are pending or firing, firing first, then the most recently seen."""
    a = Alert
    firing_first = case((a.state == AlertState.firing.value, literal(0)), else_=literal(1))
    with _reading(factory) as session:
        stmt = (
            select(
                a.id,
                a.state,
                a.severity,
                a.kind,
                a.subject,
                a.message,
                a.value,
                a.threshold,
                a.first_seen_at,
                a.last_seen_at,
                a.fired_at,
                a.acknowledged_at,
                a.acknowledged_by,
                a.silenced_until,
                a.lesson_id,
                a.teacher_id,
            )
            .where(a.state.in_(OPEN_ALERT_STATES))
            .order_by(firing_first, a.last_seen_at.desc(), a.id)
            .limit(MAX_ROWS)
        )
        return _frame(session, stmt, ["first_seen_at", "last_seen_at", "fired_at", "acknowledged_at", "silenced_until"])


def operator_actions(
    factory: sessionmaker[Session], start: datetime, end: datetime, *, prefix: str | None = None, limit: int = 50
) -> pd.DataFrame:
    """Audit rows of the window (actions starting with `prefix`, e.g. `migration.`), newest first."""
    o = OperatorAction
    with _reading(factory) as session:
        stmt = select(o.created_at, o.action, o.actor, o.target, o.outcome, o.detail).where(
            o.created_at >= start, o.created_at < end
        )
        if prefix is not None:
            stmt = stmt.where(o.action.startswith(prefix, autoescape=True))
        stmt = stmt.order_by(o.created_at.desc(), o.id.desc()).limit(limit)
        return _frame(session, stmt, ["created_at"])


# --- the warehouse ---------------------------------------------------------------------------------

CACHE_TTL_S = 60
WAREHOUSE_QUERIES: dict[str, Callable[..., pd.DataFrame]] = {
    "playback_totals": operations.playback_totals,
    "playback_breakdown": operations.playback_breakdown,
    "playback_errors": operations.playback_errors,
    "failed_views": operations.failed_views,
    "sync_status": queries.sync_status,
}


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=256)
def _cached(name: str, snapshot_path: str, params: tuple[tuple[str, Any], ...]) -> pd.DataFrame:
    del snapshot_path  # part of the cache key only: a newly published snapshot reads afresh
    with analytics.reader().connect() as con:
        return WAREHOUSE_QUERIES[name](con, **dict(params))


def from_warehouse(name: str, **params: Any) -> pd.DataFrame:
    """A named warehouse query over the published snapshot, cached per snapshot and parameters (the window
    ends on a whole minute, so reruns within the minute hit the cache). `NoWarehouse` before the first sync."""
    try:
        return _cached(name, analytics.snapshot(), tuple(sorted(params.items())))
    except WarehouseNotReady as exc:
        raise NoWarehouse(f"No warehouse yet: {exc}") from None

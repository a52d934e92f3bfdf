"""What the Operations pages read and do: the platform DB's operational tables, the warehouse's playback, sync
and orphaned-asset figures, and the alert actions.

Where core already answers a question, this module only calls it and shapes the answer as a frame, so the page,
`lectern` and the API give the same figures: the webhook log's search, detail and refusal counts
(`core.webhook_log`), the uploads' statistics and rows (`core.uploads`), the open alerts, failed notifications,
acknowledge and silence (`core.alerts.store`), the orphaned assets (`warehouse.orphans`). The figures only the
page needs are SQL here (events per hour, per type and their lag, the last received, migration finishes, the
audit rows): bound parameters, the same statements on PostgreSQL and SQLite, only the hour/day truncation and
the delivery lag spelt per dialect (`_hour`, `_seconds_between`). Times come back as UTC pandas
timestamps. Operations is for admins (the pages check the role), so nothing here is scoped to a teacher.
A platform DB that does not answer raises `OperationsDataUnavailable` (shown by the page's error display).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import asdict
from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy import ColumnElement, Select, and_, func, literal_column, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core import uploads, webhook_log
from core.alerts import store as alerts_store
from core.alerts.store import AlertRow, NotificationRow, parse_duration
from core.assets import DeleteResult
from core.assets.orphans import OrphanPlan
from core.db.models import MigrationJob, MigrationState, OperatorAction, WebhookEvent
from core.errors import TransientError
from core.uploads import UploadStats
from core.webhook_log import EventFilter, EventRow
from core.webhook_ops import REPLAY_MAX_EVENTS, RepairResult, ReplayBatch
from core.webhooks import ReplayResult
from dashboard import analytics, context
from dashboard.analytics import NoWarehouse
from warehouse import operations, queries
from warehouse.orphans import orphaned_assets
from warehouse.store import WarehouseNotReady

MAX_ROWS = 500
EVENTS_SHOWN = webhook_log.MAX_PAGE_SIZE
EVENT_COLUMNS = [*EventRow.__dataclass_fields__, "lag_s"]
# Mux's error next to the status: the reason an admin opens the table.
UPLOAD_COLUMNS = ["created_at", "status", "error", "lesson_id", "lesson_title", "creator", "created_by", "upload_id",
                  "asset_id", "finished_at"]  # fmt: skip
FINISHED_MIGRATION = (MigrationState.done.value, MigrationState.failed.value)


class OperationsDataUnavailable(TransientError):
    """The platform DB did not answer the Operations page's read."""


@contextmanager
def _platform(factory: sessionmaker[Session], *, commit: bool = False) -> Iterator[Session]:
    """A session (in a transaction that commits on success when `commit`); a database that does not answer
    is `OperationsDataUnavailable`."""
    try:
        with factory() as session, session.begin() if commit else nullcontext():
            yield session
    except (OperationalError, DBAPIError) as exc:
        raise OperationsDataUnavailable(
            f"the platform database did not answer ({type(exc).__name__}); try again in a moment"
        ) from exc


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


# date_bin (PostgreSQL 14+) from a UTC midnight cuts UTC hours whatever the session's time zone, and
# costs a fraction of date_trunc(timezone(...)) over a week of events.
_UTC_ORIGIN: ColumnElement[Any] = literal_column("TIMESTAMPTZ '2000-01-01 00:00:00+00'")


def _hour(session: Session, column: Any) -> ColumnElement[Any]:
    if _dialect(session) == "postgresql":
        return func.date_bin(literal_column("INTERVAL '1 hour'"), column, _UTC_ORIGIN)
    return func.strftime("%Y-%m-%d %H:00:00", column)  # SQLite stores UTC text


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
    with _platform(factory) as session:
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
    with _platform(factory) as session:
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
    with _platform(factory) as session:
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
    with _platform(factory) as session:
        stmt = (
            select(e.type, func.max(e.received_at).label("last_received_at"))
            .group_by(e.type)
            .order_by(func.max(e.received_at).desc())
        )
        return _frame(session, stmt, ["last_received_at"])


def events(factory: sessionmaker[Session], where: EventFilter) -> tuple[pd.DataFrame, bool]:
    """The newest stored events matching `where` (core.webhook_log's search, one page of EVENTS_SHOWN), and
    whether older ones match too. No payload: the webhook log shows one event at a time."""
    with _platform(factory) as session:
        page = webhook_log.search_events(session, where, limit=EVENTS_SHOWN)
    rows = [{**asdict(row), "lag_s": row.lag_s} for row in page.items]
    frame = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    for column in ("received_at", "occurred_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame, page.next_cursor is not None


def event_detail(factory: sessionmaker[Session], event_id: str) -> webhook_log.EventDetail:
    """One stored event with its payload redacted (core.webhook_log); `NotFound` when it is gone."""
    with _platform(factory) as session:
        return webhook_log.event_detail(session, event_id)


def replay_count(factory: sessionmaker[Session], where: EventFilter) -> int:
    """How many events a filtered replay would take (those not `applied`), counting at most one past the
    replay's own cap so the question can say "more than"."""
    with _platform(factory) as session:
        return len(webhook_log.event_ids_in_order(session, where, limit=REPLAY_MAX_EVENTS + 1))


def webhook_rejections(factory: sessionmaker[Session], start: datetime, end: datetime) -> pd.DataFrame:
    """Deliveries answered but not stored (duplicates, refused signatures ...) per hour and reason, for every
    hour the window touches (core.webhook_log's counts)."""
    first_hour = start.replace(minute=0, second=0, microsecond=0)
    with _platform(factory) as session:
        counts = webhook_log.rejection_counts(session, since=first_hour, until=end)
    frame = pd.DataFrame([(c.hour, c.reason, c.count) for c in counts], columns=["hour", "reason", "deliveries"])
    frame["hour"] = pd.to_datetime(frame["hour"], utc=True)
    return frame


# --- uploads ---------------------------------------------------------------------------------------


def upload_stats(factory: sessionmaker[Session], start: datetime, end: datetime) -> UploadStats:
    """Uploads created in the window: totals, by day and by the user who created them (core.uploads, the
    figures `lectern` and the API report too)."""
    with _platform(factory) as session:
        # The page lists the failures itself, narrowed by what is picked (upload_rows).
        return uploads.upload_stats(session, since=start, until=end, max_failures=0)


def upload_rows(
    factory: sessionmaker[Session],
    start: datetime,
    end: datetime,
    *,
    statuses: Sequence[str] | None = None,
    users: Sequence[int | None] | None = None,
    limit: int = MAX_ROWS,
) -> pd.DataFrame:
    """The uploads behind a number, newest first, with Mux's error for each failed one."""
    with _platform(factory) as session:
        rows = uploads.upload_rows(session, since=start, until=end, statuses=statuses, users=users, limit=limit)
    frame = pd.DataFrame([asdict(r) for r in rows], columns=UPLOAD_COLUMNS)
    for column in ("created_at", "finished_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


# --- migration, alerts, audit ----------------------------------------------------------------------


def migration_finished(factory: sessionmaker[Session], start: datetime, end: datetime) -> pd.DataFrame:
    """Migration jobs that finished (done or failed) in the window, per hour and state."""
    j = MigrationJob
    with _platform(factory) as session:
        hour = _hour(session, j.finished_at).label("hour")
        stmt = (
            select(hour, j.state, func.count().label("jobs"))
            .where(j.finished_at >= start, j.finished_at < end, j.state.in_(FINISHED_MIGRATION))
            .group_by(hour, j.state)
        )
        return _frame(session, stmt, ["hour"], sort=["hour", "state"])


def open_alerts(factory: sessionmaker[Session]) -> list[AlertRow]:
    """Alerts not resolved, firing first (core.alerts.store, as My lessons and `lectern alerts` read them)."""
    with _platform(factory) as session:
        return alerts_store.open_alerts(session, limit=MAX_ROWS)


def notification_failures(factory: sessionmaker[Session]) -> list[NotificationRow]:
    """Alert notifications that gave up, or wait to retry after an error, newest first."""
    with _platform(factory) as session:
        return alerts_store.notification_failures(session)


def alert_action(
    factory: sessionmaker[Session], action: str, alert_id: int, *, actor: str, duration: str | None = None
) -> AlertRow:
    """Acknowledge an open alert, or silence its notifications for `duration` (`1h`, `90m`, `2d`); the alert and
    its audit row commit together. `AlertNotFound`, `AlertConflict` (resolved), `AlertInputInvalid`."""
    with _platform(factory, commit=True) as session:
        if action == "silence":
            return alerts_store.silence(session, alert_id, actor=actor, duration=parse_duration(duration or ""))
        return alerts_store.acknowledge(session, alert_id, actor=actor)


def operator_actions(
    factory: sessionmaker[Session], start: datetime, end: datetime, *, prefix: str | None = None, limit: int = 50
) -> pd.DataFrame:
    """Audit rows of the window (actions starting with `prefix`, e.g. `migration.`), newest first."""
    o = OperatorAction
    with _platform(factory) as session:
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
    except NoWarehouse:
        raise
    except WarehouseNotReady:
        raise NoWarehouse(analytics.NOT_SYNCED) from None


# --- orphaned assets -------------------------------------------------------------------------------


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=4)
def _orphans(snapshot_path: str) -> OrphanPlan:
    del snapshot_path  # part of the cache key only
    with analytics.reader().connect() as con:
        return orphaned_assets(con, context.lectern().orphans)


def orphans() -> OrphanPlan:
    """The orphaned assets of the last `assets` sync with their monthly cost (`warehouse.orphans`, as
    `lectern assets orphans` lists them), cached per snapshot; `forget_orphans` after a delete."""
    try:
        return _orphans(analytics.snapshot())
    except NoWarehouse:
        raise
    except WarehouseNotReady:
        raise NoWarehouse(analytics.NOT_SYNCED) from None


def forget_orphans() -> None:
    _orphans.clear()


def asset_action(action: str, asset_id: str, *, actor: str) -> DeleteResult:
    """Delete (the one action) an orphaned asset the page listed (`OrphanedAssetService.delete`: re-checked
    against Mux and the platform DB, audited); `AssetInUse`, `AssetNotFound`, Mux's errors. The cached list is
    read afresh."""
    if action != "delete_asset":
        raise ValueError(f"unknown asset action {action!r}")
    try:
        return context.lectern().orphans.delete(asset_id, actor=actor, known=True)
    finally:
        forget_orphans()


# --- webhook replay and lesson repair ----------------------------------------------------------------


def webhook_action(
    action: str, target: Any, *, actor: str, max_events: int = REPLAY_MAX_EVENTS
) -> ReplayResult | ReplayBatch | RepairResult:
    """Replay one stored event (`target` its id), every matching one (`target` an EventFilter), or repair a
    lesson from Mux (`target` its id), through `WebhookOperations`: audited under `actor`."""
    ops = context.lectern().webhook_ops
    if action == "replay_matching":
        return ops.replay_matching(target, actor=actor, max_events=max_events)
    if action == "repair":
        return ops.repair_lesson(int(target), actor=actor)
    return ops.replay(str(target), actor=actor)

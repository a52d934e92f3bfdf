"""View model of Admin > Operations, Playback health, Migration actions and Webhook log: the time window, the
KPI cards, the tables a row is picked from, and what a pick narrows the detail table below to.

Pure functions of what dashboard/operations_db.py reads (frames, and core's own results: `UploadStats`,
`OrphanPlan`, `AlertRow`), so each is tested with literal values. The actions' requests and answers are in
dashboard/views/operator_actions.py.
Rates are shares (0.25 = 25 %); `None` where nothing was counted, shown as "—".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from core.alerts.store import AlertRow, NotificationRow
from core.assets.orphans import OrphanPlan
from core.costs.money import usd
from core.db.models import MigrationState, UploadStatus
from core.uploads import FAILED as FAILED_UPLOADS
from core.uploads import UploadStats, UploadTally
from core.webhook_log import EventFilter, FilterInvalid
from dashboard.views.display import Metric

Col = st.column_config

RANGES = {"Last hour": timedelta(hours=1), "Last day": timedelta(days=1), "Last week": timedelta(days=7)}
CUSTOM = "Custom days"
RANGE_CHOICES = (*RANGES, CUSTOM)
ANY = "any"
DASH = "—"


# --- the time window -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """`[start, end)` in UTC; `label` says it in words for captions."""

    start: datetime
    end: datetime
    label: str

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


def window(choice: str, days: object, now: datetime) -> Window:
    """The window of a range choice: the last hour/day/week up to now (to the minute, so a rerun within the
    minute reads cached figures), or whole UTC days `days` = (first, last) from the date input."""
    end = now.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    if choice in RANGES:
        return Window(end - RANGES[choice], end, choice.lower())
    first, last = _days(days, end.date())
    start = datetime.combine(first, time(), UTC)
    return Window(start, datetime.combine(last + timedelta(days=1), time(), UTC), f"{first} to {last}")


def _days(days: object, today: date) -> tuple[date, date]:
    if isinstance(days, Sequence) and len(days) == 2 and all(isinstance(d, date) for d in days):
        first, last = days[0], days[1]
        return (first, last) if first <= last else (last, first)
    if isinstance(days, Sequence) and len(days) == 1 and isinstance(days[0], date):
        return days[0], days[0]  # only the first day picked so far
    return today - timedelta(days=6), today


def default_days(today: date) -> tuple[date, date]:
    return today - timedelta(days=6), today


def window_caption(win: Window) -> str:
    return (
        f"The {win.label}: {win.start:%Y-%m-%d %H:%M} to {win.end:%Y-%m-%d %H:%M} UTC. "
        "Pick a row in a summary table to list the rows behind it."
    )


def filter_caption(what: str, picked: object, choice: str) -> str:
    """What the detail table lists: `Events of type X with outcome failed`."""
    parts = [what]
    if picked is not None:
        parts.append(f"of {picked}")
    parts.append("(any outcome)" if choice == ANY else f"with outcome {choice}")
    return " ".join(parts) + ", newest first."


def as_id(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def ago(moment: Any, now: datetime) -> str:
    """`3 min ago`, `2.5 h ago`, `4 d ago`; "never" without a time."""
    if moment is None or pd.isna(moment):
        return "never"
    seconds = max(0.0, (now - pd.Timestamp(moment).to_pydatetime()).total_seconds())
    return f"{duration(seconds)} ago"


def duration(seconds: float | None) -> str:
    if seconds is None or pd.isna(seconds):
        return DASH
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def percent(share: float | None) -> str:
    return DASH if share is None or pd.isna(share) else f"{share * 100:.1f} %"


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def picked_row(frame: pd.DataFrame, rows: Sequence[int]) -> pd.Series | None:
    """The table row the user picked (positions as the table's selection reports them), or None."""
    return frame.iloc[rows[0]] if rows and 0 <= rows[0] < len(frame) else None


def picked_value(frame: pd.DataFrame, rows: Sequence[int], column: str) -> Any:
    row = picked_row(frame, rows)
    return None if row is None else row[column]


def chosen(value: str) -> str | None:
    """A filter box's answer: None for "any"."""
    return None if value == ANY else value


# --- webhooks --------------------------------------------------------------------------------------

WEBHOOK_OUTCOMES = ("received", "applied", "stale", "unmatched", "ignored", "failed")
WEBHOOK_TYPE_COLUMNS: dict[str, Any] = {
    "lag_avg_s": Col.NumberColumn("mean lag (s)", format="%.1f", help="Mux's created_at to received."),
    "lag_max_s": Col.NumberColumn("worst lag (s)", format="%.1f"),
    "last_received_at": Col.DatetimeColumn("last received (UTC)", format="YYYY-MM-DD HH:mm:ss"),
}
EVENT_COLUMNS: dict[str, Any] = {
    "received_at": Col.DatetimeColumn("received (UTC)", format="YYYY-MM-DD HH:mm:ss"),
    "occurred_at": Col.DatetimeColumn("Mux created (UTC)", format="YYYY-MM-DD HH:mm:ss"),
    "lag_s": Col.NumberColumn("lag (s)", format="%.1f"),
    "id": Col.TextColumn("event id"),
}
WEBHOOK_OUTCOME_CHOICES = ("failed", ANY, *[o for o in WEBHOOK_OUTCOMES if o != "failed"])


def webhook_kpis(
    types: pd.DataFrame, lag: dict[str, float | None], last: pd.DataFrame, rejections: pd.DataFrame, now: datetime
) -> list[Metric]:
    events = int(types["events"].sum())
    failed = int(types.loc[types["outcome"] == "failed", "events"].sum())
    latest = last["last_received_at"].max() if not last.empty else None
    return [
        Metric("Events stored", f"{events:,}", help="Webhook events received and stored in the window."),
        Metric("Failed", f"{failed:,}", help="Events whose handling raised; their error is in the table below."),
        Metric(
            "Refused or duplicate",
            f"{int(rejections['deliveries'].sum()):,}",
            help="Deliveries answered but not stored: duplicates, signatures that did not verify, bad bodies.",
        ),
        Metric("Last received", ago(latest, now), help="The newest event of any type, whatever the window."),
        Metric(
            "Delivery lag p50 / p95",
            f"{duration(lag['p50'])} / {duration(lag['p95'])}",
            help="From Mux's created_at to Lectern receiving the event.",
        ),
    ]


def webhooks_by_type(types: pd.DataFrame, last: pd.DataFrame) -> pd.DataFrame:
    """One row per event type: events per outcome, the mean and worst lag, and when the last one arrived."""
    columns = ["type", "events", *WEBHOOK_OUTCOMES, "lag_avg_s", "lag_max_s", "last_received_at"]
    if types.empty:
        return pd.DataFrame(columns=columns)
    counts = types.pivot_table(index="type", columns="outcome", values="events", aggfunc="sum", fill_value=0)
    counts = counts.reindex(columns=list(WEBHOOK_OUTCOMES), fill_value=0)
    weighted = types.assign(lag_sum=types["lag_avg_s"] * types["events"]).groupby("type")
    out = counts.assign(
        events=counts.sum(axis=1),
        lag_avg_s=weighted["lag_sum"].sum() / weighted["events"].sum(),
        lag_max_s=weighted["lag_max_s"].max(),
    ).reset_index()
    out = out.merge(last, on="type", how="left")
    return out[columns].sort_values(["events", "type"], ascending=[False, True], ignore_index=True)


REFUSED_COLUMNS: dict[str, Any] = {"last_hour": Col.DatetimeColumn("last hour (UTC)", format="YYYY-MM-DD HH:mm")}


def rejections_of(rejections: pd.DataFrame, reason: str) -> pd.DataFrame:
    return rejections[rejections["reason"] == reason].reset_index(drop=True)


def rejections_by_reason(rejections: pd.DataFrame) -> pd.DataFrame:
    if rejections.empty:
        return pd.DataFrame(columns=["reason", "deliveries", "last_hour"])
    grouped = rejections.groupby("reason").agg(deliveries=("deliveries", "sum"), last_hour=("hour", "max"))
    return grouped.reset_index().sort_values(["deliveries", "reason"], ascending=[False, True], ignore_index=True)


def event_filter(
    win: Window,
    *,
    type: str | None = None,
    outcome: str | None = None,
    lesson_id: int | None = None,
    asset_id: str | None = None,
    upload_id: str | None = None,
) -> tuple[EventFilter, str | None]:
    """The webhook log's filter for the window and the boxes' answers; an asset or upload id core refuses
    drops that filter and says why (the page warns instead of failing)."""
    base = EventFilter(
        types=(type,) if type else (), outcomes=(outcome,) if outcome else (), lesson_id=lesson_id,
        since=win.start, until=win.end,
    )  # fmt: skip
    try:
        return replace(base, asset_id=asset_id or None, upload_id=upload_id or None), None
    except FilterInvalid as exc:
        return base, f"{exc.user_message}: the asset and upload filters are off."


def events_caption(shown: int, more: bool) -> str | None:
    return f"The newest {shown} events; narrow the filters to see older ones." if more else None


def event_choices(last: pd.DataFrame) -> list[str]:
    return [ANY, *sorted(last["type"])]


# --- uploads ---------------------------------------------------------------------------------------

IN_PROGRESS = (UploadStatus.waiting.value, UploadStatus.asset_created.value)
FAILED = "failed"
NO_USER = "(no user: migration)"
UPLOAD_STATUS_CHOICES = (FAILED, ANY, *[s.value for s in UploadStatus])
SUCCESS_HELP = "Ready / (ready + errored + timed out); cancelled uploads and those in progress count neither."
UPLOAD_DAY_COLUMNS: dict[str, Any] = {
    "day": Col.DateColumn("day (UTC)", format="YYYY-MM-DD"),
    "success_rate": Col.NumberColumn("success rate", format="percent", help=SUCCESS_HELP),
}
UPLOAD_ROW_COLUMNS: dict[str, Any] = {
    "created_by": None,
    "created_at": Col.DatetimeColumn("created (UTC)", format="YYYY-MM-DD HH:mm:ss"),
    "finished_at": Col.DatetimeColumn("finished (UTC)", format="YYYY-MM-DD HH:mm:ss"),
    "error": Col.TextColumn("Mux's error", width="large"),
    "creator": Col.TextColumn("uploaded by"),
}
UPLOAD_COLUMNS: dict[str, Any] = {
    "user_id": None,
    "uploaded_by": Col.TextColumn("uploaded by"),
    "success_rate": Col.NumberColumn("success rate", format="percent", help=SUCCESS_HELP),
}
_TALLY_COLUMNS = ["uploads", "ready", "failed", "cancelled", "in_progress", "success_rate"]


def _tally_row(tally: UploadTally) -> dict[str, Any]:
    n = tally.by_status
    return {
        "uploads": tally.created,
        "ready": tally.ready,
        "failed": tally.failed,
        "cancelled": n.get(UploadStatus.cancelled.value, 0),
        "in_progress": sum(n.get(s, 0) for s in IN_PROGRESS),
        "success_rate": tally.success_rate,
    }


def upload_kpis(stats: UploadStats) -> list[Metric]:
    """Created, then each outcome, then ready / (ready + errored + timed out)."""
    n = stats.total.by_status
    return [
        Metric("Uploads created", f"{stats.total.created:,}", help="Direct upload URLs handed out in the window."),
        Metric("Ready", f"{stats.total.ready:,}"),
        Metric("Errored", f"{n.get('errored', 0):,}", help="Mux could not process the file; its error is below."),
        Metric("Timed out", f"{n.get('timed_out', 0):,}", help="No file arrived before the upload URL expired."),
        Metric("Cancelled", f"{n.get('cancelled', 0):,}", help="Cancelled by the uploader: not a failure."),
        Metric("Success rate", percent(stats.total.success_rate), help=SUCCESS_HELP),
    ]


def uploads_by_day(stats: UploadStats) -> pd.DataFrame:
    rows = [{"day": pd.Timestamp(day), **_tally_row(tally)} for day, tally in sorted(stats.by_day.items())]
    frame = pd.DataFrame(rows, columns=["day", *_TALLY_COLUMNS])
    return frame.astype({"success_rate": "float64"})


def uploads_by_user(stats: UploadStats) -> pd.DataFrame:
    """One row per user who created uploads (the migration's have none), most failures first."""
    rows = [
        {"user_id": user, "uploaded_by": NO_USER if user is None else stats.user_names.get(user, f"user {user}"),
         **_tally_row(tally)}
        for user, tally in stats.by_user.items()
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["user_id", "uploaded_by", *_TALLY_COLUMNS])
    frame = frame.astype({"user_id": "Int64", "success_rate": "float64"})
    return frame.sort_values(["failed", "uploads", "uploaded_by"], ascending=[False, False, True], ignore_index=True)


def picked_users(by_user: pd.DataFrame, rows: Sequence[int]) -> list[int | None] | None:
    """The user picked in the table by user as a filter (`[None]`: the uploads without one); None: no pick."""
    row = picked_row(by_user, rows)
    return None if row is None else [as_id(row["user_id"])]


def upload_window(win: Window, day: Any) -> tuple[datetime, datetime]:
    """The window, narrowed to the picked UTC day."""
    if day is None or pd.isna(day):
        return win.start, win.end
    start = pd.Timestamp(day).to_pydatetime().replace(tzinfo=UTC)
    return max(win.start, start), min(win.end, start + timedelta(days=1))


def upload_filter_caption(status: str, day: Any, who: Any) -> str:
    parts = ["Uploads" if status == ANY else f"{status.replace('_', ' ').capitalize()} uploads"]
    if day is not None:
        parts.append(f"created on {pd.Timestamp(day):%Y-%m-%d}")
    if who is not None and not pd.isna(who):
        parts.append(f"by {who}")
    return " ".join(parts) + ", newest first, with Mux's error for each failure."


def upload_statuses(choice: str) -> list[str] | None:
    """The statuses a status filter means: errored and timed out for "failed", all for "any"."""
    if choice == FAILED:
        return list(FAILED_UPLOADS)  # core.uploads.FAILED
    return None if choice == ANY else [choice]


# --- orphaned assets -------------------------------------------------------------------------------

ORPHAN_COLUMNS = (
    "asset_id", "why", "lesson_id", "since", "duration_s", "storage_class", "monthly_cost", "automatic_deletion",
    "reason",
)  # fmt: skip
ORPHAN_TABLE_COLUMNS: dict[str, Any] = {
    "reason": None,
    "since": Col.DatetimeColumn("orphaned since (UTC)", format="YYYY-MM-DD HH:mm"),
    "duration_s": Col.NumberColumn("duration (s)", format="%.0f"),
    "monthly_cost": Col.TextColumn("monthly cost", help="Its storage for a month at list prices."),
    "automatic_deletion": Col.TextColumn(
        "automatic deletion", help="Due: the grace period is over. Otherwise why the cleanup job leaves it."
    ),
}


def orphans_frame(plan: OrphanPlan | None) -> pd.DataFrame:
    """The orphaned assets as the table shows them (ORPHAN_COLUMNS), costliest first; empty without a plan."""
    if plan is None or not plan.orphans:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in ORPHAN_COLUMNS})
    frame = plan.frame()
    frame["automatic_deletion"] = frame["hold"].fillna("due")
    return frame[list(ORPHAN_COLUMNS)]


def orphan_kpis(plan: OrphanPlan | None) -> list[Metric]:
    orphans = plan.orphans if plan is not None else []
    total = plan.total_monthly_micros if plan is not None else 0
    due = len(plan.eligible) if plan is not None else 0
    return [
        Metric("Orphaned assets", f"{len(orphans):,}", help="Mux assets no lesson plays: Mux still bills them."),
        Metric("Their monthly cost", usd(total), help="Storage of these assets for a month at list prices."),
        Metric("Due for automatic deletion", f"{due:,}", help="Replaced uploads past the grace period."),
    ]


def orphan_reasons(orphans: pd.DataFrame) -> list[str]:
    return [ANY, *sorted(orphans["reason"].dropna().unique())]


def orphans_shown(orphans: pd.DataFrame, reason: str) -> pd.DataFrame:
    return orphans if reason == ANY else orphans[orphans["reason"] == reason].reset_index(drop=True)


# --- sync ------------------------------------------------------------------------------------------


SYNC_COLUMNS: dict[str, Any] = {
    "behind_s": None,
    "duration_s": Col.NumberColumn("duration (s)", format="%.1f"),
    "behind": Col.TextColumn("behind", help="Now minus the job's watermark (or its last successful run)."),
    "last_success_at": Col.DatetimeColumn("last success (UTC)", format="YYYY-MM-DD HH:mm"),
}


def sync_rows(state: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """Each sync job: status, last run, its duration and rows, its error, and how far behind its source is
    (now - its watermark; jobs without a watermark, now - their last successful run)."""
    columns = ["job", "status", "last_run", "duration_s", "rows", "behind", "behind_s", "error", "last_success_at"]
    if state.empty:
        return pd.DataFrame(columns=columns)
    reference = state["watermark"].where(state["watermark"].notna(), state["last_success_at"])
    behind_s = [
        None if pd.isna(at) else max(0.0, (now - pd.Timestamp(at).to_pydatetime()).total_seconds()) for at in reference
    ]
    out = state.assign(
        last_run=[ago(at, now) for at in state["last_run_at"]],
        behind_s=behind_s,
        behind=[duration(s) for s in behind_s],
    )
    return out[columns]


def sync_kpis(rows: pd.DataFrame) -> list[Metric]:
    failing = rows[rows["status"] == "error"]
    worst = rows["behind_s"].max() if not rows.empty else None
    return [
        Metric("Sync jobs", str(len(rows))),
        Metric("Failing", str(len(failing)), help=", ".join(failing["job"]) or None),
        Metric("Furthest behind", duration(None if worst is None or pd.isna(worst) else float(worst))),
    ]


# --- alerts ----------------------------------------------------------------------------------------


ALERT_COLUMNS: dict[str, Any] = {
    "id": None,
    "first_seen_at": Col.DatetimeColumn("first seen (UTC)", format="YYYY-MM-DD HH:mm"),
    "last_seen_at": Col.DatetimeColumn("last seen (UTC)", format="YYYY-MM-DD HH:mm"),
    "fired_at": Col.DatetimeColumn("fired (UTC)", format="YYYY-MM-DD HH:mm"),
    "acknowledged_at": Col.DatetimeColumn("acknowledged (UTC)", format="YYYY-MM-DD HH:mm"),
    "silenced_until": Col.DatetimeColumn("silenced until (UTC)", format="YYYY-MM-DD HH:mm"),
}
_ALERT_FIELDS = (
    "id", "state", "severity", "kind", "subject", "value", "threshold", "fired_at", "acknowledged_by",
    "silenced_until", "message", "first_seen_at", "last_seen_at", "acknowledged_at", "silenced_by", "lesson_id",
)  # fmt: skip
_ALERT_TIMES = ("first_seen_at", "last_seen_at", "fired_at", "acknowledged_at", "silenced_until")
NOTIFICATION_COLUMNS: dict[str, Any] = {
    "created_at": Col.DatetimeColumn("queued (UTC)", format="YYYY-MM-DD HH:mm:ss"),
    "next_attempt_at": Col.DatetimeColumn("next attempt (UTC)", format="YYYY-MM-DD HH:mm:ss"),
    "last_error": Col.TextColumn("last error", width="large"),
}
_NOTIFICATION_FIELDS = ("created_at", "alert_key", "event", "receiver", "status", "attempts", "last_error",
                        "next_attempt_at")  # fmt: skip


def alerts_frame(alerts: Sequence[AlertRow], now: datetime) -> pd.DataFrame:
    """Open alerts as core lists them (firing first), one row each; a silence that has ended shows empty."""
    rows = [{name: getattr(a, name) for name in _ALERT_FIELDS} for a in alerts]
    frame = pd.DataFrame(rows, columns=list(_ALERT_FIELDS))
    for column in _ALERT_TIMES:
        frame[column] = pd.to_datetime(frame[column], utc=True)
    over = frame["silenced_until"].notna() & (frame["silenced_until"] <= pd.Timestamp(now))
    frame.loc[over, ["silenced_until", "silenced_by"]] = [pd.NaT, None]
    return frame.astype({"lesson_id": "Int64"})


def alerts_caption(alerts: pd.DataFrame) -> str:
    if alerts.empty:
        return "No open alerts."
    return "Open alerts, firing first. Pick one to acknowledge it or silence its notifications for a while."


def alert_kpis(alerts: pd.DataFrame, failures: int) -> list[Metric]:
    firing = int((alerts["state"] == "firing").sum())
    return [
        Metric("Firing alerts", str(firing)),
        Metric("Pending alerts", str(len(alerts) - firing), help="Holding, not for long enough yet to fire."),
        Metric("Failed notifications", str(failures), help="Deliveries that gave up or wait to retry after an error."),
    ]


def notifications_frame(rows: Sequence[NotificationRow]) -> pd.DataFrame:
    frame = pd.DataFrame([{n: getattr(r, n) for n in _NOTIFICATION_FIELDS} for r in rows],
                         columns=list(_NOTIFICATION_FIELDS))  # fmt: skip
    for column in ("created_at", "next_attempt_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


# --- playback --------------------------------------------------------------------------------------

FAILURE_CHOICES = {
    ANY: None,
    "playback failure": "playback_failure",
    "video startup failure": "video_startup_failure",
    "exit before video start": "exit_before_video_start",
}


QOE_COLUMNS: dict[str, Any] = {
    "lesson": Col.NumberColumn("lesson", format="%d"),
    "startup_time_ms_p50": Col.NumberColumn("startup p50 (ms)", format="%.0f"),
    "startup_time_ms_p95": Col.NumberColumn("startup p95 (ms)", format="%.0f"),
    "avg_rebuffer_percentage": Col.NumberColumn("rebuffering", format="percent"),
    "rebuffered_view_share": Col.NumberColumn("views rebuffered", format="percent"),
    "playback_failure_rate": Col.NumberColumn("playback failures", format="percent"),
    "startup_failure_rate": Col.NumberColumn("startup failures", format="percent"),
    "exit_before_start_rate": Col.NumberColumn("exits before start", format="percent"),
    "avg_viewer_experience_score": Col.NumberColumn("experience score", format="%.2f"),
}
ERROR_COLUMNS: dict[str, Any] = {"last_seen": Col.DatetimeColumn("last seen (UTC)", format="YYYY-MM-DD HH:mm")}


def no_views(totals: pd.DataFrame) -> bool:
    return totals.empty or not int(totals.iloc[0]["views"] or 0)


def playback_pick(by: str, picked: pd.Series | None) -> dict[str, Any]:
    """The breakdown row picked as query parameters (`by`, `value`); none when no row is picked."""
    if picked is None:
        return {}
    value = picked[by]
    if value is None or pd.isna(value):
        return {"by": by, "value": None}
    return {"by": by, "value": int(value) if by == "lesson" else str(value)}


def picked_message(errors: pd.DataFrame, rows: Sequence[int]) -> dict[str, Any]:
    """The error message picked in the top-errors table as query parameters (none when no row is picked)."""
    row = picked_row(errors, rows)
    if row is None:
        return {}
    message = row["error_message"]
    return {"message": None if message is None or pd.isna(message) else str(message), "message_picked": True}


def _picked_text(by: str, picked: pd.Series | None) -> str:
    if picked is None:
        return ""
    value = picked[by]
    shown = "unknown" if value is None or pd.isna(value) else value
    if by == "lesson" and "lesson_title" in picked and not pd.isna(picked["lesson_title"]):
        shown = f"{picked['lesson_title']} ({shown})"
    return f" for {by} {shown}"


def playback_caption(what: str, by: str, picked: pd.Series | None) -> str:
    return f"{what}{_picked_text(by, picked)}, most frequent first. Pick one to list its views."


def failed_views_caption(by: str, picked: pd.Series | None, failure: str, message: dict[str, Any]) -> str:
    kind = "Failed views" if failure == ANY else f"Views with a {failure}"
    text = kind + _picked_text(by, picked)
    if message:
        text += f" with the error {message['message']!r}" if message["message"] else " without an error message"
    return text + ", newest first."


def playback_kpis(totals: pd.DataFrame) -> list[Metric]:
    row = totals.iloc[0] if not totals.empty else pd.Series(dtype="object")

    def ms(name: str) -> str:
        value = row.get(name)
        return DASH if value is None or pd.isna(value) else f"{float(value) / 1000:.2f} s"

    return [
        Metric("Views", f"{int(row.get('views', 0) or 0):,}", help="Mux Data views that started in the window."),
        Metric("Playback failures", percent(row.get("playback_failure_rate")), help="Views that ended in an error."),
        Metric("Startup failures", percent(row.get("startup_failure_rate")), help="Views whose video never started."),
        Metric("Exits before start", percent(row.get("exit_before_start_rate")), help="Viewers who left first."),
        Metric("Startup p50 / p95", f"{ms('startup_time_ms_p50')} / {ms('startup_time_ms_p95')}"),
        Metric("Rebuffering", percent(row.get("avg_rebuffer_percentage")), help="Mean share of time stalled."),
    ]


# --- migration -------------------------------------------------------------------------------------

CLEANUP_CONFIRM = "Delete {n} S3 objects? Their lessons can no longer roll back."
ROLLBACK_CONFIRM = "Put {n} lessons back on their S3 video{asset}?"
ROLLBACK, CLEANUP = "rollback", "cleanup"
LAST_REPORT = "migration_ops_report"
PICKED_LESSONS = "mops_lessons"
JOB_STATE_CHOICES = (MigrationState.failed.value, ANY, *[s.value for s in MigrationState if s != MigrationState.failed])
ACTIONS_CAPTION = (
    "Rollback puts lessons back on their S3 video while the object exists and, unless kept, deletes the Mux "
    "asset. Cleanup deletes the S3 objects of verified migrated lessons (all of them when none is picked): "
    "they can no longer roll back. Both ask first, as `lectern migrate rollback|cleanup` do."
)


@dataclass(frozen=True)
class Pending:
    """An action waiting for its confirmation: what it does, to which lessons, and the question to ask."""

    action: str
    lesson_ids: tuple[int, ...]
    question: str
    confirm_label: str
    delete_asset: bool = True
    report: pd.DataFrame = field(default_factory=lambda: report_frame(None))


def migration_kpis(counts: dict[str, int], finished: pd.DataFrame, win: Window) -> list[Metric]:
    done = int(finished.loc[finished["state"] == MigrationState.done.value, "jobs"].sum())
    cards = [Metric(state.value.capitalize(), f"{counts.get(state.value, 0):,}") for state in MigrationState]
    rate = done / win.hours if win.hours else 0.0
    cards.append(Metric("Done / hour", f"{rate:.1f}", help=f"Jobs that finished done in the {win.label}, per hour."))
    return cards


def jobs_in_state(jobs: pd.DataFrame, state: str) -> pd.DataFrame:
    """The jobs behind a count (the newest first, as the service lists them)."""
    return jobs if state == ANY else jobs[jobs["state"] == state].reset_index(drop=True)


def jobs_caption(state: str) -> str:
    if state == MigrationState.failed.value:
        return "Failed jobs, the most recently updated first, with the error Mux or the verification gave."
    return "All jobs, the most recently updated first." if state == ANY else f"Jobs {state}, most recent first."


def rollback_choices(jobs: pd.DataFrame) -> dict[int, str]:
    """Lessons a rollback or cleanup may act on: migrated (done) and not cleaned up yet."""
    done = jobs[(jobs["state"] == MigrationState.done.value) & jobs["cleaned_up_at"].isna()]
    return {int(r.lesson_id): f"{r.lesson_title} (lesson {int(r.lesson_id)})" for r in done.itertuples()}


def rollback_request(lesson_ids: Sequence[int], *, delete_asset: bool) -> Pending:
    n = len(lesson_ids)
    question = ROLLBACK_CONFIRM.format(n=n, asset=" and delete their Mux assets" if delete_asset else "")
    return Pending(ROLLBACK, tuple(lesson_ids), question, f"Yes, roll back {n} lessons", delete_asset)


def cleanup_label(picked: Sequence[int], movable: int) -> str:
    return f"Clean up {len(picked)} lessons" if picked else f"Clean up all {movable} migrated lessons"


def cleanup_request(picked: Sequence[int], preview: Any) -> Pending:
    """After the dry run: delete what it would delete (none when it refuses every lesson)."""
    deletable = tuple(o.lesson_id for o in preview.outcomes if o.ok)
    if not deletable:
        question = "Nothing to clean up: every lesson is refused (the table says why)."
    else:
        question = CLEANUP_CONFIRM.format(n=len(deletable))
    label = f"Yes, delete {len(deletable)} S3 objects"
    return Pending(CLEANUP, deletable, question, label, report=report_frame(preview))


def finish(state: Any, pending_key: str, report: Any) -> None:
    """Forget the confirmed (or declined) action and the lessons picked for it; keep what it did to show."""
    state.pop(pending_key, None)
    state.pop(PICKED_LESSONS, None)
    if report is not None:
        state[LAST_REPORT] = report_frame(report)


def report_frame(report: Any) -> pd.DataFrame:
    """A MigrationService Report (cleanup or rollback) as rows: lesson, ok or refused, message."""
    outcomes = report.outcomes if report is not None else []
    rows = [(o.lesson_id, "ok" if o.ok else "refused", o.message) for o in outcomes]
    return pd.DataFrame(rows, columns=["lesson_id", "result", "message"])

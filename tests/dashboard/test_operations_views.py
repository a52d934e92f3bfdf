"""dashboard/views/operations.py and dashboard/charts/operations.py: pure functions over literal frames."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from core.alerts.store import AlertRow
from core.assets.orphans import Orphan, OrphanPlan, OrphanReason
from core.uploads import UploadStats, UploadTally
from core.webhook_log import EventFilter
from core.webhook_ops import RepairResult, ReplayBatch
from core.webhooks import ReplayResult
from dashboard.charts import operations as charts
from dashboard.views import operations as view
from dashboard.views import operator_actions as actions

NOW = datetime(2026, 11, 20, 12, 40, 31, tzinfo=UTC)
H = pd.Timestamp("2026-11-20 12:00", tz="UTC")


def test_windows_end_on_the_next_whole_minute_or_cover_whole_days() -> None:
    hour = view.window("Last hour", None, NOW)
    assert (hour.start, hour.end, hour.label) == (
        datetime(2026, 11, 20, 11, 41, tzinfo=UTC), datetime(2026, 11, 20, 12, 41, tzinfo=UTC), "last hour"
    )  # fmt: skip
    assert view.window("Last week", None, NOW).hours == 168
    days = view.window(view.CUSTOM, (date(2026, 11, 1), date(2026, 11, 3)), NOW)
    assert (days.start, days.end) == (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 4, tzinfo=UTC))
    assert view.window(view.CUSTOM, (date(2026, 11, 3), date(2026, 11, 1)), NOW).hours == 72  # picked backwards
    assert view.window(view.CUSTOM, (date(2026, 11, 5),), NOW).hours == 24  # only the first day picked so far
    assert view.window(view.CUSTOM, None, NOW).label == "2026-11-14 to 2026-11-20"


def test_durations_and_ages_read_as_words() -> None:
    assert [view.duration(s) for s in (None, 4.2, 600, 9000, 400000)] == ["—", "4 s", "10 min", "2.5 h", "4.6 d"]
    assert view.ago(NOW - timedelta(minutes=3), NOW) == "3 min ago" and view.ago(None, NOW) == "never"
    assert view.percent(0.3333) == "33.3 %" and view.percent(None) == "—"


TYPES = pd.DataFrame(
    {
        "type": ["video.asset.ready", "video.asset.ready", "video.asset.errored"],
        "outcome": ["applied", "stale", "failed"],
        "events": [4, 1, 2],
        "lag_avg_s": [1.75, 6.0, 10.0],
        "lag_max_s": [3.0, 6.0, 12.0],
    }
)
HOURLY = pd.DataFrame({"hour": [H, H, H - pd.Timedelta(hours=1)], "outcome": ["applied", "failed", "applied"],
                       "events": [3, 2, 1]})  # fmt: skip
LAST = pd.DataFrame({"type": ["video.asset.errored", "video.asset.ready"], "last_received_at": [H, H]})
REFUSED = pd.DataFrame({"hour": [H, H, H - pd.Timedelta(hours=1)], "reason": ["duplicate", "bad_sig", "duplicate"],
                        "deliveries": [2, 1, 4]})  # fmt: skip


def test_webhook_cards_and_the_table_by_type() -> None:
    lag = {"p50": 2.0, "p95": 11.0, "max": 12.0}
    cards = {m.label: m.value for m in view.webhook_kpis(TYPES, lag, LAST, REFUSED, NOW)}
    assert cards == {"Events stored": "7", "Failed": "2", "Refused or duplicate": "7", "Last received": "41 min ago",
                     "Delivery lag p50 / p95": "2 s / 11 s"}  # fmt: skip
    by_type = view.webhooks_by_type(TYPES, LAST)
    ready = by_type.set_index("type").loc["video.asset.ready"]
    assert (ready["events"], ready["applied"], ready["stale"], ready["failed"]) == (5, 4, 1, 0)
    assert ready["lag_avg_s"] == pytest.approx((4 * 1.75 + 6) / 5) and ready["lag_max_s"] == 6.0
    assert by_type["type"].tolist() == ["video.asset.ready", "video.asset.errored"]  # most events first
    assert view.webhooks_by_type(TYPES.iloc[0:0], LAST).empty
    reasons = view.rejections_by_reason(REFUSED)
    assert reasons[["reason", "deliveries"]].values.tolist() == [["duplicate", 6], ["bad_sig", 1]]
    assert view.rejections_of(REFUSED, "duplicate")["deliveries"].tolist() == [2, 4]
    assert view.filter_caption("Events", "video.asset.ready", "failed") == (
        "Events of video.asset.ready with outcome failed, newest first."
    )
    assert [t.name for t in charts.webhooks_per_hour(HOURLY).data] == ["applied", "failed"]


def _tally(**counts: int) -> UploadTally:
    return UploadTally(created=sum(counts.values()), by_status=counts)


STATS = UploadStats(
    total=_tally(ready=4, errored=1, timed_out=2, cancelled=1, waiting=1),
    by_day={date(2026, 11, 19): _tally(ready=1), date(2026, 11, 20): _tally(ready=3, errored=1, timed_out=2,
                                                                           cancelled=1, waiting=1)},
    by_user={1: _tally(ready=4, errored=1), 2: _tally(timed_out=2, cancelled=1, waiting=1), None: _tally()},
    user_names={1: "Ada", 2: "Bo"},
    failures=[],
)  # fmt: skip


def test_upload_cards_success_rates_and_filters() -> None:
    cards = {m.label: m.value for m in view.upload_kpis(STATS)}
    assert (cards["Uploads created"], cards["Ready"], cards["Errored"], cards["Timed out"]) == ("9", "4", "1", "2")
    assert cards["Cancelled"] == "1"
    assert cards["Success rate"] == "57.1 %"  # core's: 4 ready of 7 ready, errored or timed out
    empty = UploadStats(_tally(), {}, {}, {}, [])
    assert view.upload_kpis(empty)[-1].value == "—" and view.uploads_by_day(empty).empty
    by_day = view.uploads_by_day(STATS)
    assert by_day["success_rate"].tolist() == [1.0, pytest.approx(0.5)]
    assert by_day["in_progress"].tolist() == [0, 1] and by_day["cancelled"].tolist() == [0, 1]
    by_user = view.uploads_by_user(STATS)
    assert by_user["uploaded_by"].tolist() == ["Bo", "Ada", view.NO_USER]  # most failures first
    assert by_user.set_index("uploaded_by").loc["Bo", "success_rate"] == 0.0
    assert view.picked_users(by_user, [1]) == [1] and view.picked_users(by_user, [2]) == [None]
    assert view.picked_users(by_user, []) is None
    assert view.upload_statuses("failed") == ["errored", "timed_out"]
    assert view.upload_statuses("any") is None and view.upload_statuses("ready") == ["ready"]
    win = view.window("Last day", None, NOW)
    assert view.upload_window(win, by_day["day"][1]) == (datetime(2026, 11, 20, tzinfo=UTC), win.end)
    assert view.upload_window(win, None) == (win.start, win.end)
    assert view.upload_filter_caption("failed", H.normalize(), "Bo") == (
        "Failed uploads created on 2026-11-20 by Bo, newest first, with Mux's error for each failure."
    )
    assert len(charts.uploads_per_day(by_day).data) == 5
    # One tick per day at most (a one-day range was ticked every few hours: "Dec 03" five times).
    assert charts.uploads_per_day(by_day.head(1)).layout.xaxis.dtick == charts.DAY_MS


def _orphan(asset_id: str, micros: int, reason: OrphanReason, hold: str | None) -> Orphan:
    lesson = 3 if reason is OrphanReason.replaced else None
    passthrough = "x" if reason is OrphanReason.unknown_passthrough else None
    return Orphan(asset_id, reason, lesson, NOW, "ready", 60.0, "plus", "1080p", "cold", micros, hold, passthrough)


def test_orphans_come_from_the_plan_with_their_monthly_cost() -> None:
    empty = view.orphans_frame(None)
    assert tuple(empty.columns) == view.ORPHAN_COLUMNS and empty.empty
    assert [m.value for m in view.orphan_kpis(None)] == ["0", "$0.00", "0"]
    plan = OrphanPlan(
        [_orphan("b", 1_250_000, OrphanReason.unknown_passthrough, "not a replaced upload"),
         _orphan("a", 500_000, OrphanReason.replaced, None)],
        now=NOW, grace_days=7, pricebook_version="test",
    )  # fmt: skip
    shown = view.orphans_frame(plan)
    assert shown["asset_id"].tolist() == ["b", "a"] and tuple(shown.columns) == view.ORPHAN_COLUMNS
    assert shown["monthly_cost"].tolist() == ["$1.25", "$0.50"]
    assert shown["automatic_deletion"].tolist() == ["not a replaced upload", "due"]
    assert [m.value for m in view.orphan_kpis(plan)] == ["2", "$1.75", "1"]
    assert view.orphan_reasons(shown) == ["any", "replaced", "unknown_passthrough"]
    assert view.orphans_shown(shown, "replaced")["asset_id"].tolist() == ["a"]


def test_alerts_read_as_rows_with_their_acknowledgement_and_silence() -> None:
    def alert(n: int, state: str, **extra: Any) -> AlertRow:
        fields: dict[str, Any] = dict(
            id=n, key=f"k{n}", kind="playback_failure", state=state, severity="error", message="m", subject=None,
            value=7.5, threshold=5.0, context=None, first_seen_at=NOW, last_seen_at=NOW, fired_at=None,
            resolved_at=None, acknowledged_at=None, acknowledged_by=None, silenced_until=None, silenced_by=None,
            lesson_id=None, teacher_id=None,
        )  # fmt: skip
        return AlertRow(**(fields | extra))

    rows = [
        alert(1, "firing", acknowledged_at=NOW, acknowledged_by="al@x", silenced_until=NOW + timedelta(hours=1),
              silenced_by="al@x", lesson_id=4),
        alert(2, "pending", silenced_until=NOW - timedelta(minutes=1), silenced_by="bo@x"),
    ]  # fmt: skip
    frame = view.alerts_frame(rows, NOW)
    assert frame["id"].tolist() == [1, 2] and frame["lesson_id"].tolist()[0] == 4
    assert frame.loc[0, "silenced_by"] == "al@x" and pd.isna(frame.loc[1, "silenced_until"])  # over: not shown
    cards = {m.label: m.value for m in view.alert_kpis(frame, 2)}
    assert cards == {"Firing alerts": "1", "Pending alerts": "1", "Failed notifications": "2"}
    assert view.alerts_caption(frame.iloc[0:0]) == "No open alerts."
    assert view.alerts_frame([], NOW).empty

    # The buttons' requests: acknowledging an acknowledged alert is off; a silence needs a duration.
    assert actions.acknowledge_request(frame.iloc[0]) is None
    assert actions.acknowledge_request(frame.iloc[1]) == actions.Request("acknowledge", 2)
    assert actions.silence_request(frame.iloc[1], "4 hours", "").options == {"duration": "4h"}  # type: ignore[union-attr]
    assert actions.silence_request(frame.iloc[1], "custom", " 90m ").options == {"duration": "90m"}  # type: ignore[union-attr]
    assert actions.silence_request(frame.iloc[1], "custom", "") is None
    assert actions.silence_request(None, "1 hour", "") is None
    done = rows[0]
    assert actions.alert_done(done) == "Alert 1 (playback_failure) silenced by al@x until 2026-11-20 13:40 UTC."


def test_sync_rows_say_how_far_behind_each_job_is() -> None:
    state = pd.DataFrame(
        {"job": ["assets", "views"], "status": ["error", "ok"], "watermark": [None, NOW - timedelta(minutes=20)],
         "last_run_at": [NOW - timedelta(minutes=5)] * 2, "last_success_at": [NOW - timedelta(hours=3), NOW],
         "rows": [0, 10], "duration_s": [0.5, 2.0], "error": ["Mux answered 500", None]}
    )  # fmt: skip
    rows = view.sync_rows(state, NOW)
    assert rows["behind"].tolist() == ["3.0 h", "20 min"] and rows["last_run"].tolist() == ["5 min ago"] * 2
    cards = {m.label: m.value for m in view.sync_kpis(rows)}
    assert cards == {"Sync jobs": "2", "Failing": "1", "Furthest behind": "3.0 h"}
    assert view.sync_rows(state.iloc[0:0], NOW).empty


def test_playback_picks_become_query_parameters_and_captions() -> None:
    breakdown = pd.DataFrame({"lesson": [7.0, None], "lesson_title": ["Seven", None], "views": [3, 1]})
    picked = view.picked_row(breakdown, [0])
    assert view.playback_pick("lesson", picked) == {"by": "lesson", "value": 7}
    assert view.playback_pick("lesson", view.picked_row(breakdown, [1])) == {"by": "lesson", "value": None}
    assert view.playback_pick("lesson", view.picked_row(breakdown, [5])) == {}
    errors = pd.DataFrame({"error_message": ["Timeout", None]})
    assert view.picked_message(errors, [0]) == {"message": "Timeout", "message_picked": True}
    assert view.picked_message(errors, [1]) == {"message": None, "message_picked": True}
    caption = view.failed_views_caption("lesson", picked, "playback failure", {"message": "Timeout"})
    assert caption == "Views with a playback failure for lesson Seven (7.0) with the error 'Timeout', newest first."
    totals = pd.DataFrame([{"views": 4, "playback_failure_rate": 0.25, "startup_time_ms_p50": 900.0,
                            "startup_time_ms_p95": 2100.0}])  # fmt: skip
    cards = {m.label: m.value for m in view.playback_kpis(totals)}
    assert cards["Playback failures"] == "25.0 %" and cards["Startup p50 / p95"] == "0.90 s / 2.10 s"
    assert view.no_views(totals.assign(views=0)) and not view.no_views(totals)


@dataclass(frozen=True)
class Outcome:
    lesson_id: int
    ok: bool
    message: str


@dataclass
class Report:
    outcomes: list[Outcome]


def test_migration_actions_ask_before_acting() -> None:
    jobs = pd.DataFrame(
        {"lesson_id": [1, 2, 3], "lesson_title": ["One", "Two", "Three"], "state": ["done", "done", "failed"],
         "cleaned_up_at": [None, NOW, None], "updated_at": [NOW] * 3}
    )  # fmt: skip
    assert view.rollback_choices(jobs) == {1: "One (lesson 1)"}
    assert view.jobs_in_state(jobs, "failed")["lesson_id"].tolist() == [3]
    rollback = view.rollback_request([1], delete_asset=True)
    assert rollback.question == "Put 1 lessons back on their S3 video and delete their Mux assets?"
    assert view.rollback_request([1], delete_asset=False).question == "Put 1 lessons back on their S3 video?"
    preview = Report([Outcome(1, True, "would delete k1"), Outcome(4, False, "Mux asset x is errored")])
    cleanup = view.cleanup_request([], preview)
    assert (
        cleanup.lesson_ids == (1,) and cleanup.question == "Delete 1 S3 objects? Their lessons can no longer roll back."
    )
    assert cleanup.report["result"].tolist() == ["ok", "refused"]
    refused = view.cleanup_request([4], Report([Outcome(4, False, "gone")]))
    assert refused.lesson_ids == () and refused.question.startswith("Nothing to clean up")
    assert view.cleanup_label([], 3) == "Clean up all 3 migrated lessons" and view.cleanup_label([1], 3) == (
        "Clean up 1 lessons"
    )
    state = {"pending": cleanup, view.PICKED_LESSONS: [1]}
    view.finish(state, "pending", Report([Outcome(1, True, "deleted")]))
    assert list(state) == [view.LAST_REPORT] and state[view.LAST_REPORT]["message"].tolist() == ["deleted"]
    finished = pd.DataFrame({"state": ["done", "failed"], "jobs": [4, 1]})
    kpis = view.migration_kpis({"done": 4, "failed": 1}, finished, view.window("Last day", None, NOW))
    cards = {m.label: m.value for m in kpis}
    assert cards["Done"] == "4" and cards["Queued"] == "0" and cards["Done / hour"] == "0.2"


def test_a_request_waits_for_its_confirmation_and_runs_once() -> None:
    state: dict[str, Any] = {"ops_orphans": {"selection": {"rows": [0]}}}
    orphan = pd.Series({"asset_id": "a1", "why": "replaced upload of lesson 3", "monthly_cost": "$0.50"})
    request = actions.delete_request(orphan, reset=("ops_orphans",))
    assert request is not None and request.question == (
        "Delete Mux asset a1 (replaced upload of lesson 3, $0.50 a month)? Mux cannot undo it."
    )
    actions.ask(state, "k", request)
    assert actions.pending(state, "k") == request and actions.take(state, "k") is None  # not before Yes
    actions.decline(state, "k")
    assert actions.pending(state, "k") is None
    actions.ask(state, "k", request)
    actions.confirm(state, "k")
    assert actions.take(state, "k") == request and "ops_orphans" not in state  # the pick is forgotten
    assert actions.take(state, "k") is None  # once
    actions.ask(state, "k", None)  # a button without a request does nothing
    assert state == {}
    assert actions.delete_request(None) is None and actions.delete_label(None) == "Delete the picked asset"


def test_replay_and_repair_requests_and_what_they_did() -> None:
    event = pd.Series({"id": "evt-3", "lesson_id": 7, "type": "video.asset.ready"})
    assert actions.replay_request(event) == actions.Request("replay", "evt-3")
    assert actions.repair_request(event) == actions.Request("repair", 7)
    assert actions.repair_request(event.copy().replace({7: None})) is None
    assert actions.repair_label(event) == "Repair lesson 7 from Mux"
    where = EventFilter(outcomes=("failed",))
    assert actions.replay_matching_request(where, 0) is None
    three = actions.replay_matching_request(where, 3)
    assert three is not None and three.options == {"max_events": 3} and three.target == where
    assert three.question == (
        "Replay 3 stored events matching these filters? Each goes through the webhook handler again."
    )
    many = actions.replay_matching_request(where, 501)
    assert many is not None and "the oldest 500 of more than 500" in (many.question or "")
    assert actions.replay_matching_label(3) == "Replay all 3 matching events (not applied)"

    fixed = ReplayResult("evt-3", "video.asset.ready", "failed", "applied", 7, None, True)
    assert actions.webhook_done(fixed) == (
        "success", "Replayed evt-3 (video.asset.ready): failed → applied. lesson 7 changed."
    )  # fmt: skip
    same = ReplayResult("evt-1", "video.asset.ready", "applied", "applied", 7, "already applied", False)
    assert actions.webhook_done(same)[0] == "info"
    batch = ReplayBatch([fixed, same], truncated=True)
    tone, text = actions.webhook_done(batch)
    assert tone == "success" and text.startswith("Replayed 2 events (applied -> applied: 1, failed -> applied: 1)")
    assert "More events match" in text
    assert actions.batch_frame(batch)["after"].tolist() == ["applied", "applied"]  # type: ignore[index]
    assert actions.batch_frame(fixed) is None
    healed = RepairResult(7, True, "processing", "ready", "A1", "ready", "U1", "asset_created", "set ready from Mux")
    assert actions.webhook_done(healed) == ("success", "Lesson 7: processing → ready. set ready from Mux.")

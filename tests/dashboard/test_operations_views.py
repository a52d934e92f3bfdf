"""dashboard/views/operations.py and dashboard/charts/operations.py: pure functions over literal frames."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from dashboard.charts import operations as charts
from dashboard.views import operations as view

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


GROUPED = pd.DataFrame(
    {
        "day": [H.normalize()] * 4 + [H.normalize() - pd.Timedelta(days=1)],
        "teacher_id": [1, 1, 2, 2, 1],
        "teacher_name": ["Ada", "Ada", "Bo", "Bo", "Ada"],
        "status": ["ready", "errored", "timed_out", "waiting", "ready"],
        "uploads": [3, 1, 2, 1, 1],
    }
)


def test_upload_cards_success_rates_and_filters() -> None:
    cards = {m.label: m.value for m in view.upload_kpis(GROUPED)}
    assert (cards["Uploads created"], cards["Ready"], cards["Errored"], cards["Timed out"]) == ("8", "4", "1", "2")
    assert cards["Success rate"] == "57.1 %"  # 4 ready of 7 finished; the waiting one counts neither
    assert view.upload_kpis(GROUPED.iloc[0:0])[-1].value == "—"
    by_day = view.uploads_by_day(GROUPED)
    assert by_day["success_rate"].tolist() == [1.0, pytest.approx(0.5)]
    by_teacher = view.uploads_by_teacher(GROUPED)
    assert by_teacher["teacher_name"].tolist() == ["Bo", "Ada"]  # most failures first
    assert by_teacher.set_index("teacher_name").loc["Bo", "success_rate"] == 0.0
    assert view.upload_statuses("failed") == ["errored", "timed_out", "cancelled"]
    assert view.upload_statuses("any") is None and view.upload_statuses("ready") == ["ready"]
    assert view.upload_filter_caption("failed", H.normalize(), "Bo") == (
        "Failed uploads created on 2026-11-20 of Bo, newest first, with Mux's error for each failure."
    )
    assert len(charts.uploads_per_day(by_day).data) == 4


def test_orphans_have_a_fixed_shape_and_a_monthly_cost() -> None:
    empty = view.orphans_frame(None)
    assert tuple(empty.columns) == view.ORPHAN_COLUMNS and empty.empty
    assert [m.value for m in view.orphan_kpis(empty)] == ["0", "$0.00"]
    found = pd.DataFrame(
        {"asset_id": ["a", "b"], "why": ["replaced", "no lesson"], "lesson_id": [3, None],
         "since": [H, H], "duration_s": [60.0, 30.0], "monthly_cost_usd": [0.5, 1.25], "extra": [1, 2]}
    )  # fmt: skip
    shown = view.orphans_frame(found)
    assert shown["asset_id"].tolist() == ["b", "a"] and tuple(shown.columns) == view.ORPHAN_COLUMNS
    assert [m.value for m in view.orphan_kpis(shown)] == ["2", "$1.75"]
    assert view.orphans_shown(shown, "replaced")["asset_id"].tolist() == ["a"]
    with pytest.raises(ValueError, match="monthly_cost_usd"):
        view.orphans_frame(found.drop(columns="monthly_cost_usd"))


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


def test_payloads_hide_credentials_at_any_depth() -> None:
    payload = {
        "type": "video.upload.created",
        "data": {"id": "up1", "url": "https://upload/?sig=x", "new_asset_settings": {"playback_policy": ["public"]}},
        "live": [{"stream_key": "sk", "playback_token": "t", "Signature": "s"}],
        "object": {"id": "a1"},
    }
    assert view.safe_payload(payload) == {
        "type": "video.upload.created",
        "data": {"id": "up1", "url": "(hidden)", "new_asset_settings": {"playback_policy": ["public"]}},
        "live": [{"stream_key": "(hidden)", "playback_token": "(hidden)", "Signature": "(hidden)"}],
        "object": {"id": "a1"},
    }
    assert view.safe_payload(None) is None

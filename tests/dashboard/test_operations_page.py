"""Admin > Operations, Playback health and Migration actions in AppTest, over a world with rows in every
section: the dashboard world plus webhook events and refusals, uploads, alerts, failed views, sync states, and
a real migration (moto S3, the Mux emulator, a worker) of two lessons that went through and one that failed.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select, update
from streamlit.testing.v1 import AppTest

from core.db.engine import make_engine, make_session_factory, transaction
from core.db.models import Lesson, OperatorAction
from core.errors import MuxNotFound
from dashboard import operations_db
from dashboard.views.operator_actions import Request
from emulator.testing import EmulatorServer
from lectern.sample_media import make_clip
from tests.conftest import S3Server
from tests.dashboard.conftest import APP, new_app, page_text
from tests.dashboard.operations_world import (
    EVENT_ERROR,
    SYNC_ERROR,
    UPLOAD_ERROR,
    UPLOAD_URL,
    VIEW_ERROR,
    Repairs,
    seed_platform,
    seed_repairs,
    seed_warehouse,
)
from tests.dashboard.world import World, build_world
from tests.migration.helpers import MigrationEnv, build_env, settings_env

OPERATIONS, PLAYBACK, MIGRATION = "pages/admin_operations.py", "pages/admin_playback.py", "pages/admin_migration_ops.py"
WEBHOOK_LOG = "pages/admin_webhook_log.py"
PAGES_DIR = Path(APP).parent


@dataclass
class OpsWorld:
    world: World
    migration: MigrationEnv
    env: dict[str, str]
    done: list[int]  # migrated lessons
    failed: int  # the lesson whose migration failed
    orphan: str  # the failed migration's Mux asset: no lesson plays it
    repairs: Repairs


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorServer]:
    with EmulatorServer(processing_delay=0.0) as server:
        yield server


@pytest.fixture(scope="module")
def ops_world(tmp_path_factory: pytest.TempPathFactory, moto_server: str, emu: EmulatorServer) -> Iterator[OpsWorld]:
    root = tmp_path_factory.mktemp("operations")
    world = build_world(root / "world")
    s3 = S3Server(endpoint_url=moto_server, bucket=f"ops-{uuid.uuid4().hex[:10]}")
    s3.client().create_bucket(Bucket=s3.bucket)
    engine = make_engine(world.database_url)
    migration = build_env(world.database_url, s3, emu, make_session_factory(engine))
    clips = [make_clip(root / f"clip-{i}.mp4", seconds=1.5, width=160, height=120, fps=10) for i in range(2)]
    corrupt = root / "broken.mp4"
    corrupt.write_bytes(os.urandom(64 * 1024))
    done = [migration.add_lesson(clip) for clip in clips]
    failed = migration.add_lesson(corrupt)
    migration.start_all()
    migration.run_worker()
    assert {migration.job(i).state for i in done} == {"done"} and migration.job(failed).state == "failed"

    now = datetime.now(UTC)
    teachers = {k: world.users[k] for k in ("teacher_a", "teacher_b")}
    seed_platform(migration.session_factory, now, world.lessons, teachers)
    seed_warehouse(world.warehouse_path, now, world.lessons, migration.assets())  # as the `assets` job lists them
    orphan = migration.job(failed).mux_asset_id
    stuck_asset = migration.job(done[1]).mux_asset_id
    assert orphan and stuck_asset
    repairs = seed_repairs(migration.session_factory, now, world.courses["a"], done[1], stuck_asset)
    env = settings_env(migration.settings) | world.env()
    yield OpsWorld(world, migration, env, done, failed, orphan, repairs)
    migration.close()
    engine.dispose()


@pytest.fixture
def open_page(ops_world: OpsWorld, monkeypatch: pytest.MonkeyPatch) -> Callable[..., AppTest]:
    """`open_page(OPERATIONS)`: the page through app.py's navigation, signed in (admin unless `who` says)."""
    for name, value in ops_world.env.items():
        monkeypatch.setenv(name, value)

    def start(page: str, who: str = "admin") -> AppTest:
        at = new_app(APP, who, ops_world.world)
        at.switch_page(page)
        return at.run()

    return start


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


# Tables without a row selection carry no key in AppTest: they are found by a column only they have.
UNKEYED = {
    "ops_webhook_events": "lag_s", "ops_refused_hours": "hour", "ops_uploads": "finished_at",
    "ops_notify_failures": "receiver", "play_failed_views": "view_id", "mops_jobs": "job_id",
    "mops_actions": "actor", "mops_preview": "result", "mops_report": "result", "log_replayed": "lesson_changed",
}  # fmt: skip


def table(at: AppTest, key: str, nth: int = 0):  # type: ignore[no-untyped-def]
    if key in UNKEYED:
        found = [d for d in at.dataframe if d.key is None and UNKEYED[key] in d.value.columns]
    else:
        found = [d for d in at.dataframe if d.key == key]
    assert len(found) > nth, f"no table {key}"
    return found[nth].value


def pick(at: AppTest, key: str, row: int) -> AppTest:
    """Pick a row of a selectable table, as a click on it does."""
    at.session_state[key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    return at.run()


def test_every_section_has_numbers_and_the_rows_behind_them(
    open_page: Callable[..., AppTest], ops_world: OpsWorld
) -> None:
    at = open_page(OPERATIONS)
    assert not at.exception and [t.value for t in at.title] == ["Operations"]
    shown = metrics(at)
    assert shown["Firing alerts"] == "1" and shown["Pending alerts"] == "1"
    assert table(at, "ops_alerts")["kind"].tolist() == ["playback_failure", "upload_failure_rate"]
    assert shown["Failed notifications"] == "0"
    # Webhooks of the last hour: 4 stored, 1 failed (listed by default with its error), 5 refused.
    assert shown["Events stored"] == "4" and shown["Failed"] == "1" and shown["Refused or duplicate"] == "5"
    assert shown["Delivery lag p50 / p95"] == "3 s / 9 s"
    events = table(at, "ops_webhook_events")
    assert events["id"].tolist() == ["evt-3"] and events["error"].tolist() == [EVENT_ERROR]
    # Uploads: 4 created, one of each outcome; the failed ones listed with Mux's error.
    assert (shown["Uploads created"], shown["Ready"], shown["Errored"], shown["Timed out"]) == ("4", "1", "1", "1")
    assert shown["Success rate"] == "33.3 %"
    uploads = table(at, "ops_uploads")
    assert set(uploads["upload_id"]) == {"up-2", "up-3"}
    assert uploads.set_index("upload_id").loc["up-2", "error"] == UPLOAD_ERROR
    # Orphaned assets: the failed migration's copy, which no lesson plays, with what it costs a month.
    orphans = table(at, "ops_orphans")
    assert orphans["asset_id"].tolist() == [ops_world.orphan] and orphans["reason"].tolist() == ["failed_migration"]
    assert shown["Orphaned assets"] == "1" and shown["Their monthly cost"] == orphans["monthly_cost"][0]
    assert shown["Their monthly cost"].startswith("$")
    sync = table(at, "ops_sync")
    assert {"views", "assets", "platform"} <= set(sync["job"]) and shown["Failing"] == "1"
    assert len(at.get("plotly_chart")) == 2


def test_picking_a_row_narrows_the_table_below(open_page: Callable[..., AppTest]) -> None:
    at = open_page(OPERATIONS)
    at.selectbox(key="ops_webhook_outcome").set_value("any").run()
    assert len(table(at, "ops_webhook_events")) == 4
    types = table(at, "ops_webhook_types")
    at = pick(at, "ops_webhook_types", types["type"].tolist().index("video.asset.ready"))
    assert table(at, "ops_webhook_events")["id"].tolist() == ["evt-2", "evt-1"]
    assert "Events of video.asset.ready (any outcome)" in page_text(at)

    refused = table(at, "ops_refused")
    at = pick(at, "ops_refused", refused["reason"].tolist().index("duplicate"))
    assert table(at, "ops_refused_hours")["deliveries"].tolist() == [3]

    at.selectbox(key="ops_upload_status").set_value("any").run()
    users = table(at, "ops_upload_users")
    at = pick(at, "ops_upload_users", users["uploaded_by"].tolist().index("Bo Teacher"))
    assert table(at, "ops_uploads")["upload_id"].tolist() == ["up-3"]
    assert "Uploads by Bo Teacher, newest first" in page_text(at)
    at = pick(at, "ops_upload_days", 0)  # the one day: the same upload, now also narrowed by its day
    assert table(at, "ops_uploads")["upload_id"].tolist() == ["up-3"]

    at = pick(at, "ops_sync", table(at, "ops_sync")["job"].tolist().index("assets"))
    assert any(SYNC_ERROR in e.value for e in at.error)

    at.selectbox(key="ops_range").set_value("Last week").run()
    assert metrics(at)["Events stored"] == "10" and metrics(at)["Uploads created"] == "5"  # and the 4 of seed_repairs


def test_playback_health_drills_down_to_error_messages_and_views(open_page: Callable[..., AppTest]) -> None:
    at = open_page(PLAYBACK)
    assert not at.exception
    shown = metrics(at)
    assert int(shown["Views"]) >= 6 and shown["Playback failures"] != "—"
    at.selectbox(key="play_by").set_value("browser").run()
    breakdown = table(at, "play_breakdown_browser")
    at = pick(at, "play_breakdown_browser", breakdown["browser"].tolist().index("Edge"))
    errors = table(at, "play_errors_browser")
    assert errors.iloc[0]["error_message"] == VIEW_ERROR and errors.iloc[0]["views"] == 3
    failed = table(at, "play_failed_views")
    assert set(failed["browser"]) == {"Edge"} and len(failed) == 4
    at = pick(at, "play_errors_browser", 0)
    assert set(table(at, "play_failed_views")["error_message"]) == {VIEW_ERROR}
    at.selectbox(key="play_failure").set_value("video startup failure").run()
    assert table(at, "play_failed_views").empty  # the startup failure carries no message


def test_the_webhook_log_searches_events_and_shows_a_payload_without_secrets(
    open_page: Callable[..., AppTest], ops_world: OpsWorld
) -> None:
    at = open_page(WEBHOOK_LOG)
    assert not at.exception and len(table(at, "log_events")) == 5  # the last day's events
    at.selectbox(key="log_type").set_value("video.asset.ready").run()
    assert table(at, "log_events")["id"].tolist() == ["evt-2", "evt-1"]
    at.text_input(key="log_lesson").input(str(ops_world.world.lessons["a_mux"])).run()
    assert table(at, "log_events")["id"].tolist() == ["evt-1"]
    at.text_input(key="log_lesson").input("x").run()
    assert any("lesson filter is off" in w.value for w in at.warning) and len(table(at, "log_events")) == 2
    at.text_input(key="log_lesson").input("").run()
    at.selectbox(key="log_type").set_value("any").run()
    at.text_input(key="log_upload").input("obj-4").run()
    assert table(at, "log_events")["type"].tolist() == ["video.upload.asset_created"]
    at = pick(at, "log_events", 0)
    body = at.json[0].value
    assert '"obj-4"' in body and "[redacted]" in body and UPLOAD_URL not in page_text(at) and "s3cr3t" not in body
    assert "Hidden (credentials): data.url" in page_text(at)
    at.selectbox(key="log_outcome").set_value("failed").run()
    assert table(at, "log_events").empty
    at.text_input(key="log_upload").input("not an id!").run()  # refused by the log's filter: a warning, no error
    assert any("asset and upload filters are off" in w.value for w in at.warning) and not at.exception


def test_migration_counts_failures_and_a_rollback_with_confirmation(
    open_page: Callable[..., AppTest], ops_world: OpsWorld
) -> None:
    env, lesson = ops_world.migration, ops_world.done[0]
    asset_id = env.job(lesson).mux_asset_id
    at = open_page(MIGRATION)
    assert not at.exception
    assert metrics(at)["Done"] == "2" and metrics(at)["Failed"] == "1"
    failures = table(at, "mops_jobs")
    assert failures["lesson_id"].tolist() == [ops_world.failed] and "Mux could not process" in failures["error"][0]

    at.multiselect(key="mops_lessons").select(lesson).run()
    at.button(key="mops_rollback").click().run()
    assert env.lesson(lesson).video_provider == "mux"  # nothing happens before the confirmation
    assert [w.value for w in at.warning] == ["Put 1 lessons back on their S3 video and delete their Mux assets?"]
    at.button(key="mops_yes").click().run()
    assert not at.exception
    report = table(at, "mops_report")  # the only table with results: no preview for a rollback
    assert report["result"].tolist() == ["ok"] and f"Mux asset {asset_id} deleted" in report["message"][0]
    assert env.lesson(lesson).video_provider == "s3" and env.job(lesson).state == "cancelled"
    with pytest.raises(MuxNotFound):
        env.mux.get_asset(asset_id or "")
    with env.session_factory() as s:
        audit = s.execute(select(OperatorAction).where(OperatorAction.action == "migration.rollback")).scalar_one()
    assert (audit.actor, audit.target, audit.outcome) == (
        ops_world.world.emails["admin"],
        f"lesson:{lesson}",
        "rolled_back",
    )
    assert table(at, "mops_actions")["target"].tolist() == [f"lesson:{lesson}"]
    # The CLI's call (no dashboard user): a refusal is audited too, under the operating-system user.
    assert env.service.rollback([lesson], by=None).refused
    with env.session_factory() as s:
        refused = s.execute(select(OperatorAction).where(OperatorAction.outcome == "refused")).scalar_one()
    assert refused.actor.startswith("cli:") and "no completed migration" in (refused.detail or {})["reason"]

    # Cleanup: the dry run first, then the CLI's question; "no" deletes nothing, "yes" deletes the object.
    other = ops_world.done[1]
    key = env.job(other).s3_key
    at.button(key="mops_cleanup").click().run()
    assert "would delete" in table(at, "mops_preview")["message"][0]
    assert [w.value for w in at.warning] == ["Delete 1 S3 objects? Their lessons can no longer roll back."]
    at.button(key="mops_no").click().run()
    assert env.s3.client().head_object(Bucket=env.s3.bucket, Key=key)
    at.button(key="mops_cleanup").click().run()
    at.button(key="mops_yes").click().run()
    assert table(at, "mops_report")["message"][0].startswith("deleted s3://")
    assert env.job(other).cleaned_up_at is not None
    assert env.s3.client().list_objects_v2(Bucket=env.s3.bucket, Prefix=key).get("KeyCount") == 0


def test_other_roles_get_the_role_error(open_page: Callable[..., AppTest], ops_world: OpsWorld) -> None:
    # Through the navigation the pages are not offered: a teacher lands on their own first page.
    assert [t.value for t in open_page(OPERATIONS, "teacher_a").title] == ["My lessons"]
    # Opened directly, each page stops at its role check, before it runs an action (even one filed in the
    # session by hand, as a forged click would).
    forged = {
        "ops_alert_action:run": Request("acknowledge", 1),
        "ops_orphan_action:run": Request("delete_asset", ops_world.orphan),
        "log_action:run": Request("replay", "evt-3"),
    }
    for who, role in (("teacher_a", "teacher"), ("analyst", "analyst")):
        for page in (OPERATIONS, PLAYBACK, MIGRATION, WEBHOOK_LOG):
            at = new_app(str(PAGES_DIR / page), who, ops_world.world)
            for key, request in forged.items():
                at.session_state[key] = request
            at.run()
            assert [e.value for e in at.error] == [f"This page is for admin accounts; you are signed in as {role}."]
            assert not at.dataframe and not at.metric and not at.button
    others = {ops_world.world.emails[who] for who in ("teacher_a", "analyst")}
    assert not [row for row in _audit(ops_world, "") if row[1] in others]
    assert ops_world.migration.mux.get_asset(ops_world.orphan).id == ops_world.orphan


def test_a_failing_read_shows_in_the_error_display(
    open_page: Callable[..., AppTest], monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*args: object) -> None:
        raise operations_db.OperationsDataUnavailable("the platform database did not answer (OperationalError)")

    monkeypatch.setattr(operations_db, "open_alerts", down)
    at = open_page(OPERATIONS)
    assert not at.exception
    assert [e.value for e in at.error] == ["the platform database did not answer (OperationalError)"]
    assert "Traceback" not in page_text(at)


def _audit(ops_world: OpsWorld, prefix: str) -> list[tuple[str, str, str, str]]:
    with ops_world.migration.session_factory() as s:
        rows = s.execute(
            select(OperatorAction.action, OperatorAction.actor, OperatorAction.target, OperatorAction.outcome)
            .where(OperatorAction.action.startswith(prefix))
            .order_by(OperatorAction.id)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_an_admin_acknowledges_and_silences_an_alert(open_page: Callable[..., AppTest], ops_world: OpsWorld) -> None:
    admin = ops_world.world.emails["admin"]
    at = open_page(OPERATIONS)
    assert at.button(key="ops_ack").disabled and at.button(key="ops_silence").disabled  # nothing picked
    alerts = table(at, "ops_alerts")
    firing = alerts["kind"].tolist().index("playback_failure")
    firing_id, pending_id = int(alerts["id"][firing]), int(alerts["id"][1 - firing])
    at = pick(at, "ops_alerts", firing)
    at.button(key="ops_ack").click().run()
    assert not at.exception
    assert [m.value for m in at.success] == [f"Alert {firing_id} (playback_failure) acknowledged by {admin}."]
    assert table(at, "ops_alerts").set_index("id").loc[firing_id, "acknowledged_by"] == admin
    assert at.button(key="ops_ack").disabled  # acknowledged once; the table says by whom

    at = pick(at, "ops_alerts", 1 - firing)
    at.selectbox(key="ops_silence_for").set_value("custom").run()
    at.text_input(key="ops_silence_custom").input("soon").run()
    at.button(key="ops_silence").click().run()  # a duration the alert store refuses: the error display says why
    assert [e.value for e in at.error] == ["'soon' is not a duration: use e.g. 30m, 2h or 1d"] and not at.exception
    at.text_input(key="ops_silence_custom").input("90m").run()
    at.button(key="ops_silence").click().run()
    assert at.success[0].value.startswith(f"Alert {pending_id} (upload_failure_rate") and not at.error
    row = table(at, "ops_alerts").set_index("id").loc[pending_id]
    assert row["silenced_by"] == admin
    left = row["silenced_until"] - pd.Timestamp(datetime.now(UTC))
    assert pd.Timedelta(minutes=88) < left <= pd.Timedelta(minutes=90)
    assert _audit(ops_world, "alert.") == [
        ("alert.acknowledge", admin, f"alert:{firing_id}", "acknowledged"),
        ("alert.silence", admin, f"alert:{pending_id}", "silenced"),
    ]


def test_an_admin_deletes_an_orphaned_asset_after_the_question_and_a_refusal_says_why(
    open_page: Callable[..., AppTest], ops_world: OpsWorld
) -> None:
    env, orphan, lesson = ops_world.migration, ops_world.orphan, ops_world.failed
    admin = ops_world.world.emails["admin"]
    at = open_page(OPERATIONS)
    assert at.button(key="ops_orphan_delete").disabled  # nothing picked
    orphans = table(at, "ops_orphans")
    cost = orphans["monthly_cost"][orphans["asset_id"].tolist().index(orphan)]

    def ask() -> AppTest:
        """Pick the orphan (where it is now: the list is read afresh after each delete) and ask to delete it."""
        picked = pick(at, "ops_orphans", table(at, "ops_orphans")["asset_id"].tolist().index(orphan))
        picked.button(key="ops_orphan_delete").click().run()
        return picked

    # The listing is from the last sync: meanwhile a lesson took the asset. Deleting re-checks and refuses.
    with transaction(env.session_factory) as s:
        s.execute(update(Lesson).where(Lesson.id == lesson).values(mux_asset_id=orphan))
    at = ask()
    why = f"failed migration copy of lesson {lesson}, {cost} a month"
    assert [w.value for w in at.warning] == [f"Delete Mux asset {orphan} ({why})? Mux cannot undo it."]
    at.button(key="ops_orphan_action_yes").click().run()
    assert [e.value for e in at.error] == [f"asset {orphan} is still in use: lesson {lesson} plays it"]
    assert not at.exception and "Traceback" not in page_text(at) and not at.warning
    assert env.mux.get_asset(orphan).id == orphan
    with transaction(env.session_factory) as s:
        s.execute(update(Lesson).where(Lesson.id == lesson).values(mux_asset_id=None))
    # The refusal read the list afresh (the lesson played the asset then); the page keeps it for a minute.
    operations_db.forget_orphans()
    at.run()

    # Mux down: the same error display, and nothing deleted.
    env.emu.set_faults({"routes": {"GET /video/v1/assets/{ASSET_ID}": {"p503": 1.0, "retry_after": None}}})
    try:
        at = ask()
        at.button(key="ops_orphan_action_yes").click().run()
        assert len(at.error) == 1 and "Mux" in at.error[0].value and not at.exception
    finally:
        env.emu.clear_faults()

    at = ask()
    at.button(key="ops_orphan_action_no").click().run()  # No: the question goes, the asset stays
    assert not at.warning and env.mux.get_asset(orphan).id == orphan
    at = ask()
    at.button(key="ops_orphan_action_yes").click().run()
    assert not at.exception and [m.value for m in at.success] == [f"Deleted Mux asset {orphan}"]
    with pytest.raises(MuxNotFound):
        env.mux.get_asset(orphan)
    assert orphan not in set(table(at, "ops_orphans")["asset_id"])  # gone before the next sync notices
    assert [(action, actor, outcome) for action, actor, _, outcome in _audit(ops_world, "asset.")] == [
        ("asset.delete", admin, "refused"),
        ("asset.delete", admin, "failed"),
        ("asset.delete", admin, "deleted"),
    ]


def test_replay_one_event_replay_the_matching_ones_and_repair_a_lesson(
    open_page: Callable[..., AppTest], ops_world: OpsWorld
) -> None:
    env, repairs, admin = ops_world.migration, ops_world.repairs, ops_world.world.emails["admin"]
    at = open_page(WEBHOOK_LOG)
    at.selectbox(key="log_range").set_value("Last week").run()

    # One failed event whose cause (a row lock) is gone: the replay applies it.
    at.text_input(key="log_lesson").input(str(repairs.locked)).run()
    assert table(at, "log_events")["id"].tolist() == ["evt-locked"]
    at = pick(at, "log_events", 0)
    at.button(key="log_replay").click().run()
    assert not at.exception
    assert [m.value for m in at.success] == [
        f"Replayed evt-locked (video.asset.ready): failed → applied. lesson {repairs.locked} changed."
    ]
    assert table(at, "log_events")["outcome"].tolist() == ["applied"]
    locked = env.lesson(repairs.locked)
    assert (locked.video_status, locked.mux_playback_id) == ("ready", "pb-locked")
    at = pick(at, "log_events", 0)
    at.button(key="log_replay").click().run()  # again: applied is final, nothing changes
    assert [m.value for m in at.info] == [
        "Replayed evt-locked (video.asset.ready): applied → applied (already applied)."
    ]

    # Every failed event of one asset: the question names how many; nothing happens before Yes.
    at.text_input(key="log_lesson").input("").run()
    at.text_input(key="log_asset").input(repairs.batch_asset).run()
    assert at.button(key="log_replay_matching").label == "Replay all 2 matching events (not applied)"
    at.button(key="log_replay_matching").click().run()
    assert [w.value for w in at.warning] == [
        "Replay 2 stored events matching these filters? Each goes through the webhook handler again."
    ]
    assert env.lesson(repairs.batch).video_status == "processing"
    at.button(key="log_action_yes").click().run()
    assert [m.value for m in at.success] == ["Replayed 2 events (failed -> applied: 2)."]
    assert table(at, "log_replayed")["event_id"].tolist() == ["evt-batch-1", "evt-batch-2"]  # oldest first
    batch = env.lesson(repairs.batch)
    assert (batch.video_status, batch.video_duration_s) == ("ready", 6.0)
    assert at.button(key="log_replay_matching").disabled  # nothing left that is not applied

    # The `ready` event of a migrated lesson never arrived: repair reads the asset from Mux.
    at.text_input(key="log_asset").input("").run()
    at.text_input(key="log_lesson").input(str(repairs.stuck)).run()
    at = pick(at, "log_events", table(at, "log_events")["id"].tolist().index("evt-stuck"))
    assert at.button(key="log_repair").label == f"Repair lesson {repairs.stuck} from Mux"
    at.button(key="log_repair").click().run()
    asset_id = env.lesson(repairs.stuck).mux_asset_id
    assert [m.value for m in at.success] == [
        f"Lesson {repairs.stuck}: processing → ready. set ready from Mux's asset {asset_id}."
    ]
    assert env.lesson(repairs.stuck).video_status == "ready"
    assert [(a, actor, target) for a, actor, target, _ in _audit(ops_world, "webhook.")][-4:] == [
        ("webhook.replay", admin, "webhook:evt-locked"),
        ("webhook.replay", admin, "webhook:evt-locked"),
        ("webhook.replay", admin, "webhook:evt-batch-1"),
        ("webhook.replay", admin, "webhook:evt-batch-2"),
    ]
    assert _audit(ops_world, "lesson.") == [("lesson.repair", admin, f"lesson:{repairs.stuck}", "healed")]

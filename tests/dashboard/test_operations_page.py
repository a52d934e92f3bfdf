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

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.db.engine import make_engine, make_session_factory
from core.db.models import OperatorAction
from core.errors import MuxNotFound
from dashboard import operations_db
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
    seed_platform,
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
    seed_warehouse(world.warehouse_path, now, world.lessons)
    env = settings_env(migration.settings) | world.env()
    yield OpsWorld(world, migration, env, done, failed)
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
    "ops_alerts": "acknowledged_by", "ops_webhook_events": "lag_s", "ops_refused_hours": "hour",
    "ops_uploads": "mux_upload_id", "ops_orphans": "why", "play_failed_views": "view_id", "mops_jobs": "job_id",
    "mops_actions": "actor", "mops_preview": "result", "mops_report": "result",
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


def test_every_section_has_numbers_and_the_rows_behind_them(open_page: Callable[..., AppTest]) -> None:
    at = open_page(OPERATIONS)
    assert not at.exception and [t.value for t in at.title] == ["Operations"]
    shown = metrics(at)
    assert shown["Firing alerts"] == "1" and shown["Pending alerts"] == "1"
    assert table(at, "ops_alerts")["kind"].tolist() == ["playback_failure", "upload_failure_rate"]
    # Webhooks of the last hour: 4 stored, 1 failed (listed by default with its error), 5 refused.
    assert shown["Events stored"] == "4" and shown["Failed"] == "1" and shown["Refused or duplicate"] == "5"
    assert shown["Delivery lag p50 / p95"] == "3 s / 9 s"
    events = table(at, "ops_webhook_events")
    assert events["id"].tolist() == ["evt-3"] and events["error"].tolist() == [EVENT_ERROR]
    # Uploads: 4 created, one of each outcome; the failed ones listed with Mux's error.
    assert (shown["Uploads created"], shown["Ready"], shown["Errored"], shown["Timed out"]) == ("4", "1", "1", "1")
    assert shown["Success rate"] == "33.3 %"
    uploads = table(at, "ops_uploads")
    assert set(uploads["mux_upload_id"]) == {"up-2", "up-3"}
    assert uploads.set_index("mux_upload_id").loc["up-2", "error"] == UPLOAD_ERROR
    assert shown["Orphaned assets"] == "0" and table(at, "ops_orphans").empty
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
    teachers = table(at, "ops_upload_teachers")
    at = pick(at, "ops_upload_teachers", teachers["teacher_name"].tolist().index("Bo Teacher"))
    assert table(at, "ops_uploads")["mux_upload_id"].tolist() == ["up-3"]
    at = pick(at, "ops_upload_days", 0)  # the one day: the same upload, now also narrowed by its day
    assert table(at, "ops_uploads")["mux_upload_id"].tolist() == ["up-3"]

    at = pick(at, "ops_sync", table(at, "ops_sync")["job"].tolist().index("assets"))
    assert any(SYNC_ERROR in e.value for e in at.error)

    at.selectbox(key="ops_range").set_value("Last week").run()
    assert metrics(at)["Events stored"] == "6" and metrics(at)["Uploads created"] == "5"


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
    at.text_input(key="log_object").input("obj-4").run()
    assert table(at, "log_events")["type"].tolist() == ["video.upload.asset_created"]
    at = pick(at, "log_events", 0)
    body = at.json[0].value
    assert '"obj-4"' in body and "(hidden)" in body and UPLOAD_URL not in page_text(at) and "s3cr3t" not in body
    at.selectbox(key="log_outcome").set_value("failed").run()
    assert table(at, "log_events").empty


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
    # Opened directly, each page stops at its role check.
    for who, role in (("teacher_a", "teacher"), ("analyst", "analyst")):
        for page in (OPERATIONS, PLAYBACK, MIGRATION, WEBHOOK_LOG):
            at = new_app(str(PAGES_DIR / page), who, ops_world.world).run()
            assert [e.value for e in at.error] == [f"This page is for admin accounts; you are signed in as {role}."]
            assert not at.dataframe and not at.metric and not at.button


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

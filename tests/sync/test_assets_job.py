"""Asset reconciliation: the plan (pure) and the job against a real platform DB on each backend."""

from __future__ import annotations

import math
from datetime import timedelta

from sqlalchemy import Engine, select, update

from core.db.models import Alert, Lesson, MigrationJob
from core.db.records import LessonState
from sync import reconcile
from sync.assets import run_assets
from tests.sync.conftest import NOW
from tests.warehouse.factories import FakeAssets, make_asset
from warehouse.store import WarehouseWriter


def lesson(id: int, **kw: object) -> LessonState:
    values: dict[str, object] = {
        "video_url": None,
        "video_status_at": None,
        "mux_upload_id": None,
        "mux_asset_id": None,
        "video_status": "none",
        "video_provider": None,
        "mux_playback_id": None,
        "playback_policy": "public",
        "video_duration_s": None,
    }
    values.update(kw)
    return LessonState(id=id, **values)  # type: ignore[arg-type]


def test_plan_heals_missed_ready_webhooks() -> None:
    lessons = [
        lesson(1, mux_asset_id="a1", video_status="processing", video_provider="mux"),  # ready webhook missed
        lesson(2, video_status="waiting_upload"),  # both webhooks missed: found by passthrough
        lesson(
            3, mux_asset_id="a3", video_status="ready", video_provider="mux", mux_playback_id="p", video_duration_s=9
        ),
        lesson(4, mux_asset_id="a4", video_status="processing", video_provider="mux"),
        lesson(5, video_status="waiting_upload"),  # its migration is running: hands off
    ]
    assets = [
        make_asset("a1", passthrough="1", duration=61.5, policy="signed"),
        make_asset("a2", passthrough="2"),
        make_asset("a3", passthrough="3"),
        make_asset("a4", passthrough="4", status="errored"),
        make_asset("a5", passthrough="5"),
    ]
    plan = reconcile.plan(assets, lessons, busy_lessons={5})
    heals = {h.lesson_id: h for h in plan.heals}
    assert set(heals) == {1, 2, 4}
    assert (heals[1].status, heals[1].playback_id, heals[1].duration_s) == ("ready", "pb-a1", 61.5)
    assert heals[2].asset_id == "a2" and heals[2].expected_asset_id is None
    assert heals[4].status == "errored" and heals[4].error == "bad file"
    assert plan.alerts == []


def test_plan_never_attaches_another_upload_s_asset_and_survives_odd_passthroughs() -> None:
    """Siblings of the webhook findings (issue 15 items 6 and 7) in the reconcile path."""
    lessons = [
        lesson(1, video_status="waiting_upload", mux_upload_id="U1"),  # waits for its own upload
        lesson(2, video_status="waiting_upload", mux_upload_id="U2"),
    ]
    foreign = make_asset("a9", passthrough="1")  # names lesson 1, but is not from its upload
    own = make_asset("a2", passthrough="2") | {"upload_id": "U2", "duration": math.inf}
    odd = [make_asset(f"o{i}", passthrough=p) for i, p in enumerate(["²", "1" * 23, "-1"])]
    plan = reconcile.plan([foreign, own, *odd], lessons, busy_lessons=set())
    assert [(h.lesson_id, h.asset_id, h.duration_s) for h in plan.heals] == [(2, "a2", None)]
    assert {a.context["asset_id"] for a in plan.alerts} == {"a9", "o0", "o1", "o2"}  # orphans, flagged


def test_plan_flags_orphans_and_missing_assets_but_not_legacy_or_preparing() -> None:
    lessons = [
        lesson(1, mux_asset_id="gone", video_status="ready", video_provider="mux", mux_playback_id="p"),
        lesson(2, video_status="ready", video_provider="s3"),  # legacy: migration's business
        lesson(3, mux_asset_id="a3", video_status="ready", video_provider="s3"),
    ]
    assets = [
        make_asset("stray", passthrough="999"),
        make_asset("old-copy", passthrough="2"),
        make_asset("a3", passthrough="3"),
        make_asset("uploading", passthrough="77", status="preparing"),
    ]
    plan = reconcile.plan(assets, lessons, busy_lessons=set())
    assert plan.heals == []
    assert sorted(a.key for a in plan.alerts) == [
        "lesson_asset_missing:1:gone",
        "mux_orphan_asset:old-copy",
        "mux_orphan_asset:stray",
    ]


def test_job_heals_flags_once_and_resolves(seeded: Engine, writer: WarehouseWriter) -> None:
    with seeded.begin() as conn:
        # Lesson 11 was uploaded to Mux, but Lectern missed both webhooks; lesson 12 missed only ready.
        conn.execute(
            update(Lesson)
            .where(Lesson.id == 11)
            .values(video_status="waiting_upload", video_provider=None, video_url=None, video_duration_s=None)
        )
        conn.execute(
            update(Lesson)
            .where(Lesson.id == 12)
            .values(video_status="processing", video_provider="mux", mux_asset_id="asset-12")
        )
        conn.execute(
            update(Lesson)
            .where(Lesson.id == 23)
            .values(video_status="waiting_upload", video_provider=None, video_duration_s=None)
        )
        conn.execute(MigrationJob.__table__.insert().values(lesson_id=23, s3_key="k", state="ingesting"))
    assets = [
        make_asset("asset-11", passthrough="11", duration=300.5),
        make_asset("asset-12", passthrough="12", duration=200.0, policy="signed"),
        make_asset("asset-23", passthrough="23"),
        make_asset("orphan-1", passthrough="not-a-lesson"),
    ]
    with writer.open() as con:
        result = run_assets(con, FakeAssets(assets), seeded, now=NOW)
        assert result.details == {"assets": 4, "healed": 2, "alerts": 1, "resolved": 0}
        assert con.execute("SELECT count(*), count(deleted_at) FROM assets").fetchall() == [(4, 0)]
        assert con.execute("SELECT lesson_id FROM assets WHERE asset_id = 'asset-11'").fetchall() == [(11,)]
    with seeded.connect() as conn:
        healed = conn.execute(
            select(
                Lesson.id,
                Lesson.video_status,
                Lesson.video_provider,
                Lesson.mux_asset_id,
                Lesson.mux_playback_id,
                Lesson.video_duration_s,
            )
            .where(Lesson.id.in_([11, 12, 23]))
            .order_by(Lesson.id)
        ).all()
        assert [tuple(r) for r in healed] == [
            (11, "ready", "mux", "asset-11", "pb-asset-11", 300.5),
            (12, "ready", "mux", "asset-12", "pb-asset-12", 200.0),
            (23, "waiting_upload", None, None, None, None),
        ]
        alerts = conn.execute(select(Alert.key, Alert.kind, Alert.resolved_at)).all()
        assert [tuple(a) for a in alerts] == [("mux_orphan_asset:orphan-1", "mux_orphan_asset", None)]

    # Run again: nothing to heal, the alert is not duplicated.
    with writer.open() as con:
        again = run_assets(con, FakeAssets(assets), seeded, now=NOW + timedelta(hours=1))
    assert again.details == {"assets": 4, "healed": 0, "alerts": 0, "resolved": 0}

    # The orphan is deleted in Mux: its alert resolves and the warehouse marks the asset deleted.
    with writer.open() as con:
        third = run_assets(con, FakeAssets(assets[:3]), seeded, now=NOW + timedelta(hours=2))
        assert third.details["resolved"] == 1
        assert con.execute("SELECT asset_id FROM assets WHERE deleted_at IS NOT NULL").fetchall() == [("orphan-1",)]
    with seeded.connect() as conn:
        assert conn.execute(select(Alert.resolved_at)).scalar_one() is not None

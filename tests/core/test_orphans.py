"""Orphaned assets: the plan (pure, literal inputs), the admin's delete against the emulator and a real platform DB,
and a teacher replacing a lesson's video end to end (emulator -> webhooks -> API -> assets sync -> orphan list)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import imageio_ffmpeg
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from api.main import create_app
from api.testing import ApiServer
from core.assets.orphans import (
    ListedAsset,
    MigrationRef,
    OrphanReason,
    PlatformRefs,
    UploadRef,
    monthly_storage_micros,
    plan_orphans,
    storage_class,
)
from core.assets.service import AssetInUse, AssetNotFound
from core.container import Lectern
from core.costs.pricebook import load_pricebook
from core.db.engine import transaction
from core.db.models import Lesson, MigrationJob, OperatorAction
from core.db.records import LessonState
from core.errors import ErrorKind
from core.mux.uploads import put_in_chunks
from core.settings import load_settings
from emulator.testing import EmulatorServer
from tests.assets_world import aid, build_world, emulator_with, on_mux, settings_for, sync
from tests.factories import make_course, make_lesson, make_user
from tests.waiting import wait_until
from warehouse.orphans import orphaned_assets
from warehouse.reader import WarehouseReader

BOOK = load_pricebook()
WEBHOOK_SECRET = "whsec-orphan-tests-0123456789abcdef"
JWT_SECRET = "platform-jwt-secret-for-orphan-tests-0123456789"
NOW = datetime(2025, 3, 11, tzinfo=UTC)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def lesson(id: int, asset: str | None, *, playback: str | None = None, status: str = "ready", **kw: Any) -> LessonState:
    values: dict[str, Any] = {
        "video_url": None,
        "playback_policy": "public",
        "video_provider": "mux",
        "video_status": status,
        "video_status_at": ago(1),
        "video_duration_s": 600.0,
        "mux_upload_id": None,
        "mux_asset_id": asset,
        "mux_playback_id": playback if playback is not None else (f"pb-{asset}" if asset else None),
    }
    values.update(kw)
    return LessonState(id=id, **values)


def listed(asset_id: str, passthrough: str | None, created_days_ago: float, **kw: Any) -> ListedAsset:
    values: dict[str, Any] = {
        "status": "ready",
        "duration_s": 600.0,
        "resolution_tier": "1080p",
        "video_quality": "basic",
        "playback_id": f"pb-{asset_id}",
    }
    values.update(kw)
    return ListedAsset(asset_id, passthrough=passthrough, created_at=ago(created_days_ago), **values)


# --- the plan ---------------------------------------------------------------------------------------


def test_plan_names_each_orphan_with_why_since_and_monthly_cost() -> None:
    assets = [
        listed("old1", "1", 40, upload_id="U-old1"),
        listed("new1", "1", 20),
        listed("copy2", "2", 12, upload_id=None),
        listed("stray", "99", 70),
        listed("nopass", None, 80, video_quality="plus", duration_s=1200.0, last_played=NOW.date() - timedelta(5)),
        listed("gone", None, 90),  # an operator deleted it after the listing
        listed("byupload", None, 50, upload_id="U-b"),  # no passthrough, but its upload row names lesson 3
        listed("new3", "3", 10),
    ]
    refs = PlatformRefs(
        lessons=[lesson(1, "new1"), lesson(2, None, video_provider="s3", video_url="k"), lesson(3, "new3")],
        migrations=[MigrationRef(2, "failed", "copy2", ago(10))],
        uploads=[UploadRef("U-b", 3, "byupload", ago(50)), UploadRef("U-3", 3, "new3", ago(11))],
        deleted=frozenset({"gone"}),
    )
    plan = plan_orphans(assets, refs, BOOK, now=NOW, grace_days=None)
    by_id = {o.asset_id: o for o in plan.orphans}
    assert set(by_id) == {"old1", "copy2", "stray", "nopass", "byupload"}
    assert [(o.reason, o.lesson_id, o.why) for o in (by_id["old1"], by_id["copy2"], by_id["byupload"])] == [
        (OrphanReason.replaced, 1, "replaced upload of lesson 1"),
        (OrphanReason.failed_migration, 2, "failed migration copy of lesson 2"),
        (OrphanReason.replaced, 3, "replaced upload of lesson 3"),
    ]
    assert (by_id["stray"].why, by_id["nopass"].why) == ("unknown passthrough '99'", "no passthrough")
    # Since the lesson's next video: the newer asset, or the newer upload row, whichever came first.
    assert by_id["old1"].since == ago(20) and by_id["byupload"].since == ago(11)
    assert by_id["copy2"].since == ago(10) and by_id["stray"].since == ago(70)
    # 10 min of basic 1080p, never played: cold from creation (0.003 $/min-month x 0.4) = $0.012.
    assert (by_id["old1"].storage_class, by_id["old1"].monthly_micros) == ("cold", 12_000)
    # 20 min of plus 1080p played 5 days ago: standard (0.003 x 20) = $0.06.
    assert (by_id["nopass"].storage_class, by_id["nopass"].monthly_micros) == ("standard", 60_000)
    assert plan.total_monthly_micros == 12_000 * 4 + 60_000
    assert plan.orphans[0].asset_id == "nopass"  # costliest first
    frame = plan.frame()
    assert frame["asset_id"].iloc[0] == "nopass" and frame["monthly_micros"].sum() == plan.total_monthly_micros
    assert frame.loc[frame["asset_id"] == "old1", "monthly_cost"].item() == "$0.01"


def test_assets_in_use_are_never_orphans() -> None:
    assets = [
        listed("current", "1", 5),
        listed("still-played", "2", 50),  # lesson 2's replacement is processing: it still plays this one
        listed("processing", "2", 1, status="preparing"),
        listed("pending-upload", "3", 1, upload_id="U3"),  # lesson 3 missed asset_created for its own upload
        listed("verifying", "4", 1),  # named by a running migration job
        listed("unrecorded", "5", 1),  # its lesson's migration runs but has not recorded the asset yet
    ]
    refs = PlatformRefs(
        lessons=[
            lesson(1, "current"),
            lesson(2, "processing", playback="pb-still-played", status="processing"),
            lesson(3, None, status="waiting_upload", mux_upload_id="U3"),
            lesson(4, None, video_provider="s3", video_url="k4"),
            lesson(5, None, video_provider="s3", video_url="k5"),
        ],
        migrations=[MigrationRef(4, "verifying", "verifying"), MigrationRef(5, "ingesting", None)],
    )
    assert plan_orphans(assets, refs, BOOK, now=NOW, grace_days=7).orphans == []


def test_only_a_replaced_video_past_its_grace_with_a_ready_successor_is_eligible() -> None:
    assets = [
        listed("due", "1", 40),
        listed("new1", "1", 10),
        listed("young", "2", 40),
        listed("new2", "2", 3),
        listed("fallback", "3", 60),
        listed("played", "3", 30),
        listed("broken", "3", 20, status="errored", duration_s=None),
        listed("stray", "77", 400),
    ]
    refs = PlatformRefs(
        lessons=[lesson(1, "new1"), lesson(2, "new2"), lesson(3, "broken", playback="pb-played", status="errored")]
    )
    plan = plan_orphans(assets, refs, BOOK, now=NOW, grace_days=7)
    holds = {o.asset_id: o.hold for o in plan.orphans}
    assert set(holds) == {"due", "young", "fallback", "stray"}
    assert holds["due"] is None and [o.asset_id for o in plan.eligible] == ["due"]
    assert holds["young"] == f"grace period until {ago(3) + timedelta(days=7):%Y-%m-%d %H:%M} UTC"
    assert "this may be its only playable copy" in str(holds["fallback"])
    assert "an admin decides" in str(holds["stray"])
    off = plan_orphans(assets, refs, BOOK, now=NOW, grace_days=None)
    off_holds = {o.asset_id: o.hold for o in off.orphans}
    assert off.eligible == [] and "LECTERN_DELETE_REPLACED_ASSETS_AFTER_DAYS" in str(off_holds["due"])


def test_storage_class_and_price_follow_the_price_book() -> None:
    today = NOW.date()
    assert storage_class(BOOK, created=ago(400), last_played=today - timedelta(29), today=today) == "standard"
    assert storage_class(BOOK, created=ago(400), last_played=today - timedelta(30), today=today) == "infrequent"
    assert storage_class(BOOK, created=ago(400), last_played=today - timedelta(90), today=today) == "cold"
    assert storage_class(BOOK, created=ago(1), last_played=None, today=today) == "cold"  # unplayed starts cold
    warm = BOOK.with_overrides({"storage.new_assets_start_cold": 0})
    assert storage_class(warm, created=ago(10), last_played=None, today=today) == "standard"
    # 60 min premium 2160p: 0.0144 $/min-month; infrequent is 40 % off.
    assert monthly_storage_micros(BOOK, 3600.0, "premium", "2160p", "standard") == 864_000
    assert monthly_storage_micros(BOOK, 3600.0, "premium", "2160p", "infrequent") == 518_400
    assert monthly_storage_micros(BOOK, None, "basic", "720p", "cold") == 0
    odd = listed("odd", "9", 5, video_quality="smart", resolution_tier="tier_720p")  # Mux's old names
    plan = plan_orphans([odd], PlatformRefs(lessons=[]), BOOK, now=NOW, grace_days=None)
    assert (plan.orphans[0].video_quality, plan.orphans[0].resolution_tier) == ("plus", "720p")


# --- deleting, against the emulator and a real platform DB ---------------------------------------------


@pytest.fixture
def world_env(tmp_path: Path, session_factory: sessionmaker[Session], db_url: str) -> Iterator[tuple[Any, ...]]:
    world = build_world(session_factory)
    with emulator_with(tmp_path, world.assets) as emu:
        settings = settings_for(db_url, emu, tmp_path / "warehouse.duckdb")
        with Lectern.from_settings(settings) as lectern:
            yield world, emu, lectern


def audit(session_factory: sessionmaker[Session]) -> list[tuple[str, str, str, str]]:
    with session_factory() as s:
        rows = s.execute(
            select(OperatorAction.action, OperatorAction.actor, OperatorAction.target, OperatorAction.outcome).order_by(
                OperatorAction.id
            )
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def lesson_rows(session_factory: sessionmaker[Session]) -> list[tuple[Any, ...]]:
    with session_factory() as s:
        return [tuple(r) for r in s.execute(select(*LessonState.columns()).order_by(Lesson.id)).all()]


def test_delete_removes_the_orphan_in_mux_audits_and_is_idempotent(
    world_env: tuple[Any, ...], session_factory: sessionmaker[Session]
) -> None:
    world, emu, lectern = world_env
    old = aid("rep_old")
    result = lectern.orphans.delete(old, actor="admin@example.test")
    assert (result.outcome, on_mux(emu, old)) == ("deleted", False)
    again = lectern.orphans.delete(old, actor="cli:ops")  # Mux answers 404: already gone, not an error
    assert again.outcome == "already_gone"
    assert audit(session_factory) == [
        ("asset.delete", "admin@example.test", f"asset:{old}", "deleted"),
        ("asset.delete", "cli:ops", f"asset:{old}", "already_gone"),
    ]
    with session_factory() as s:
        detail = s.execute(select(OperatorAction.detail).order_by(OperatorAction.id)).scalars().first()
    passthrough = str(world.lessons["replaced"])
    assert detail == {"status": "ready", "duration_s": 600.0, "passthrough": passthrough, "upload_id": "uploadRepOld"}


IN_USE_CASES = [
    ("rep_new", "plays it"),  # the lesson's current asset
    ("replacing_old", "plays it"),  # its replacement is processing: the lesson still plays it
    ("twice_a", "only playable copy"),  # its lesson's newest upload errored
    ("mig_active", "migration of lesson"),  # a migration is verifying it
    ("mig_unrecorded", "migration of lesson"),  # a migration of its lesson runs
]


def test_deleting_an_asset_in_use_is_refused_and_changes_nothing(
    world_env: tuple[Any, ...], session_factory: sessionmaker[Session]
) -> None:
    _, emu, lectern = world_env
    before = lesson_rows(session_factory)
    for name, because in IN_USE_CASES:
        with pytest.raises(AssetInUse) as refused:
            lectern.orphans.delete(aid(name), actor="admin@example.test")
        assert refused.value.kind is ErrorKind.CONFLICT and because in refused.value.message, (name, refused.value)
        assert on_mux(emu, aid(name)), name
    assert lesson_rows(session_factory) == before
    assert audit(session_factory) == [
        ("asset.delete", "admin@example.test", f"asset:{aid(name)}", "refused") for name, _ in IN_USE_CASES
    ]


def test_an_unknown_or_malformed_id_is_not_found(world_env: tuple[Any, ...]) -> None:
    lectern = world_env[2]
    for bad in ("assetNeverExistedzzzzzzzzzzzzzz", "../video/v1/assets", ""):
        with pytest.raises(AssetNotFound) as missing:
            lectern.orphans.delete(bad, actor="cli:ops")
        assert missing.value.kind is ErrorKind.NOT_FOUND
    # Seen in a listing (the warehouse) and gone since: already gone.
    assert lectern.orphans.delete("assetNeverExistedzzzzzzzzzzzzzz", actor="cli:ops", known=True).outcome == (
        "already_gone"
    )


def test_the_recheck_sees_a_lesson_that_took_the_asset_back(
    world_env: tuple[Any, ...], session_factory: sessionmaker[Session]
) -> None:
    """The listing may be stale: an orphan a lesson points at again by delete time is refused."""
    world, emu, lectern = world_env
    with transaction(session_factory) as s:
        s.execute(update(Lesson).where(Lesson.id == world.lessons["recent"]).values(mux_asset_id=aid("recent_old")))
    with pytest.raises(AssetInUse):
        lectern.orphans.delete(aid("recent_old"), actor="scheduler", known=True)
    assert on_mux(emu, aid("recent_old"))
    with transaction(session_factory) as s:
        s.execute(update(MigrationJob).where(MigrationJob.state == "failed").values(state="queued"))
    with pytest.raises(AssetInUse):
        lectern.orphans.delete(aid("mig_failed"), actor="scheduler")


def test_no_api_route_deletes_assets(db_url: str, tmp_path: Path) -> None:
    """Deleting is an operator's CLI command (and, later, an admin-only dashboard action): the API has no route."""
    settings = load_settings(database_url=db_url, platform_jwt_secret=JWT_SECRET, warehouse_path=tmp_path / "w.duckdb")
    app = create_app(settings)
    routes = [(sorted(getattr(r, "methods", None) or ()), getattr(r, "path", "")) for r in app.routes]
    assert not [r for r in routes if "DELETE" in r[0]]
    assert not [r for r in routes if "asset" in r[1] and "orphan" in r[1]]


# --- a teacher replaces a lesson's video, end to end --------------------------------------------------


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clips") / "lesson.mp4"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error",
         "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-t", "2",
         "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", str(path)],
        check=True, capture_output=True,
    )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def live_emu() -> Iterator[EmulatorServer]:
    with EmulatorServer(webhook_secret=WEBHOOK_SECRET, processing_delay=0.0, webhook_retry_base=0.05) as server:
        yield server


def test_a_teacher_replacing_a_video_leaves_an_orphan_that_an_admin_deletes(
    db_url: str, session_factory: sessionmaker[Session], live_emu: EmulatorServer, clip: Path, tmp_path: Path
) -> None:
    emu = live_emu
    emu.reset()
    settings = settings_for(
        db_url,
        emu,
        tmp_path / "var" / "warehouse.duckdb",
        platform_jwt_secret=JWT_SECRET,
        mux_webhook_secret=WEBHOOK_SECRET,
    )
    with transaction(session_factory) as s:
        teacher = make_user(s, role="teacher")
        lesson_id = make_lesson(s, make_course(s, teacher=teacher)).id
        teacher_id = teacher.id
    with ApiServer(create_app(settings)) as api, Lectern.from_settings(settings) as lectern:
        emu.set_webhook_urls([f"{api.url}/api/videos/mux/webhook"])
        try:
            assets = [_upload(lectern, teacher_id, lesson_id, clip, session_factory) for _ in range(2)]
        finally:
            emu.set_webhook_urls([])
        old, new = assets
        sync(settings, datetime.now(UTC), ("assets",))
        reader = WarehouseReader(settings.warehouse_path)
        try:
            with reader.connect() as con:
                plan = orphaned_assets(con, lectern.orphans)
        finally:
            reader.close()
        assert [(o.asset_id, o.why) for o in plan.orphans] == [(old, f"replaced upload of lesson {lesson_id}")]
        orphan = plan.orphans[0]
        assert orphan.since is not None and orphan.since >= (orphan.created_at or orphan.since)
        expected = monthly_storage_micros(
            lectern.orphans.pricebook, orphan.duration_s, orphan.video_quality, orphan.resolution_tier, "cold"
        )
        assert orphan.monthly_micros == expected > 0 and plan.total_monthly_micros == expected
        assert "LECTERN_DELETE_REPLACED_ASSETS_AFTER_DAYS" in str(orphan.hold)  # off unless set

        with pytest.raises(AssetInUse):
            lectern.orphans.delete(new, actor="admin@example.test")
        assert lectern.orphans.delete(old, actor="admin@example.test").outcome == "deleted"
    assert not on_mux(emu, old) and on_mux(emu, new)
    assert audit(session_factory) == [
        ("asset.delete", "admin@example.test", f"asset:{new}", "refused"),
        ("asset.delete", "admin@example.test", f"asset:{old}", "deleted"),
    ]


def _upload(lectern: Lectern, teacher_id: int, lesson_id: int, clip: Path, sf: sessionmaker[Session]) -> str:
    """The teacher uploads `clip` as the lesson's video (as the upload page does); the ready asset's id."""
    ticket = lectern.lessons.request_upload(teacher_id, lesson_id)
    assert not ticket.reused
    with clip.open("rb") as f, httpx.Client(timeout=30) as http:
        put_in_chunks(ticket.url, f, clip.stat().st_size, http=http, content_type="video/mp4", chunk_size=256 * 1024)

    def ready() -> str | None:
        with sf() as s:
            row = s.execute(
                select(Lesson.video_status, Lesson.mux_asset_id, Lesson.mux_upload_id).where(Lesson.id == lesson_id)
            ).one()
        return row.mux_asset_id if row.video_status == "ready" and row.mux_upload_id == ticket.upload_id else None

    return wait_until(ready, timeout=30, what="the lesson's new video ready")

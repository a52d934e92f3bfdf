"""A platform and a Mux emulator that disagree in every way an asset can be orphaned (or look orphaned).

Assets are written into the emulator's state file before it starts (as tests/sync/emulator_world.py does),
so nothing needs transcoding; the platform rows go in through the shared factories. `NOW` is the world's
present: assets, uploads and lesson changes are dated relative to it, and tests run the sync on a clock
set from it.

Lessons (by name) and what their assets are:
- `replaced`: plays `rep_new` (uploaded 20 days ago); `rep_old` (40 days) is orphaned since 20 days;
  both uploads are in `uploads`.
- `recent`: plays `recent_new` (2 days ago); `recent_old` is orphaned, still in a 7-day grace period;
  no upload rows (found by passthrough).
- `replacing`: a new upload is processing (its asset not listed yet); the lesson still plays `replacing_old`
  through its playback id: in use.
- `twice`: `twice_a` replaced by `twice_b`, then `twice_c` errored: the lesson still plays `twice_b`;
  `twice_a` is orphaned but its lesson's current video is not ready.
- `migrating` / `migrating2`: legacy S3 lessons whose migrations run: `mig_active` is named by its job,
  `mig_unrecorded` only by its passthrough (the job has not recorded it yet): both in use.
- `failed`: a legacy lesson whose migration failed and left `mig_failed` behind.
- `many1..3`: like `replaced`, orphaned 30, 25 and 15 days ago (the cleanup's cap and order).
Plus `stray` (passthrough names no lesson) and `nopass` (no passthrough).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from core.db.engine import transaction
from core.db.models import MigrationJob, Upload
from core.settings import Settings, load_settings
from emulator.state import AssetRecord, Store
from emulator.testing import EmulatorServer
from sync.runner import SyncContext, run_jobs
from sync.state import JobResult
from tests.factories import make_course, make_lesson, make_user
from tests.warehouse.factories import PSEUDONYM_SECRET

NOW = datetime(2025, 3, 11, 12, 0, tzinfo=UTC)
GRACE_DAYS = 7
ORPHANS = {"rep_old", "recent_old", "twice_a", "mig_failed", "stray", "nopass", "many1_old", "many2_old", "many3_old"}
ELIGIBLE = ["many1_old", "many2_old", "rep_old", "many3_old"]  # longest orphaned first
IN_USE = {"rep_new", "recent_new", "replacing_old", "twice_b", "mig_active", "mig_unrecorded"}


def aid(name: str) -> str:
    """Mux-shaped (alphanumeric) asset id for a name."""
    return "asset" + name.replace("_", "X") + "z" * 20


def pid(name: str) -> str:
    return "play" + name.replace("_", "X") + "y" * 20


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


@dataclass
class World:
    lessons: dict[str, int] = field(default_factory=dict)
    assets: list[dict[str, Any]] = field(default_factory=list)
    teacher_id: int = 0

    def asset(self, name: str, lesson: str | None, created_days_ago: float, **fields: Any) -> None:
        passthrough = fields.pop("passthrough", str(self.lessons[lesson]) if lesson else None)
        status = fields.pop("status", "ready")
        self.assets.append(
            {
                "id": aid(name),
                "created_at": str(int(days_ago(created_days_ago).timestamp())),
                "status": status,
                "duration": fields.pop("duration", 600.0) if status == "ready" else None,
                "resolution_tier": fields.pop("resolution_tier", "1080p"),
                "max_resolution_tier": "1080p",
                "video_quality": fields.pop("video_quality", "basic"),
                "passthrough": passthrough,
                "upload_id": fields.pop("upload_id", None),
                "playback_ids": [{"id": pid(name), "policy": "public"}] if status == "ready" else [],
                "mp4_support": "none",
                "master_access": "none",
                **({"errors": {"type": "invalid_input", "messages": ["bad file"]}} if status == "errored" else {}),
            }
        )


def build_world(session_factory: sessionmaker[Session]) -> World:
    """The platform rows on `session_factory`'s database; the emulator's assets in `world.assets`."""
    world = World()
    with transaction(session_factory) as s:
        teacher = make_user(s, role="teacher")
        world.teacher_id = teacher.id
        course = make_course(s, teacher=teacher)

        def mux_lesson(name: str, current: str | None, playing: str | None, status: str = "ready", **kw: Any) -> int:
            lesson = make_lesson(
                s,
                course,
                video_provider="mux",
                video_status=status,
                mux_asset_id=aid(current) if current else None,
                mux_playback_id=pid(playing) if playing else None,
                video_duration_s=600.0,
                video_status_at=kw.pop("changed", days_ago(1)),
                **kw,
            )
            world.lessons[name] = lesson.id
            return int(lesson.id)

        def upload(lesson: str, name: str, asset: str, created_days_ago: float) -> None:
            at = days_ago(created_days_ago)
            s.add(
                Upload(
                    mux_upload_id=name,
                    lesson_id=world.lessons[lesson],
                    created_by=teacher.id,
                    status="ready",
                    mux_asset_id=aid(asset),
                    created_at=at,
                    updated_at=at,
                    finished_at=at,
                )
            )

        mux_lesson("replaced", "rep_new", "rep_new", mux_upload_id="uploadRepNew")
        upload("replaced", "uploadRepOld", "rep_old", 40)
        upload("replaced", "uploadRepNew", "rep_new", 20)
        mux_lesson("recent", "recent_new", "recent_new")
        mux_lesson("replacing", "replacing_new", "replacing_old", status="processing", mux_upload_id="uploadReplacing")
        mux_lesson("twice", "twice_c", "twice_b", status="errored", video_error="bad file")
        for i in (1, 2, 3):
            mux_lesson(f"many{i}", f"many{i}_new", f"many{i}_new")
        for name in ("migrating", "migrating2", "failed"):
            lesson = make_lesson(s, course, video_url=f"legacy/{name}.mp4", duration_s=600.0)
            world.lessons[name] = lesson.id
        s.flush()
        for name, state, asset in (
            ("migrating", "verifying", "mig_active"),
            ("migrating2", "ingesting", None),
            ("failed", "failed", "mig_failed"),
        ):
            s.add(
                MigrationJob(
                    lesson_id=world.lessons[name],
                    s3_key=f"legacy/{name}.mp4",
                    state=state,
                    mux_asset_id=aid(asset) if asset else None,
                    finished_at=days_ago(10) if state == "failed" else None,
                )
            )

    world.asset("rep_old", "replaced", 40, upload_id="uploadRepOld")
    world.asset("rep_new", "replaced", 20, upload_id="uploadRepNew")
    world.asset("recent_old", "recent", 30)
    world.asset("recent_new", "recent", 2)
    world.asset("replacing_old", "replacing", 50)
    world.asset("twice_a", "twice", 60)
    world.asset("twice_b", "twice", 30)
    world.asset("twice_c", "twice", 20, status="errored")
    for i, days in ((1, 30), (2, 25), (3, 15)):
        world.asset(f"many{i}_old", f"many{i}", 100, resolution_tier="720p")
        world.asset(f"many{i}_new", f"many{i}", days)
    world.asset("mig_active", "migrating", 1)
    world.asset("mig_unrecorded", "migrating2", 1)
    world.asset("mig_failed", "failed", 12)
    world.asset("stray", None, 70, passthrough="99999")
    world.asset("nopass", None, 80, passthrough=None, video_quality="plus", duration=1200.0)
    return world


@contextmanager
def emulator_with(root: Path, assets: list[dict[str, Any]], **options: Any) -> Iterator[EmulatorServer]:
    """A Mux emulator (real HTTP) whose account holds exactly `assets`."""
    state = root / "emulator" / "state.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    store = Store(state)
    for seq, data in enumerate(assets, start=1):
        store.assets[data["id"]] = AssetRecord(data=dict(data), seq=seq, has_video=data["status"] == "ready")
        store.seq = seq
    store.commit()
    with EmulatorServer(state_file=state, data_dir=root / "media", log_level="warning", **options) as server:
        yield server


def settings_for(db_url: str, emu: EmulatorServer, warehouse: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "warehouse_path": warehouse,
        "mux_api_url": emu.url,
        "mux_token_id": emu.token_id,
        "mux_token_secret": emu.token_secret,
        "pseudonym_key": PSEUDONYM_SECRET.decode(),
        "sync_retry_base_s": 0.01,
    }
    return load_settings(**(values | overrides))


def sync(settings: Settings, now: datetime, jobs: tuple[str, ...]) -> dict[str, JobResult]:
    """Run `jobs` as the scheduler would (the sync's own container), on a clock set to `now`."""
    ctx = SyncContext.from_settings(settings)
    ctx.clock = lambda: now
    try:
        results = run_jobs(ctx, jobs)
    finally:
        ctx.close()
    assert [r.status for r in results] == ["ok"] * len(results), [r.error for r in results]
    return {r.job: r for r in results}


def on_mux(emu: EmulatorServer, asset_id: str) -> bool:
    response = emu.http.get(f"/video/v1/assets/{asset_id}", auth=(emu.token_id, emu.token_secret))
    assert response.status_code in (200, 404), response.text
    return response.status_code == 200

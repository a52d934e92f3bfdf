"""A platform and a Mux emulator that agree: lessons on Mux have ready assets, students watch them.

Assets are written into the emulator's state file before it starts (the same way the emulator's own
Data tests do), so no video needs transcoding. Two deliberate mismatches exercise reconciliation:
lesson `MISSED` has a ready asset whose webhooks never reached Lectern, and asset `ORPHAN` belongs to
no lesson.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update

from core.db.engine import make_engine
from core.db.migrate import upgrade
from core.db.models import Lesson
from core.privacy import student_key
from emulator.state import AssetRecord, Store
from emulator.testing import EmulatorServer
from lectern.sample_data import SamplePlatform
from lectern.seed import write_platform
from tests.warehouse.factories import PSEUDONYM_SECRET

ORPHAN = "orphanAsset" + "z" * 30


def asset_id(lesson_id: int) -> str:
    return f"lectAsset{lesson_id:05d}" + "x" * 30


@dataclass
class World:
    db_url: str
    state_file: Path
    lessons: dict[str, dict[str, Any]] = field(default_factory=dict)  # simulate spec per lesson id
    students: dict[str, list[str]] = field(default_factory=dict)  # course id -> enrolled students' keys
    missed: int = 0  # the lesson whose webhooks were missed


def build_world(root: Path, platform: SamplePlatform) -> World:
    db_url = f"sqlite:///{root / 'platform.db'}"
    upgrade(db_url)
    engine = make_engine(db_url)
    write_platform(engine, platform)
    world = World(db_url=db_url, state_file=root / "emulator" / "state.json")
    on_mux = [lesson for lesson in platform.lessons if lesson["position"] <= 4]
    world.missed = on_mux[-1]["id"]
    with engine.begin() as conn:
        for lesson in on_mux:
            values: dict[str, Any] = {"video_provider": "mux", "video_url": None}
            if lesson["id"] == world.missed:
                values.update(video_status="waiting_upload", video_duration_s=None)
            else:
                values.update(
                    video_status="ready",
                    mux_asset_id=asset_id(lesson["id"]),
                    mux_playback_id=f"play{lesson['id']:05d}",
                    video_duration_s=600.0,
                )
            conn.execute(update(Lesson).where(Lesson.id == lesson["id"]).values(**values))
    engine.dispose()
    store = Store(world.state_file)
    created = int(datetime(2024, 11, 1, tzinfo=UTC).timestamp())
    for seq, lesson in enumerate([*on_mux, {"id": 0, "course_id": 0, "position": 0}], start=1):
        aid = asset_id(lesson["id"]) if lesson["id"] else ORPHAN
        store.assets[aid] = AssetRecord(
            data={
                "id": aid,
                "created_at": str(created + seq),
                "status": "ready",
                "duration": 600.0,
                "resolution_tier": "1080p",
                "max_resolution_tier": "1080p",
                "video_quality": "basic",
                "passthrough": str(lesson["id"]) if lesson["id"] else None,
                "playback_ids": [{"id": f"play{lesson['id']:05d}", "policy": "public"}],
                "mp4_support": "none",
                "master_access": "none",
                "normalize_audio": False,
                "ingest_type": "on_demand_direct_upload",
            },
            seq=seq,
            has_video=True,
        )
        store.seq = seq
        if lesson["id"]:
            world.lessons[str(lesson["id"])] = {
                "asset_id": aid,
                "course": str(lesson["course_id"]),
                "position": lesson["position"],
            }
    store.commit()
    for enrollment in platform.enrollments:
        # As Lectern's player sends it: the student's key (core/privacy.py), under the sync's pseudonym key.
        viewer = str(student_key(PSEUDONYM_SECRET, enrollment["user_id"]))
        world.students.setdefault(str(enrollment["course_id"]), []).append(viewer)
    return world


def quiet_end(now: datetime | None = None) -> datetime:
    """An hour ago — or, when that is early in a UTC day, two hours before that day began.

    Tests sync at this time plus a little while the emulator's clock is now; both must agree on which UTC
    days are over, or an export day would be complete for the emulator and not yet for the sync.
    """
    end = (now or datetime.now(UTC)).replace(microsecond=0) - timedelta(hours=1)
    midnight = end.replace(hour=0, minute=0, second=0)
    return midnight - timedelta(hours=2) if end - midnight < timedelta(hours=2) else end


def simulate(emu: EmulatorServer, world: World, **body: Any) -> dict[str, Any]:
    response = emu.http.post(
        "/_emulator/simulate", json={"lessons": world.lessons, "students": world.students, **body}, timeout=120
    )
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


def overall(emu: EmulatorServer, metric: str, start: float, end: float) -> dict[str, Any]:
    response = emu.http.get(
        f"/data/v1/metrics/{metric}/overall",
        params={"timeframe[]": [str(int(start)), str(int(end))]},
        auth=(emu.token_id, emu.token_secret),
    )
    response.raise_for_status()
    return dict(response.json()["data"])


def detail_calls(emu: EmulatorServer) -> int:
    requests = emu.stats()["requests"]
    return sum(v["count"] for k, v in requests.items() if k.startswith("GET /data/v1/video-views/"))

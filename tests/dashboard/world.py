"""A small, fixed platform and its warehouse for dashboard tests: two teachers who must never see each other.

Built with the shared factories (platform DB) and the warehouse engineer's own path (schema migration,
the platform snapshot job, the views loader and rollups), then published as a snapshot, so the dashboard
reads exactly what a real sync would leave.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from core.db.engine import make_engine, make_session_factory, transaction
from core.db.migrate import upgrade
from core.db.models import LessonProgress
from core.passwords import hash_password
from sync.platform import run_platform
from sync.state import transaction as wh_transaction
from sync.views import load_window
from tests.factories import enroll, make_course, make_lesson, make_user
from tests.warehouse.factories import PSEUDONYM_SECRET, FakeViews, as_player_sends, make_view
from warehouse.store import WarehouseLayout, WarehouseWriter

PASSWORD = "correct-horse-battery"
CHAPTERS = [{"start_s": 0.0, "title": "Introduction"}, {"start_s": 60.0, "title": "Worked example"}]


@dataclass
class World:
    database_url: str
    warehouse_path: Path
    now: datetime
    users: dict[str, int] = field(default_factory=dict)  # role name -> user id
    emails: dict[str, str] = field(default_factory=dict)
    courses: dict[str, int] = field(default_factory=dict)
    lessons: dict[str, int] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)  # lesson key -> title (unique per key)

    def env(self) -> dict[str, str]:
        return {
            "DATABASE_URL": self.database_url,
            "LECTERN_WAREHOUSE_PATH": str(self.warehouse_path),
            "LECTERN_PSEUDONYM_KEY": PSEUDONYM_SECRET.decode(),
        }


def build_world(root: Path, *, seed: int = 5, views_per_lesson: int = 40) -> World:
    root.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{root / 'platform.db'}"
    upgrade(url)
    now = datetime.now(UTC).replace(microsecond=0)
    world = World(url, root / "warehouse.duckdb", now)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with transaction(factory) as s:
        people = {
            "teacher_a": make_user(s, "teacher", name="Ada Teacher", password_hash=hash_password(PASSWORD)),
            "teacher_b": make_user(s, "teacher", name="Bo Teacher", password_hash=hash_password(PASSWORD)),
            "admin": make_user(s, "admin", name="Al Admin", password_hash=hash_password(PASSWORD)),
            "analyst": make_user(s, "analyst", name="An Analyst", password_hash=hash_password(PASSWORD)),
            "student_login": make_user(s, "student", name="Stu Dent", password_hash=hash_password(PASSWORD)),
        }
        students = [make_user(s, "student", name=f"Student {i}") for i in range(8)]
        course_a = make_course(s, teacher=people["teacher_a"], title="Alpha Python")
        course_b = make_course(s, teacher=people["teacher_b"], title="Beta Watercolour")
        specs: dict[str, tuple[Any, dict[str, Any]]] = {
            "a_mux": (course_a, {"title": "Alpha Mux lesson", "mux_playback_id": "pbalphamux",
                                 "mux_asset_id": "asset-a1", "video_provider": "mux", "video_status": "ready",
                                 "video_duration_s": 120.0, "chapters": CHAPTERS}),
            "a_s3": (course_a, {"title": "Alpha S3 lesson", "video_url": "legacy/alpha.mp4", "duration_s": 300.0}),
            "a_waiting": (course_a, {"title": "Alpha waiting lesson", "video_status": "waiting_upload",
                                     "mux_upload_id": "upload-a3"}),
            "a_errored": (course_a, {"title": "Alpha errored lesson", "video_status": "errored",
                                     "video_error": "Input file does not contain a video track"}),
            "b_mux": (course_b, {"title": "Beta secret Mux lesson", "mux_playback_id": "pbbetamux",
                                 "mux_asset_id": "asset-b1", "video_provider": "mux", "video_status": "ready",
                                 "video_duration_s": 200.0}),
            "b_s3": (course_b, {"title": "Beta secret S3 lesson", "video_url": "legacy/beta.mp4", "duration_s": 240.0}),
        }  # fmt: skip
        for key, (course, fields) in specs.items():
            world.lessons[key] = make_lesson(s, course, **fields).id
            world.titles[key] = fields["title"]
        for i, student in enumerate(students):
            if i < 5:
                enroll(s, student, course_a)
            if i >= 3:
                enroll(s, student, course_b)
        rng = random.Random(seed)
        for i, student in enumerate(students):
            keys = ([] if i >= 5 else ["a_mux", "a_s3"]) + (["b_mux", "b_s3"] if i >= 3 else [])
            for key in keys:
                done = rng.random() < 0.5
                s.add(
                    LessonProgress(
                        user_id=student.id, lesson_id=world.lessons[key], seconds_watched=rng.uniform(10, 100),
                        furthest_position_s=rng.uniform(10, 110), updated_at=now - timedelta(days=rng.choice([1, 20])),
                        completed_at=now - timedelta(days=3) if done else None,
                    )
                )  # fmt: skip
        world.users = {name: user.id for name, user in people.items()}
        world.users |= {f"student{i}": st.id for i, st in enumerate(students)}
        world.emails = {name: user.email for name, user in people.items()}
        world.courses = {"a": course_a.id, "b": course_b.id}
        student_ids = [st.id for st in students]
    _publish_warehouse(world, engine, student_ids, seed=seed, per_lesson=views_per_lesson)
    engine.dispose()
    return world


def _views(world: World, student_ids: list[int], *, seed: int, per_lesson: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    durations = {"a_mux": 120_000, "a_s3": 300_000, "b_mux": 200_000, "b_s3": 240_000}
    views = []
    n = 0
    for key, duration in durations.items():
        for _ in range(per_lesson):
            playhead = rng.choice([duration // 10, duration // 3, duration // 2, duration])
            views.append(
                make_view(
                    n, end=world.now - timedelta(days=rng.randrange(0, 10), minutes=rng.randrange(1, 600)),
                    lesson_id=world.lessons[key], viewer=rng.choice(student_ids), duration_ms=duration,
                    playhead_ms=playhead, watch_ms=playhead * rng.choice([1, 1, 2]),
                    startup_ms=200 + rng.randrange(2000), browser=rng.choice(["Chrome", "Firefox", "Safari"]),
                    os=rng.choice(["macOS", "Windows"]), view_playing_time=str(playhead * rng.choice([1, 1, 2])),
                )
            )  # fmt: skip
            n += 1
    return views


def _publish_warehouse(world: World, engine: Any, student_ids: list[int], *, seed: int, per_lesson: int) -> None:
    views = as_player_sends(_views(world, student_ids, seed=seed, per_lesson=per_lesson))
    writer = WarehouseWriter(WarehouseLayout(world.warehouse_path))
    with writer.open() as con:
        run_platform(con, engine, now=world.now, pseudonym_secret=PSEUDONYM_SECRET)
        with wh_transaction(con):
            load_window(con, FakeViews(views), world.now - timedelta(days=30), world.now + timedelta(days=1),
                        now=world.now, batch_rows=10_000)  # fmt: skip

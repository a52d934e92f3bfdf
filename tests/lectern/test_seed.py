from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from core.db.models import Course, Enrollment, Lesson, LessonProgress, User
from core.passwords import verify_password
from lectern.sample_data import SeedConfig, build_platform, iter_progress
from lectern.seed import write_platform


def test_sample_platform_is_deterministic_and_realistic() -> None:
    cfg = SeedConfig(seed=3, students=500)
    a, b = build_platform(cfg), build_platform(cfg)
    assert [u["email"] for u in a.users] == [u["email"] for u in b.users]
    assert [d.password for d in a.demo_accounts] == [d.password for d in b.demo_accounts]
    assert list(iter_progress(a)) == list(iter_progress(b))

    roles = Counter(u["role"] for u in a.users)
    assert roles["teacher"] >= 3 and roles["student"] >= 500
    assert len(a.courses) >= 8 and len(a.lessons) >= 80
    providers = Counter(lesson["video_provider"] for lesson in a.lessons)
    assert providers["s3"] > 0 and providers[None] > 0  # S3 lessons and lessons waiting for Mux


def test_later_lessons_are_watched_less() -> None:
    platform = build_platform(SeedConfig(seed=5, students=2000))
    position = {lesson["id"]: lesson["position"] for lesson in platform.lessons}
    reached = Counter(position[row["lesson_id"]] for row in iter_progress(platform))
    assert reached[1] > reached[3] > reached[5]
    for row in iter_progress(platform):
        assert row["seconds_watched"] >= row["furthest_position_s"] >= 0


def test_write_platform_bulk_loads_every_row(engine) -> None:  # type: ignore[no-untyped-def]
    platform = build_platform(SeedConfig(seed=1, students=300, teachers=3, courses=8))
    counts = write_platform(engine, platform)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(User)).scalar_one() == len(platform.users)
        assert conn.execute(select(func.count()).select_from(Course)).scalar_one() == 8
        assert conn.execute(select(func.count()).select_from(Lesson)).scalar_one() == len(platform.lessons)
        assert conn.execute(select(func.count()).select_from(Enrollment)).scalar_one() == len(platform.enrollments)
        assert conn.execute(select(func.count()).select_from(LessonProgress)).scalar_one() == counts["lesson_progress"]
        admin_hash = conn.execute(select(User.password_hash).where(User.email == "admin@lectern.test")).scalar_one()
    admin = next(d for d in platform.demo_accounts if d.role == "admin")
    assert verify_password(admin.password, admin_hash)
    assert admin.password not in admin_hash

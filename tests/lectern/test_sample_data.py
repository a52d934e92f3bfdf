"""The sample platform's numbers agree with each other: property checks over a generated platform.

A small platform (few students, the default catalogue) is generated once per module; every lesson, history
event and progress row is checked against the invariants the dashboard relies on.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from lectern.sample_data import (
    COURSE_FATES,
    LIVE,
    SamplePlatform,
    SeedConfig,
    build_platform,
    history_start,
    iter_progress,
    live_migration_course,
    wave_times,
)
from lectern.sample_media import LESSON_CLIP_SECONDS

NOW = datetime(2026, 12, 3, 19, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def platform() -> SamplePlatform:
    return build_platform(SeedConfig(seed=11, students=300, now=NOW))


def test_every_video_is_a_sample_video_and_its_chapters_fit(platform: SamplePlatform) -> None:
    events = {e.lesson_id: e for e in platform.mux_history}
    for lesson in platform.lessons:
        duration = lesson["duration_s"] or (events[lesson["id"]].duration_s if lesson["id"] in events else None)
        if lesson["video_url"] is not None:
            # An S3 lesson's listed duration is its file's (the sample video of that length).
            assert lesson["duration_s"] in LESSON_CLIP_SECONDS
            assert lesson["video_duration_s"] == lesson["duration_s"]
        if lesson["chapters"] is None:
            continue
        assert duration is not None, f"lesson {lesson['id']} has chapters but no video"
        starts = [c["start_s"] for c in lesson["chapters"]]
        assert starts[0] == 0.0 and starts == sorted(starts)
        assert all(0 <= s < duration for s in starts), (lesson["id"], starts, duration)
    assert all(5 * 60 <= s <= 25 * 60 for s in LESSON_CLIP_SECONDS)


def test_a_believable_mix_of_s3_mux_and_waiting_lessons(platform: SamplePlatform) -> None:
    moved = platform.mux_since()
    state = Counter(
        "mux" if lesson["id"] in moved else "s3" if lesson["video_url"] else "waiting" for lesson in platform.lessons
    )
    assert len(platform.courses) == 25 and 250 <= len(platform.lessons) <= 350
    assert state["mux"] > 150 and state["s3"] > 40 and state["waiting"] > 5
    kinds = Counter(e.kind for e in platform.mux_history)
    assert kinds["migrated"] > 100 and kinds["uploaded"] > 20
    live = live_migration_course()
    assert COURSE_FATES[live - 1] == LIVE
    assert any(lesson["course_id"] == live and lesson["video_url"] for lesson in platform.lessons)
    assert not any(lesson["title"][0].isdigit() for lesson in platform.lessons)  # pages number lessons themselves


def test_the_mux_history_is_in_the_past_and_ends_in_this_month(platform: SamplePlatform) -> None:
    cfg = platform.config
    lessons = {lesson["id"]: lesson for lesson in platform.lessons}
    begin = history_start(cfg)
    for event in platform.mux_history:
        lesson = lessons[event.lesson_id]
        assert begin - timedelta(days=1) <= event.at < cfg.now
        assert event.at > lesson["created_at"]
        if event.kind == "migrated":
            assert lesson["video_url"] == event.s3_key and lesson["duration_s"] == event.duration_s
        else:
            assert lesson["video_url"] is None and lesson["created_at"] >= begin
    # The last migration wave opens this month, so month-to-date costs have its encoding.
    this_month = cfg.now.replace(day=1, hour=0, minute=0, second=0)
    assert any(e.kind == "migrated" and e.at >= this_month for e in platform.mux_history)
    assert list(wave_times(cfg).values()) == sorted(wave_times(cfg).values())


@pytest.mark.parametrize("day", [1, 2, 15, 28, 31])
def test_waves_stay_ordered_and_past_on_any_day(day: int) -> None:
    now = datetime(2026, 12, day, 0, 20, tzinfo=UTC)
    times = list(wave_times(SeedConfig(now=now)).values())
    assert times == sorted(times) and times[-1] < now
    assert times[-1] >= now.replace(day=1, hour=0, minute=0) - timedelta(hours=1)


def test_enrolments_follow_accounts_and_courses(platform: SamplePlatform) -> None:
    users = {u["id"]: u for u in platform.users}
    courses = {c["id"]: c for c in platform.courses}
    for enr in platform.enrollments:
        assert users[enr["user_id"]]["role"] == "student"
        assert users[enr["user_id"]]["created_at"] <= enr["enrolled_at"] < platform.config.now
        assert courses[enr["course_id"]]["created_at"] <= enr["enrolled_at"]


def test_progress_is_by_enrolled_students_on_s3_only_and_within_the_lesson(platform: SamplePlatform) -> None:
    lessons = {lesson["id"]: lesson for lesson in platform.lessons}
    enrolled = {(e["user_id"], e["course_id"]): e["enrolled_at"] for e in platform.enrollments}
    moved = platform.mux_since()
    rows = list(iter_progress(platform))
    assert len(rows) > 200
    assert len({(r["user_id"], r["lesson_id"]) for r in rows}) == len(rows)
    for row in rows:
        lesson = lessons[row["lesson_id"]]
        since = enrolled[(row["user_id"], lesson["course_id"])]
        assert since <= row["updated_at"] <= platform.config.now
        assert row["updated_at"] >= lesson["created_at"]
        # Progress here is the S3 years': a lesson that moved to Mux has none after the move.
        assert lesson["video_url"] is not None
        assert row["updated_at"] < moved.get(row["lesson_id"], platform.config.now + timedelta(days=1))
        duration = lesson["duration_s"]
        assert 0 <= row["furthest_position_s"] <= row["seconds_watched"] <= duration
        assert (row["completed_at"] is not None) == (row["furthest_position_s"] >= 0.9 * duration)


def test_later_lessons_are_reached_by_fewer_students(platform: SamplePlatform) -> None:
    position = {lesson["id"]: lesson["position"] for lesson in platform.lessons}
    reached = Counter(position[row["lesson_id"]] for row in iter_progress(platform))
    assert reached[1] > reached[3] > reached[6]


def test_generation_is_deterministic_and_quick_to_sign_in() -> None:
    cfg = SeedConfig(seed=3, students=50, courses=4, teachers=2, now=NOW)
    a, b = build_platform(cfg), build_platform(cfg)
    assert [lesson["duration_s"] for lesson in a.lessons] == [lesson["duration_s"] for lesson in b.lessons]
    assert a.mux_history == b.mux_history
    assert list(iter_progress(a)) == list(iter_progress(b))
    roles = Counter(d.role for d in a.demo_accounts)
    assert roles == {"admin": 1, "analyst": 1, "teacher": 2, "student": 1}

"""Progress reports into the platform DB (core/progress/store.py, through the container's ProgressService),
on SQLite and PostgreSQL: access, checks, idempotence, the three tables, and concurrent writers."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select

from core.container import Lectern
from core.db.engine import transaction
from core.db.models import Enrollment, LessonProgress, LessonView, LessonWatch
from core.errors import NotFound, Unauthenticated
from core.progress import Applied, NotEnrolled, ProgressEvent, ProgressService, Report, ReportInvalid
from core.progress.plan import from_bytes
from core.settings import load_settings
from tests.factories import enroll, make_course, make_lesson, make_user

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def lectern(db_url: str) -> Iterator[Lectern]:
    settings = load_settings(database_url=db_url, platform_jwt_secret="store-tests-secret-0123456789abcdef")
    with Lectern.from_settings(settings, kind="api") as container:
        yield container


@pytest.fixture
def world(lectern: Lectern) -> dict[str, int]:
    with transaction(lectern.session_factory) as s:
        teacher, student, other = make_user(s, "teacher"), make_user(s), make_user(s)
        course = make_course(s, teacher=teacher)
        enroll(s, student, course)
        enroll(s, other, course)
        mux = make_lesson(s, course, video_provider="mux", mux_playback_id="P1", video_status="ready")
        mux.video_duration_s = 600.0
        s3 = make_lesson(s, course, video_url="old/lesson.mp4", duration_s=300.0)
        elsewhere = make_lesson(s)  # a course nobody here is enrolled in
        return {
            "teacher": teacher.id, "student": student.id, "other": other.id, "mux": mux.id, "s3": s3.id,
            "elsewhere": elsewhere.id,
        }  # fmt: skip


def rep(
    user: int,
    lesson: int,
    session: str,
    seq: int,
    position: float,
    ranges: tuple[tuple[float, float], ...],
    event: ProgressEvent = ProgressEvent.heartbeat,
    at: datetime = T0,
) -> Report:
    return Report(user, lesson, session, seq, position, None, ranges, event, at)


def rows(lectern: Lectern, model: type, **where: int) -> list:  # type: ignore[type-arg]
    with lectern.session_factory() as s:
        stmt = select(model).filter_by(**where)
        return list(s.scalars(stmt))


def test_a_batch_answers_each_report_with_its_own_result_or_error(lectern: Lectern, world: dict[str, int]) -> None:
    session = str(uuid.uuid4())
    batch = [
        rep(world["student"], world["mux"], session, 0, 10.0, ((0.0, 10.0),)),
        rep(world["student"], world["elsewhere"], session, 0, 10.0, ((0.0, 10.0),)),  # not enrolled: 404
        rep(world["teacher"], world["mux"], session, 0, 10.0, ((0.0, 10.0),)),  # its teacher: 403, nothing to record
        rep(999_999, world["mux"], session, 0, 10.0, ((0.0, 10.0),)),  # no such user: 401
        rep(world["student"], world["s3"], session, 0, 400.0, ()),  # past the 300 s lesson: 422
        rep(world["student"], world["mux"], session, 1, 20.0, ((0.0, 20.0),)),
    ]
    answers = lectern.progress.store.write(batch)
    assert [type(a) for a in answers] == [Applied, NotFound, NotEnrolled, Unauthenticated, ReportInvalid, Applied]
    assert answers[5] == Applied(world["mux"], session, 1, 20.0, 20.0, 20.0, 20.0, None)  # type: ignore[arg-type]
    # Only the student's own reports were written.
    (view,) = rows(lectern, LessonView)
    assert (view.user_id, view.lesson_id, view.provider, view.last_seq, view.seconds_watched) == (
        world["student"], world["mux"], "mux", 1, 20.0,
    )  # fmt: skip
    (progress,) = rows(lectern, LessonProgress)
    assert (progress.user_id, progress.seconds_watched, progress.furthest_position_s) == (world["student"], 20.0, 20.0)


def test_repeated_and_late_reports_write_nothing_and_move_nothing_back(lectern: Lectern, world: dict[str, int]) -> None:
    store, session = lectern.progress.store, str(uuid.uuid4())
    student, lesson = world["student"], world["s3"]
    store.write([rep(student, lesson, session, 3, 90.0, ((0.0, 90.0),), at=T0)])
    (before,) = rows(lectern, LessonView)
    (progress_before,) = rows(lectern, LessonProgress)
    later = T0 + timedelta(minutes=5)
    answers = store.write(
        [
            rep(student, lesson, session, 3, 90.0, ((0.0, 90.0),), at=later),  # repeated
            rep(student, lesson, session, 1, 30.0, ((0.0, 30.0),), at=later),  # late
        ]
    )
    assert all(isinstance(a, Applied) and a.resume_position_s == 90.0 for a in answers)
    (after,) = rows(lectern, LessonView)
    (progress_after,) = rows(lectern, LessonProgress)
    assert (after.last_seq, after.position_s, after.last_report_at, after.seconds_watched) == (
        before.last_seq, before.position_s, before.last_report_at, before.seconds_watched,
    )  # fmt: skip
    assert progress_after.updated_at == progress_before.updated_at  # not even touched
    assert (progress_after.seconds_watched, progress_after.furthest_position_s) == (90.0, 90.0)


def test_views_keep_the_provider_the_lesson_had_when_the_session_started(
    lectern: Lectern, world: dict[str, int]
) -> None:
    store, student, lesson = lectern.progress.store, world["student"], world["s3"]
    on_s3 = str(uuid.uuid4())
    store.write([rep(student, lesson, on_s3, 0, 10.0, ((0.0, 10.0),))])
    with transaction(lectern.session_factory) as s:  # the cut-over: the lesson moves to Mux mid-session
        from core.db.models import Lesson

        moved = s.get(Lesson, lesson)
        assert moved is not None
        moved.mux_playback_id, moved.video_provider = "P-MOVED", "mux"
    on_mux = str(uuid.uuid4())
    store.write(
        [
            rep(student, lesson, on_s3, 1, 20.0, ((0.0, 20.0),), at=T0 + timedelta(seconds=10)),
            rep(student, lesson, on_mux, 0, 5.0, ((0.0, 5.0),), at=T0 + timedelta(days=1)),
        ]
    )
    providers = {v.session_id: v.provider for v in rows(lectern, LessonView)}
    assert providers == {on_s3: "s3", on_mux: "mux"}


def test_the_watch_row_keeps_coverage_over_sessions_and_the_newest_sessions_position(
    lectern: Lectern, world: dict[str, int]
) -> None:
    store, student, lesson = lectern.progress.store, world["student"], world["s3"]
    monday, tuesday = str(uuid.uuid4()), str(uuid.uuid4())
    store.write([rep(student, lesson, monday, 0, 150.0, ((0.0, 150.0),), at=T0)])
    store.write([rep(student, lesson, tuesday, 0, 280.0, ((150.0, 280.0),), at=T0 + timedelta(days=1))])
    # Monday's tab, left open, reports late: coverage grows, resume stays on Tuesday's session.
    store.write([rep(student, lesson, monday, 1, 160.0, ((0.0, 160.0),), at=T0 + timedelta(days=1, hours=1))])
    (watch,) = rows(lectern, LessonWatch)
    assert (watch.covered_s, watch.resume_position_s, watch.resume_session_id) == (280.0, 280.0, tuesday)
    assert from_bytes(watch.covered).bit_count() == 280
    (progress,) = rows(lectern, LessonProgress)
    assert progress.completed_at == T0 + timedelta(days=1)  # 280 of 300 s watched: over 90 %
    assert progress.seconds_watched == 160.0 + 130.0
    assert lectern.progress.progress(student, lesson).resume_position_s == 280.0


def test_an_existing_platform_row_is_merged_into_not_replaced(lectern: Lectern, world: dict[str, int]) -> None:
    with transaction(lectern.session_factory) as s:
        s.add(
            LessonProgress(
                user_id=world["student"], lesson_id=world["s3"], seconds_watched=500.0, furthest_position_s=250.0,
                updated_at=T0 - timedelta(days=30),
            )
        )  # fmt: skip
    lectern.progress.store.write([rep(world["student"], world["s3"], str(uuid.uuid4()), 0, 60.0, ((0.0, 60.0),))])
    (progress,) = rows(lectern, LessonProgress)
    assert (progress.seconds_watched, progress.furthest_position_s, progress.updated_at) == (560.0, 250.0, T0)


def test_an_enrolment_removed_stops_the_writes(lectern: Lectern, world: dict[str, int]) -> None:
    store = lectern.progress.store
    store.write([rep(world["student"], world["mux"], str(uuid.uuid4()), 0, 10.0, ((0.0, 10.0),))])
    with transaction(lectern.session_factory) as s:
        s.execute(delete(Enrollment).where(Enrollment.user_id == world["student"]))
    (answer,) = store.write([rep(world["student"], world["mux"], str(uuid.uuid4()), 0, 10.0, ((0.0, 10.0),))])
    assert isinstance(answer, NotFound)


def test_two_writers_on_the_same_students_commit_every_acknowledged_report(
    db_url: str, world: dict[str, int], lectern: Lectern
) -> None:
    """Two ProgressServices (two API workers' worth: own engines, own writer threads) take reports for the
    same sessions at once; every report each acknowledged is in the rows afterwards."""
    settings = load_settings(database_url=db_url, platform_jwt_secret="store-tests-secret-0123456789abcdef")
    with Lectern.from_settings(settings, kind="api") as second:
        services: list[ProgressService] = [lectern.progress, second.progress]
        students = [world["student"], world["other"]]
        sessions = {s: str(uuid.uuid4()) for s in students}
        acknowledged: list[Report] = []
        errors: list[BaseException] = []
        lock = threading.Lock()

        def send(worker: int) -> None:
            for seq in range(worker, 60, 2):  # the two workers interleave each session's reports
                for student in students:
                    r = rep(
                        student, world["mux"], sessions[student], seq, seq * 10.0 + 5, ((seq * 10.0, seq * 10.0 + 5),)
                    )
                    try:
                        services[worker].report_wait(r, timeout_s=60)
                    except Exception as exc:
                        errors.append(exc)
                        continue
                    with lock:
                        acknowledged.append(r)

        # Past the rate limit on purpose: 60 reports per student per writer in a moment.
        for service in services:
            service.limiter.burst = service.limiter.rate = 1e9
        threads = [threading.Thread(target=send, args=(w,)) for w in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    assert len(acknowledged) == 120
    views = {v.user_id: v for v in rows(lectern, LessonView)}
    for student in students:
        view = views[student]
        bits = from_bytes(view.watched)
        for r in acknowledged:
            if r.user_id == student:
                start = round(r.ranges[0][0])
                assert (bits >> start) & 0b11111 == 0b11111, (student, r.seq)
        assert (view.last_seq, view.seconds_watched) == (59, 300.0)
    progress = {p.user_id: p for p in rows(lectern, LessonProgress)}
    assert {s: progress[s].seconds_watched for s in students} == {s: 300.0 for s in students}

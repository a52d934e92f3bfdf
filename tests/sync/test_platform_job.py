"""The platform snapshot: every row of the six tables, no password hashes, replaced atomically."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest
from sqlalchemy import Connection, Engine, delete, func, select

from core.db.models import Course, Enrollment, Lesson, LessonProgress, LessonView, User
from core.privacy import student_key
from sync.platform import TABLES, run_platform
from sync.state import read_state
from sync.state import transaction as wh_transaction
from sync.views import load_window
from tests.sync.conftest import NOW
from tests.warehouse.factories import PSEUDONYM_SECRET, FakeViews, make_view
from warehouse.store import WarehouseWriter


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            model.__tablename__: conn.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (User, Course, Lesson, Enrollment, LessonProgress, LessonView)
        }


def test_snapshot_copies_every_row_and_never_a_password(seeded: Engine, writer: WarehouseWriter) -> None:
    with writer.open() as con:
        result = run_platform(
            con, seeded, now=NOW, pseudonym_secret=PSEUDONYM_SECRET, batch_rows=17
        )  # small batches: many partitions
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in TABLES}
        assert counts == _counts(seeded) == result.details
        columns = {r[0] for r in con.execute("DESCRIBE users").fetchall()}
        assert "password_hash" not in columns
        assert "email" not in columns
        hashes = con.execute("SELECT count(*) FROM users WHERE name LIKE '%scrypt%'")
        assert hashes.fetchall() == [(0,)]
        lesson = con.execute("SELECT chapters, created_at FROM lessons WHERE chapters IS NOT NULL LIMIT 1").fetchall()
        assert lesson[0][0].startswith("[{") and lesson[0][1].tzinfo is not None
        state = read_state(con, "platform")
        assert state is not None and state.status == "ok" and state.rows == sum(counts.values())


def test_second_snapshot_replaces_the_first(seeded: Engine, writer: WarehouseWriter) -> None:
    with writer.open() as con:
        run_platform(con, seeded, now=NOW, pseudonym_secret=PSEUDONYM_SECRET)
    with seeded.begin() as conn:
        conn.execute(delete(LessonProgress))
    with writer.open() as con:
        run_platform(con, seeded, now=NOW, pseudonym_secret=PSEUDONYM_SECRET)
        assert con.execute("SELECT count(*) FROM lesson_progress").fetchall() == [(0,)]
        assert con.execute("SELECT count(*) FROM users").fetchall()[0][0] == _counts(seeded)["users"]


def test_a_failed_snapshot_leaves_the_previous_one(
    seeded: Engine, writer: WarehouseWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    with writer.open() as con:
        run_platform(con, seeded, now=NOW, pseudonym_secret=PSEUDONYM_SECRET)
        before = con.execute("SELECT count(*) FROM lesson_progress").fetchall()
    import sync.platform as platform_job

    real = platform_job._read_table

    def failing(pconn: Connection, con: duckdb.DuckDBPyConnection, name: str, batch_rows: int, pseudonyms) -> int:  # type: ignore[no-untyped-def]
        if name == "enrollments":
            raise RuntimeError("platform database went away")
        return real(pconn, con, name, batch_rows, pseudonyms)

    monkeypatch.setattr(platform_job, "_read_table", failing)
    with writer.open() as con:
        with pytest.raises(RuntimeError, match="went away"):
            run_platform(con, seeded, now=NOW, pseudonym_secret=PSEUDONYM_SECRET)
        assert con.execute("SELECT count(*) FROM lesson_progress").fetchall() == before
        assert con.execute("SELECT count(*) FROM users").fetchall()[0][0] > 0


def test_students_are_copied_under_their_keys_without_names_or_emails(seeded: Engine, writer: WarehouseWriter) -> None:
    with seeded.connect() as conn:
        people = conn.execute(select(User.id, User.name, User.email, User.role)).all()
        enrolled = conn.execute(select(Enrollment.user_id, Enrollment.course_id)).all()
    students = {p.id: p for p in people if p.role == "student"}
    staff = {p.id: p for p in people if p.role != "student"}
    assert students and staff
    with writer.open() as con:
        run_platform(con, seeded, now=NOW, pseudonym_secret=PSEUDONYM_SECRET)
        rows = {r[0]: r[1:] for r in con.execute("SELECT id, name, role FROM users").fetchall()}
        copied_enrolments = set(con.execute("SELECT user_id, course_id FROM enrollments").fetchall())
        progress_users = {r[0] for r in con.execute("SELECT DISTINCT user_id FROM lesson_progress").fetchall()}
        text = str(con.execute("SELECT * FROM users").fetchall())
    keys = {student_key(PSEUDONYM_SECRET, i) for i in students}
    assert set(rows) == keys | set(staff)
    assert all(rows[k] == (None, "student") for k in keys)
    assert all(rows[i] == (p.name, p.role) for i, p in staff.items())
    assert copied_enrolments == {(student_key(PSEUDONYM_SECRET, u), c) for u, c in enrolled}
    assert progress_users and progress_users <= keys
    for p in students.values():
        assert p.email not in text and p.name not in text


def test_forgotten_students_are_not_copied_again(seeded: Engine, writer: WarehouseWriter) -> None:
    with seeded.connect() as conn:
        student = conn.execute(select(User.id).where(User.role == "student").order_by(User.id)).scalars().first()
    key = student_key(PSEUDONYM_SECRET, student)
    with writer.open() as con:
        con.execute("INSERT INTO privacy_forgotten VALUES (?, ?, now())", [key, student])
        run_platform(con, seeded, now=NOW, pseudonym_secret=PSEUDONYM_SECRET)
        for table, column in (("users", "id"), ("enrollments", "user_id"), ("lesson_progress", "user_id")):
            assert con.execute(f"SELECT count(*) FROM {table} WHERE {column} = ?", [key]).fetchall() == [(0,)]
        assert con.execute("SELECT count(*) FROM users WHERE role = 'student'").fetchall()[0][0] > 0


def test_views_loaded_before_keys_take_the_students_key(seeded: Engine, writer: WarehouseWriter) -> None:
    with seeded.connect() as conn:
        student = conn.execute(select(User.id).where(User.role == "student").order_by(User.id)).scalars().first()
        teacher = conn.execute(select(User.id).where(User.role == "teacher").order_by(User.id)).scalars().first()
    views = [make_view(1, end=NOW - timedelta(days=1), viewer=student), make_view(2, end=NOW, viewer=teacher)]
    with writer.open() as con:
        with wh_transaction(con):
            load_window(con, FakeViews(views), NOW - timedelta(days=3), NOW + timedelta(days=1), now=NOW, batch_rows=10)
        first = run_platform(con, seeded, now=NOW, pseudonym_secret=PSEUDONYM_SECRET)
        key = student_key(PSEUDONYM_SECRET, student)
        rows = con.execute("SELECT view_id, viewer_user_id, user_id FROM mux_views ORDER BY view_id").fetchall()
        assert rows == [(views[0]["view_id"], str(key), key), (views[1]["view_id"], str(teacher), teacher)]
        daily = {r[0] for r in con.execute("SELECT user_id FROM viewer_lesson_daily").fetchall()}
        assert daily == {key, teacher}  # the rollups were recomputed with the key
        again = run_platform(con, seeded, now=NOW, pseudonym_secret=PSEUDONYM_SECRET)
    assert first.details["views_rekeyed"] == 1 and "views_rekeyed" not in again.details


def test_play_sessions_are_copied_under_the_students_key_without_their_bitmap(
    seeded: Engine, writer: WarehouseWriter
) -> None:
    with seeded.connect() as conn:
        student, lesson = conn.execute(
            select(Enrollment.user_id, Lesson.id).join(Lesson, Lesson.course_id == Enrollment.course_id).limit(1)
        ).one()
    with seeded.begin() as conn:
        conn.execute(
            LessonView.__table__.insert(),  # type: ignore[attr-defined]
            [
                {
                    "user_id": student, "lesson_id": lesson, "session_id": f"s-{n}", "provider": provider,
                    "started_at": NOW, "last_report_at": NOW + timedelta(minutes=1), "last_seq": 6,
                    "position_s": 60.0, "furthest_position_s": 60.0, "seconds_watched": 60.0,
                    "watched": b"\xff" * 8, "duration_s": 600.0, "ended_at": None,
                }
                for n, provider in enumerate(("s3", "mux"))
            ],
        )  # fmt: skip
    key = student_key(PSEUDONYM_SECRET, student)
    with writer.open() as con:
        run_platform(con, seeded, now=NOW, pseudonym_secret=PSEUDONYM_SECRET)
        rows = con.execute("SELECT user_id, lesson_id, provider, seconds_watched FROM lesson_views ORDER BY provider")
        assert rows.fetchall() == [(key, lesson, "mux", 60.0), (key, lesson, "s3", 60.0)]
        assert "watched" not in {r[0] for r in con.execute("DESCRIBE lesson_views").fetchall()}
        con.execute("INSERT INTO privacy_forgotten VALUES (?, ?, now())", [key, student])
        run_platform(con, seeded, now=NOW, pseudonym_secret=PSEUDONYM_SECRET)
        assert con.execute("SELECT count(*) FROM lesson_views").fetchall() == [(0,)]

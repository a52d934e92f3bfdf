"""`lectern privacy forget` and `lookup` end to end: a real platform DB (SQLite and PostgreSQL), a real
warehouse with published snapshots, the platform and views loaders as the sync runs them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from core.db.engine import transaction
from core.db.models import LessonProgress
from core.privacy import student_key
from lectern.cli import app
from sync.platform import run_platform
from sync.state import transaction as wh_transaction
from sync.views import load_window
from tests.factories import enroll, make_course, make_lesson, make_user
from tests.warehouse.factories import FakeViews, make_view
from warehouse.store import WarehouseLayout, WarehouseWriter

SECRET = "pseudonym-key-for-the-privacy-tests"
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
runner = CliRunner()


@dataclass
class World:
    env: dict[str, str]
    pointer: Path
    teacher: int
    forgotten: int  # the student the tests forget
    kept: int
    forgotten_email: str
    kept_email: str
    views: list[dict[str, object]]


def _key(user_id: int) -> int:
    return student_key(SECRET.encode(), user_id)


def _sync(world: World, engine_url: str) -> None:
    """What one sync cycle does: the views job (Mux Data still has every view), then the platform job."""
    from core.db.engine import make_engine

    engine = make_engine(engine_url)
    writer = WarehouseWriter(WarehouseLayout(world.pointer))
    with writer.open() as con:
        with wh_transaction(con):
            load_window(con, FakeViews(world.views), NOW - timedelta(days=10), NOW, now=NOW, batch_rows=1000)
        run_platform(con, engine, now=NOW, pseudonym_secret=SECRET.encode())
    engine.dispose()


@pytest.fixture
def world(db_url: str, session_factory: sessionmaker[Session], tmp_path: Path) -> World:
    with transaction(session_factory) as s:
        teacher = make_user(s, "teacher")
        course = make_course(s, teacher=teacher)
        lesson = make_lesson(s, course, mux_asset_id="asset-x", mux_playback_id="pb", video_status="ready")
        forgotten, kept = make_user(s), make_user(s)
        for student in (forgotten, kept):
            enroll(s, student, course)
            s.add(LessonProgress(user_id=student.id, lesson_id=lesson.id, seconds_watched=30.0))
        ids = (teacher.id, forgotten.id, kept.id, forgotten.email, kept.email, lesson.id)
    teacher_id, forgotten_id, kept_id, forgotten_email, kept_email, lesson_id = ids
    views = [
        make_view(1, end=NOW - timedelta(days=2), lesson_id=lesson_id, viewer=_key(forgotten_id)),
        make_view(2, end=NOW - timedelta(days=1), lesson_id=lesson_id, viewer=_key(forgotten_id)),
        make_view(3, end=NOW - timedelta(days=1), lesson_id=lesson_id, viewer=_key(kept_id)),
        # Loaded before the player sent keys (warehouse step 8): the platform id itself.
        make_view(4, end=NOW - timedelta(days=3), lesson_id=lesson_id, viewer=forgotten_id),
    ]
    pointer = tmp_path / "warehouse.duckdb"
    env = {"DATABASE_URL": db_url, "LECTERN_WAREHOUSE_PATH": str(pointer), "LECTERN_PSEUDONYM_KEY": SECRET}
    w = World(env, pointer, teacher_id, forgotten_id, kept_id, forgotten_email, kept_email, views)
    _sync(w, db_url)
    _sync(w, db_url)  # two published snapshots, both holding the student
    return w


def _published(world: World) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(WarehouseLayout(world.pointer).published()), read_only=True)


def _rows_of(con: duckdb.DuckDBPyConnection, user_id: int) -> dict[str, int]:
    key, raw = _key(user_id), user_id
    checks = {
        "mux_views": f"SELECT count(*) FROM mux_views WHERE user_id IN ({key}, {raw}) "
        f"OR viewer_user_id IN ('{key}', '{raw}')",
        "users": f"SELECT count(*) FROM users WHERE id IN ({key}, {raw})",
        "enrollments": f"SELECT count(*) FROM enrollments WHERE user_id IN ({key}, {raw})",
        "lesson_progress": f"SELECT count(*) FROM lesson_progress WHERE user_id IN ({key}, {raw})",
        "viewer_lesson_daily": f"SELECT count(*) FROM viewer_lesson_daily WHERE user_id IN ({key}, {raw}) "
        f"OR viewer_user_id IN ('{key}', '{raw}')",
        "viewer_daily": f"SELECT count(*) FROM viewer_daily WHERE viewer_key IN ({key}, {raw})",
        "student_course_progress": f"SELECT count(*) FROM student_course_progress WHERE user_id IN ({key}, {raw})",
    }
    return {name: int(con.execute(sql).fetchall()[0][0]) for name, sql in checks.items()}


def _invoke(world: World, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["privacy", *args], env=world.env)


def test_forget_removes_the_student_from_the_warehouse_and_every_snapshot(world: World, db_url: str) -> None:
    layout = WarehouseLayout(world.pointer)
    assert len(layout.snapshot_files()) >= 2
    with _published(world) as con:
        before = _rows_of(con, world.forgotten)
        assert before["mux_views"] == 3 and before["users"] == before["enrollments"] == 1
        assert con.execute("SELECT sum(views) FROM lesson_daily").fetchall() == [(4,)]

    result = _invoke(world, "forget", "--user", str(world.forgotten))
    assert result.exit_code == 0, result.output
    assert f"key {_key(world.forgotten)}" in result.output
    assert "warehouse mux_views: 3 row(s) removed" in result.output
    assert "NOT REACHED" in result.output and "Mux Data" in result.output and "platform" in result.output

    snapshots = layout.snapshot_files()
    assert len(snapshots) == 1  # the older snapshots that held the student are gone
    with _published(world) as con:
        assert set(_rows_of(con, world.forgotten).values()) == {0}
        assert _rows_of(con, world.kept)["mux_views"] == 1 and _rows_of(con, world.kept)["users"] == 1
        assert con.execute("SELECT sum(views) FROM lesson_daily").fetchall() == [(1,)]  # rollups recounted
        assert con.execute("SELECT enrolled_students FROM lesson_completion").fetchall() == [(1,)]

    # Idempotent: a second run removes nothing more and says so.
    again = _invoke(world, "forget", "--user", str(world.forgotten))
    assert again.exit_code == 0, again.output
    assert "already on the forgotten list" in again.output and "mux_views: 0 row(s)" in again.output

    # The platform still has the student and Mux Data still has the views: the next sync brings nothing back.
    _sync(world, db_url)
    with _published(world) as con:
        assert set(_rows_of(con, world.forgotten).values()) == {0}
        assert _rows_of(con, world.kept)["mux_views"] == 1


def test_forget_refuses_a_teacher_and_changes_nothing(world: World) -> None:
    with _published(world) as con:
        before = con.execute("SELECT count(*) FROM mux_views").fetchall()
    result = _invoke(world, "forget", "--user", str(world.teacher))
    assert result.exit_code == 73  # conflict
    assert "not a student" in result.output
    with _published(world) as con:
        assert con.execute("SELECT count(*) FROM mux_views").fetchall() == before
        assert con.execute("SELECT count(*) FROM privacy_forgotten").fetchall() == [(0,)]


def test_lookup_maps_a_key_back_from_the_platform_db_only(world: World) -> None:
    found = _invoke(world, "lookup", str(_key(world.kept)))
    assert found.exit_code == 0, found.output
    assert f"user {world.kept}:" in found.output and world.kept_email in found.output
    # The warehouse has no email to give away.
    with _published(world) as con:
        everything = str([con.execute(f"SELECT * FROM {t}").fetchall() for t in ("users", "mux_views")])
    assert world.kept_email not in everything and world.forgotten_email not in everything

    unknown = _invoke(world, "lookup", str(10**17 + 1))
    assert unknown.exit_code == 66 and "no platform student" in unknown.output  # not found
    not_a_key = _invoke(world, "lookup", "42")
    assert not_a_key.exit_code == 65 and "not a student key" in not_a_key.output  # invalid


def test_out_of_range_ids_and_an_unreadable_database_get_one_line_not_a_traceback(world: World, tmp_path: Path) -> None:
    for bad in ("99999999999999999999", "123456789012345678", "0", "x"):
        result = _invoke(world, "forget", "--user", bad)
        assert result.exit_code == 2, (bad, result.output)
        assert isinstance(result.exception, SystemExit), (bad, result.exception)
    missing = world.env | {"DATABASE_URL": f"sqlite:///{tmp_path / 'nowhere' / 'p.db'}"}
    for args in (["lookup", "123456789012345678"], ["forget", "--user", "5"]):
        result = runner.invoke(app, ["privacy", *args], env=missing)
        assert result.exit_code == 78, (args, result.output)  # misconfigured: a database without Lectern's tables
        assert isinstance(result.exception, SystemExit), (args, result.exception)
        assert result.stderr.startswith("error: the platform database has no Lectern tables"), args
        assert result.stderr.rstrip().endswith("run `lectern db upgrade`"), result.stderr
        assert len(result.stderr.splitlines()) == 1, result.stderr

"""`lectern emulator simulate` against a real emulator and platform DB (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner, Result

from core.db.engine import make_engine, make_session_factory, transaction
from core.db.models import Enrollment, Lesson, LessonProgress
from core.privacy import pseudonym_secret, student_key
from core.settings import load_settings
from emulator.testing import EmulatorServer
from lectern.cli import app
from tests.emulator_data.helpers import Catalogue
from tests.factories import enroll, make_course, make_lesson, make_user

PSEUDONYM_KEY = "simulate-test-pseudonym-key-0123456789"


def _platform(factory: sessionmaker[Session], catalogue: Catalogue) -> dict[int, float]:
    """Two courses whose lessons are the catalogue's assets, plus one lesson the emulator never saw."""
    durations: dict[int, float] = {}
    with transaction(factory) as s:
        teacher = make_user(s, role="teacher")
        for course_key in ("1", "2"):
            course = make_course(s, teacher=teacher)
            for spec in catalogue.lessons.values():
                if spec["course"] != course_key:
                    continue
                asset = catalogue.assets[spec["asset_id"]]
                lesson = make_lesson(
                    s, course=course, position=spec["position"], title=spec["title"], video_provider="mux",
                    mux_asset_id=asset["id"], video_status="ready", video_duration_s=asset["duration"],
                )  # fmt: skip
                durations[lesson.id] = asset["duration"]
            for _ in range(25):
                enroll(s, make_user(s), course)
        make_lesson(s, course=course, mux_asset_id="gone-asset", video_provider="mux", video_status="ready")
        make_lesson(s, course=course, mux_asset_id=None)  # an S3 lesson: not simulated
    return durations


def _run(*args: str) -> Result:
    return CliRunner().invoke(app, ["emulator", "simulate", *args])


def test_simulate_writes_matching_progress(
    db_url: str, fresh_emu: EmulatorServer, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("LECTERN_PSEUDONYM_KEY", PSEUDONYM_KEY)
    monkeypatch.setenv("MUX_API_URL", fresh_emu.url)
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    durations = _platform(factory, catalogue)

    result = _run("--days", "20", "--views", "1500", "--seed", "3")
    assert result.exit_code == 0, result.output
    assert "1,500 views" in result.output and "skipped lesson" in result.output

    emulated = fresh_emu.http.get("/_emulator/views/progress", params={"limit": 10_000}).json()
    with factory() as s:
        rows = s.execute(select(LessonProgress)).scalars().all()
        enrolled = {(e.user_id, e.course_id) for e in s.execute(select(Enrollment)).scalars()}
    # Mux Data saw the students' pseudonymous keys (as the player sends them), never their ids.
    secret = pseudonym_secret(load_settings())
    user_of = {str(student_key(secret, user_id)): user_id for user_id, _ in enrolled}
    assert {r["viewer_user_id"] for r in emulated["data"]} <= set(user_of)
    by_pair = {(user_of[r["viewer_user_id"]], int(r["video_id"])): r for r in emulated["data"]}
    with factory() as s:
        course_of = {lesson.id: lesson.course_id for lesson in s.execute(select(Lesson)).scalars()}
    # The platform lost a few students' progress: close to Mux, not identical.
    assert 0.9 * len(by_pair) <= len(rows) < len(by_pair)
    for row in rows:
        source = by_pair[(row.user_id, row.lesson_id)]
        assert (row.user_id, course_of[row.lesson_id]) in enrolled
        assert source["max_position_s"] - 10.1 <= row.furthest_position_s <= source["max_position_s"] + 0.1
        assert row.furthest_position_s <= durations[row.lesson_id]
        assert 0.89 * source["playing_time_s"] <= row.seconds_watched <= 1.09 * source["playing_time_s"] + 0.1
        assert (row.completed_at is not None) == (source["max_position_s"] >= 0.9 * durations[row.lesson_id])
    assert any(row.completed_at for row in rows) and any(row.completed_at is None for row in rows)
    first = {(r.user_id, r.lesson_id): (r.seconds_watched, r.furthest_position_s) for r in rows}

    again = _run("--days", "20", "--views", "1500", "--seed", "3")
    assert again.exit_code == 0, again.output
    with factory() as s:
        rerun = {(r.user_id, r.lesson_id): r for r in s.execute(select(LessonProgress)).scalars()}
    assert set(rerun) == set(first)  # same seed: same students lost, so no new rows
    for key, (seconds, furthest) in first.items():
        assert rerun[key].seconds_watched == pytest.approx(2 * seconds, abs=0.2)  # watching adds up
        assert rerun[key].furthest_position_s == furthest
    engine.dispose()


def test_simulate_explains_missing_lessons(
    db_url: str, fresh_emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("LECTERN_PSEUDONYM_KEY", PSEUDONYM_KEY)
    monkeypatch.setenv("MUX_API_URL", fresh_emu.url)
    result = _run("--views", "10")
    assert result.exit_code == 66  # not found
    assert "no lessons with a ready Mux video" in result.output


def test_simulate_explains_an_unreachable_emulator(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("LECTERN_PSEUDONYM_KEY", PSEUDONYM_KEY)
    monkeypatch.setenv("MUX_API_URL", "http://127.0.0.1:9")
    engine = make_engine(db_url)
    with transaction(make_session_factory(engine)) as s:
        make_lesson(s, mux_asset_id="some-asset", video_provider="mux", video_status="ready")
    engine.dispose()
    result = _run("--views", "10")
    assert result.exit_code == 69  # unavailable
    assert result.stderr.startswith("error: cannot reach the Mux emulator at http://127.0.0.1:9 (MUX_API_URL): ")
    assert len(result.stderr.splitlines()) == 1, result.stderr


def test_simulate_explains_a_missing_pseudonym_key(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    for name in ("LECTERN_PSEUDONYM_KEY", "LECTERN_PLATFORM_JWT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    result = _run("--views", "10")
    assert result.exit_code == 78  # misconfigured
    assert "LECTERN_PSEUDONYM_KEY" in result.output and "Traceback" not in result.output

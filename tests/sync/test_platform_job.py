"""The platform snapshot: every row of the five tables, no password hashes, replaced atomically."""

from __future__ import annotations

import duckdb
import pytest
from sqlalchemy import Connection, Engine, delete, func, select

from core.db.models import Course, Enrollment, Lesson, LessonProgress, User
from sync.platform import TABLES, run_platform
from sync.state import read_state
from tests.sync.conftest import NOW
from warehouse.store import WarehouseWriter


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            model.__tablename__: conn.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (User, Course, Lesson, Enrollment, LessonProgress)
        }


def test_snapshot_copies_every_row_and_never_a_password(seeded: Engine, writer: WarehouseWriter) -> None:
    with writer.open() as con:
        result = run_platform(con, seeded, now=NOW, batch_rows=17)  # small batches: many partitions
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in TABLES}
        assert counts == _counts(seeded) == result.details
        columns = {r[0] for r in con.execute("DESCRIBE users").fetchall()}
        assert "password_hash" not in columns
        hashes = con.execute("SELECT count(*) FROM users WHERE email LIKE '%scrypt%' OR name LIKE '%scrypt%'")
        assert hashes.fetchall() == [(0,)]
        lesson = con.execute("SELECT chapters, created_at FROM lessons WHERE chapters IS NOT NULL LIMIT 1").fetchall()
        assert lesson[0][0].startswith("[{") and lesson[0][1].tzinfo is not None
        state = read_state(con, "platform")
        assert state is not None and state.status == "ok" and state.rows == sum(counts.values())


def test_second_snapshot_replaces_the_first(seeded: Engine, writer: WarehouseWriter) -> None:
    with writer.open() as con:
        run_platform(con, seeded, now=NOW)
    with seeded.begin() as conn:
        conn.execute(delete(LessonProgress))
    with writer.open() as con:
        run_platform(con, seeded, now=NOW)
        assert con.execute("SELECT count(*) FROM lesson_progress").fetchall() == [(0,)]
        assert con.execute("SELECT count(*) FROM users").fetchall()[0][0] == _counts(seeded)["users"]


def test_a_failed_snapshot_leaves_the_previous_one(
    seeded: Engine, writer: WarehouseWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    with writer.open() as con:
        run_platform(con, seeded, now=NOW)
        before = con.execute("SELECT count(*) FROM lesson_progress").fetchall()
    import sync.platform as platform_job

    real = platform_job._read_table

    def failing(pconn: Connection, con: duckdb.DuckDBPyConnection, name: str, batch_rows: int) -> int:
        if name == "enrollments":
            raise RuntimeError("platform database went away")
        return real(pconn, con, name, batch_rows)

    monkeypatch.setattr(platform_job, "_read_table", failing)
    with writer.open() as con:
        with pytest.raises(RuntimeError, match="went away"):
            run_platform(con, seeded, now=NOW)
        assert con.execute("SELECT count(*) FROM lesson_progress").fetchall() == before
        assert con.execute("SELECT count(*) FROM users").fetchall()[0][0] > 0

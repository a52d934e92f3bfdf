"""Schema migrations: fresh, forward from an older warehouse (data kept, rollups backfilled), refusals."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from tests.warehouse.factories import random_views
from warehouse.loaders import upsert, views_to_arrow
from warehouse.schema import (
    LATEST,
    MIGRATIONS,
    TABLES,
    VIEWS,
    Migration,
    SchemaError,
    current_version,
    migrate,
    rehash_view_keys,
)


def _names(con: duckdb.DuckDBPyConnection, kind: str) -> set[str]:
    return {
        r[0]
        for r in con.execute("SELECT table_name FROM information_schema.tables WHERE table_type = ?", [kind]).fetchall()
    }


def test_fresh_warehouse_gets_every_table_and_view() -> None:
    con = duckdb.connect()
    assert migrate(con) == [m.version for m in MIGRATIONS]
    assert current_version(con) == LATEST
    assert _names(con, "BASE TABLE") == set(TABLES)
    assert _names(con, "VIEW") == set(VIEWS)
    assert migrate(con) == []  # already current: nothing to do
    for view in VIEWS:
        con.execute(f"SELECT * FROM {view}").fetchall()


def test_users_snapshot_has_no_password_column() -> None:
    con = duckdb.connect()
    migrate(con)
    columns = {r[0] for r in con.execute("DESCRIBE users").fetchall()}
    assert not {"password_hash", "email"} & columns and {"id", "name", "role"} <= columns


def test_migrates_forward_from_version_1_keeping_data(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    assert migrate(con, target=1) == [1]
    views = random_views(300, days=3)
    upsert(con, "mux_views", views_to_arrow(views, loaded_at=datetime(2025, 3, 5, tzinfo=UTC)), ["view_id"])
    con.close()

    con = duckdb.connect(str(path))
    assert current_version(con) == 1
    assert migrate(con) == [step.version for step in MIGRATIONS[1:]]
    assert con.execute("SELECT count(*) FROM mux_views").fetchall() == [(300,)]
    # Steps 5-6 keyed the old rows: a later upsert of the same views replaces them.
    assert con.execute("SELECT count(*) FROM mux_views WHERE view_key = hash(view_id)").fetchall() == [(300,)]
    upsert(con, "mux_views", views_to_arrow(views, loaded_at=datetime(2025, 3, 6, tzinfo=UTC)), ["view_id"])
    assert con.execute("SELECT count(*), min(loaded_at) FROM mux_views").fetchall()[0][0] == 300
    # Step 2 derived the rollups from the views the old warehouse already had.
    assert con.execute("SELECT sum(views) FROM lesson_daily").fetchall() == [(300,)]
    assert con.execute("SELECT count(*) FROM v_daily_lesson_engagement").fetchall()[0][0] > 0
    versions = [r[0] for r in con.execute("SELECT version FROM schema_version ORDER BY 1").fetchall()]
    assert versions == [m.version for m in MIGRATIONS]


def test_view_keys_are_recomputed_when_duckdb_hashes_differently() -> None:
    con = duckdb.connect()
    migrate(con)
    upsert(con, "mux_views", views_to_arrow(random_views(20), loaded_at=datetime(2025, 3, 5, tzinfo=UTC)), ["view_id"])
    assert rehash_view_keys(con) is False  # written by this DuckDB: nothing to do
    # As a warehouse written by a DuckDB whose hash() differed would look to this one.
    con.execute("UPDATE mux_views SET view_key = view_key + 1")
    con.execute("UPDATE warehouse_settings SET value = '42' WHERE name = 'view_key_probe'")
    assert migrate(con) == []
    assert con.execute("SELECT count(*) FROM mux_views WHERE view_key = hash(view_id)").fetchall() == [(20,)]
    assert rehash_view_keys(con) is False


def test_failed_step_rolls_back_and_keeps_the_old_version() -> None:
    con = duckdb.connect()
    migrate(con)
    broken = (*MIGRATIONS, Migration(LATEST + 1, "broken", ("CREATE TABLE extra (x INTEGER)", "SELECT * FROM nope")))
    with pytest.raises(duckdb.Error):
        migrate(con, migrations=broken)
    assert current_version(con) == LATEST
    assert "extra" not in _names(con, "BASE TABLE")


def test_newer_warehouse_is_refused() -> None:
    con = duckdb.connect()
    migrate(con)
    con.execute("INSERT INTO schema_version VALUES (?, 'from the future', now())", [LATEST + 1])
    with pytest.raises(SchemaError, match="upgrade Lectern"):
        migrate(con)


def test_step_8_removes_emails_and_student_rows_and_adds_the_forgotten_list() -> None:
    con = duckdb.connect()
    migrate(con, target=6)
    con.execute(
        "INSERT INTO users VALUES (1, 't@x.test', 'Tea Cher', 'teacher', now()), "
        "(2, 's@x.test', 'Stu Dent', 'student', now())"
    )
    con.execute("INSERT INTO enrollments VALUES (1, 2, 10, now())")
    con.execute("INSERT INTO lesson_progress VALUES (1, 2, 5, 1.0, 1.0, NULL, now())")
    con.execute("INSERT INTO student_course_progress VALUES (2, 10, now(), 1, 0, 1.0, now())")
    assert migrate(con) == [step.version for step in MIGRATIONS if step.version > 6]
    assert "email" not in {r[0] for r in con.execute("DESCRIBE users").fetchall()}
    assert con.execute("SELECT id, name, role FROM users").fetchall() == [(1, "Tea Cher", "teacher")]
    for table in ("enrollments", "lesson_progress", "student_course_progress", "privacy_forgotten"):
        assert con.execute(f"SELECT count(*) FROM {table}").fetchall() == [(0,)], table

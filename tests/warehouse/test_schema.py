"""Schema migrations: fresh, forward from an older warehouse (data kept, rollups backfilled), refusals."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
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


def old_views(con: duckdb.DuckDBPyConnection, table: pa.Table) -> pa.Table:
    """A views batch cut to the columns an older warehouse's mux_views has (as its Lectern wrote them)."""
    names = {r[0] for r in con.execute("DESCRIBE mux_views").fetchall()}
    return table.select([n for n in table.column_names if n in names])


def test_migrates_forward_from_version_1_keeping_data(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    assert migrate(con, target=1) == [1]
    views = random_views(300, days=3)
    batch = views_to_arrow(views, loaded_at=datetime(2025, 3, 5, tzinfo=UTC))
    upsert(con, "mux_views", old_views(con, batch), ["view_id"])
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


def test_step_7_marks_the_rows_list_and_get_stored_under_muxs_opaque_id(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "v6.duckdb"))
    assert migrate(con, target=6)[-1] == 6
    listed_at, exported_at = datetime(2025, 3, 2, 1, tzinfo=UTC), datetime(2025, 3, 3, 2, tzinfo=UTC)
    views = random_views(400, days=3)  # 2025-03-01 .. 03-03
    # The old list+get path keyed views on `id`; the old export path (03-02's file) on the UUID.
    by_list = [{**v, "view_id": v["id"]} for v in views]
    by_file = [v for v in views if v["view_end"].startswith("2025-03-02")]
    upsert(con, "mux_views", old_views(con, views_to_arrow(by_list, loaded_at=listed_at)), ["view_id"])
    upsert(con, "mux_views", old_views(con, views_to_arrow(by_file, loaded_at=exported_at)), ["view_id"])
    con.execute("INSERT INTO sync_view_exports VALUES ('2025-03-02', 14, NULL, ?, 1, ?)", [len(by_file), exported_at])
    # A list+get row loaded in the same run as that file, on another day: still a list+get row.
    late = dict(views[0], view_id="opaque-late", view_end="2025-03-03T05:00:00Z")
    upsert(con, "mux_views", old_views(con, views_to_arrow([late], loaded_at=exported_at)), ["view_id"])

    assert migrate(con, target=7) == [7]
    marked = con.execute(
        "SELECT count(*) FILTER (legacy_key), count(*) FILTER (legacy_key AND mux_view_id = view_id), "
        "count(*) FILTER (legacy_key IS NOT TRUE AND mux_view_id IS NULL), count(*) FROM mux_views"
    ).fetchall()[0]
    assert marked == (len(views) + 1, len(views) + 1, len(by_file), len(views) + len(by_file) + 1)
    unmarked = {r[0] for r in con.execute("SELECT view_id FROM mux_views WHERE NOT legacy_key").fetchall()}
    assert unmarked == {v["view_id"] for v in by_file}
    rereads = con.execute("SELECT view_day, legacy_rows FROM sync_view_rereads ORDER BY 1").fetchall()
    per_day = dict(
        con.execute(
            "SELECT timezone('UTC', view_end)::DATE, count(*) FROM mux_views WHERE legacy_key GROUP BY 1"
        ).fetchall()
    )
    assert rereads == sorted(per_day.items()) and len(rereads) == 3
    # New rows load unmarked, with both ids and the new columns.
    upsert(con, "mux_views", views_to_arrow(views[:5], loaded_at=exported_at), ["view_id"])
    fresh = con.execute(
        "SELECT count(*) FROM mux_views WHERE legacy_key = FALSE AND mux_view_id IS NOT NULL "
        "AND player_startup_time_ms IS NOT NULL"
    ).fetchall()
    assert fresh == [(5,)]


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


def test_step_7_leaves_list_and_get_rows_that_already_hold_the_uuid(tmp_path: Path) -> None:
    # Mux gives views since 2022-07-28 one UUID as both `id` and `view_id`: such rows are keyed right already.
    con = duckdb.connect(str(tmp_path / "v6.duckdb"))
    migrate(con, target=6)
    listed_at = datetime(2025, 3, 2, 1, tzinfo=UTC)
    same, older = random_views(2, days=2)
    rows = [{**same, "view_id": same["view_id"].upper()}, {**older, "view_id": older["id"]}]
    upsert(con, "mux_views", old_views(con, views_to_arrow(rows, loaded_at=listed_at)), ["view_id"])
    assert migrate(con, target=7) == [7]
    marked = dict(con.execute("SELECT view_id, legacy_key FROM mux_views").fetchall())
    assert marked == {same["view_id"].upper(): False, older["id"]: True}
    assert con.execute("SELECT count(*) FROM mux_views WHERE mux_view_id = view_id").fetchall() == [(2,)]
    assert con.execute("SELECT sum(legacy_rows) FROM sync_view_rereads").fetchall() == [(1,)]

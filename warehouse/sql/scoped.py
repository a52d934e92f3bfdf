"""A teacher's copy of the warehouse: an in-memory database holding nothing but their own courses' rows.

DuckDB has no row-level security, so a teacher's workbench query never sees the snapshot itself: each run
builds a fresh in-memory database from the snapshot (attached read-only under another name), keeping only
the rows of the courses they teach — the same scope `warehouse/scope.py` applies to the dashboards' queries
— then detaches the snapshot and locks the instance with no file allowed at all. Platform-wide tables
(`viewer_daily`, the QoE rollups) and bookkeeping (`privacy_forgotten`, sync state) are left out.

Copying a teacher's share of 10M views costs seconds, so only the tables the query's text names (directly
or through a `v_*` view) get their rows; every other table is created empty with its columns, so DESCRIBE,
SHOW TABLES and information_schema still list them. Matching words in the text over-includes (a name in a
comment or a string also counts), never under-includes; a query naming tables through `query()` or
`query_table()`, which could build a name from parts, gets every table's rows.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from warehouse.sql.guard import EngineLimits, attach_snapshot, lock, start_instance

SOURCE = "snapshot"
_LESSONS = "lesson_id IN (SELECT id FROM lessons)"
_ASSETS = "(asset_id IN (SELECT mux_asset_id FROM lessons) OR lesson_id IN (SELECT id FROM lessons))"
# Table -> the rows a teacher keeps, in build order (later filters read the tables built before them). The
# first four are always copied: every other filter reads them, and they are small.
ALWAYS = ("courses", "lessons", "enrollments", "users")
_DYNAMIC = re.compile(r"\bquery(?:_table)?\s*\(", re.I)
TEACHER_TABLES: dict[str, str] = {
    "courses": "teacher_id = $teacher_id",
    "lessons": "course_id IN (SELECT id FROM courses)",
    "enrollments": "course_id IN (SELECT id FROM courses)",
    "users": "id = $teacher_id OR id IN (SELECT user_id FROM enrollments)",
    "lesson_progress": _LESSONS,
    "lesson_views": _LESSONS,
    "mux_views": _LESSONS,
    "assets": _ASSETS,
    "delivery_usage": _ASSETS,
    "lesson_daily": _LESSONS,
    "viewer_lesson_daily": _LESSONS,
    "lesson_retention_daily": _LESSONS,
    "lesson_completion": _LESSONS,
    "student_course_progress": "course_id IN (SELECT id FROM courses)",
}


def tables_named(sql: str, views: dict[str, str]) -> set[str]:
    """The teacher tables whose rows `sql` may read: named in it, or in the definition of a view it names."""
    if _DYNAMIC.search(sql):
        return set(TEACHER_TABLES)
    text = sql
    for view, ddl in views.items():
        if _names(view, sql):
            text += "\n" + ddl
    return {table for table in TEACHER_TABLES if table in ALWAYS or _names(table, text)}


def _names(name: str, text: str) -> bool:
    return re.search(rf"\b{re.escape(name)}\b", text, re.I) is not None


def open_teacher_copy(
    snapshot: Path, teacher_id: int, limits: EngineLimits, spill_dir: Path, sql: str
) -> duckdb.DuckDBPyConnection:
    """An instance whose only database is the teacher's rows (and the documented views over them), locked;
    the tables `sql` does not name are there with their columns and no rows."""
    con = start_instance(limits, spill_dir)
    try:
        attach_snapshot(con, snapshot, SOURCE)
        views = dict(
            con.execute(
                "SELECT view_name, sql FROM duckdb_views() WHERE database_name = ? AND NOT internal ORDER BY 1",
                [SOURCE],
            ).fetchall()
        )
        filled = tables_named(sql, views)
        for table, keep in TEACHER_TABLES.items():
            # Names come from the fixed map above; the teacher id is bound.
            where = keep if table in filled else "false"
            params = {"teacher_id": teacher_id} if "$teacher_id" in where else {}
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM {SOURCE}.{table} WHERE {where}", params)
        for ddl in views.values():
            con.execute(ddl)  # unqualified names bind to the copies above
        con.execute(f"DETACH {SOURCE}")
        lock(con, [])
    except BaseException:
        con.close()
        raise
    return con

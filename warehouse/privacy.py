"""The warehouse side of forgetting a student: the forgotten list and removing a student's rows.

Keys are student keys (core/privacy.py); `raw_ids` are platform user ids, for views loaded before the
player sent keys (warehouse step 8). Everything runs in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import duckdb

from warehouse.rollups import refresh_platform_rollups, refresh_rollups

# Tables whose rows name one student, and the column holding the key.
STUDENT_ROWS = (("mux_views", "user_id"), ("users", "id"), ("enrollments", "user_id"), ("lesson_progress", "user_id"))


def forgotten_keys(con: duckdb.DuckDBPyConnection) -> set[int]:
    return {int(k) for (k,) in con.execute("SELECT student_key FROM privacy_forgotten").fetchall()}


def add_forgotten(con: duckdb.DuckDBPyConnection, key: int, *, now: datetime | None = None) -> bool:
    """Put a key on the list; False when it was already there."""
    if con.execute("SELECT count(*) FROM privacy_forgotten WHERE student_key = ?", [key]).fetchall()[0][0]:
        return False
    con.execute("INSERT INTO privacy_forgotten VALUES (?, ?)", [key, now or datetime.now(UTC)])
    return True


def purge_students(con: duckdb.DuckDBPyConnection, keys: Sequence[int], raw_ids: Sequence[int] = ()) -> dict[str, int]:
    """Delete every row of these students and recompute the rollups they counted in; rows removed per table."""
    ids = sorted({*keys, *raw_ids})
    if not ids:
        return {}
    texts = [str(i) for i in ids]
    viewer = "(list_contains($ids, user_id) OR list_contains($texts, viewer_user_id))"
    days = con.execute(
        f"SELECT min(view_day), max(view_day) FROM mux_views WHERE {viewer}", {"ids": ids, "texts": texts}
    )
    first, last = days.fetchall()[0]
    removed: dict[str, int] = {}
    for table, column in STUDENT_ROWS:
        where = viewer if table == "mux_views" else f"list_contains($ids, {column})"
        params = {"ids": ids, "texts": texts} if table == "mux_views" else {"ids": ids}
        removed[table] = int(con.execute(f"SELECT count(*) FROM {table} WHERE {where}", params).fetchall()[0][0])
        if removed[table]:
            con.execute(f"DELETE FROM {table} WHERE {where}", params)
    if first is not None:
        refresh_rollups(con, (first, last))
    if removed["users"] or removed["enrollments"] or removed["lesson_progress"]:
        refresh_platform_rollups(con)
    return removed

"""The warehouse side of forgetting a student: the forgotten list and removing a student's rows.

Keys are student keys (core/privacy.py); `raw_ids` are platform user ids, for views loaded before the
player sent keys (warehouse step 8). Everything runs in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from core.privacy import KEY_MIN, WarehouseForgetResult
from warehouse.rollups import refresh_platform_rollups, refresh_rollups
from warehouse.store import WarehouseWriter

# Tables whose rows name one student, and the column holding the key.
STUDENT_ROWS = (
    ("mux_views", "user_id"),
    ("users", "id"),
    ("enrollments", "user_id"),
    ("lesson_progress", "user_id"),
    ("lesson_views", "user_id"),
)


def forgotten(con: duckdb.DuckDBPyConnection) -> tuple[set[int], set[int]]:
    """(student keys, platform ids) on the forgotten list; the ids catch views loaded before step 8."""
    rows = con.execute("SELECT student_key, user_id FROM privacy_forgotten").fetchall()
    return {int(k) for k, _ in rows}, {int(u) for _, u in rows if u is not None}


def add_forgotten(con: duckdb.DuckDBPyConnection, key: int, user_id: int, *, now: datetime | None = None) -> bool:
    """Put a student on the list; False when they were already there."""
    if con.execute("SELECT count(*) FROM privacy_forgotten WHERE student_key = ?", [key]).fetchall()[0][0]:
        return False
    con.execute("INSERT INTO privacy_forgotten VALUES (?, ?, ?)", [key, user_id, now or datetime.now(UTC)])
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


def rekey_student_views(con: duckdb.DuckDBPyConnection, keys: dict[int, int]) -> int:
    """Views whose viewer is a student's platform id (loaded before step 8) take the student's key instead.

    After this, those views join to enrolments again and the warehouse holds no student id. Rows already
    keyed are never touched (`user_id < KEY_MIN`), so after the first run this finds nothing.
    """
    if not keys:
        return 0
    mapping = pa.table({"raw": list(keys), "student_key": list(keys.values())})
    con.register("_student_keys", mapping)
    try:
        match = "v.user_id = k.raw AND v.user_id < ? AND v.viewer_user_id = k.raw::VARCHAR"
        count = f"SELECT min(v.view_day), max(v.view_day), count(*) FROM mux_views v, _student_keys k WHERE {match}"
        first, last, n = con.execute(count, [KEY_MIN]).fetchall()[0]
        if n:
            con.execute(
                "UPDATE mux_views v SET user_id = k.student_key, viewer_user_id = k.student_key::VARCHAR "
                f"FROM _student_keys k WHERE {match}",
                [KEY_MIN],
            )
            refresh_rollups(con, (first, last))
    finally:
        con.unregister("_student_keys")
    return int(n)


def forget_in_warehouse(writer: WarehouseWriter, key: int, user_id: int) -> WarehouseForgetResult:
    """List the key, delete the student's rows in the working file, publish, then delete older snapshots.

    Readers that still hold an older snapshot open finish their query on it (POSIX keeps an unlinked file
    until its last descriptor closes); every new reader opens the rewritten one.
    """
    with writer.open() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            listed = add_forgotten(con, key, user_id)
            rows = purge_students(con, [key], [user_id])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    with writer.lock():  # no sync can publish (and so become the current snapshot) while we delete
        removed = [path for path in writer.gc(keep=0) if not path.name.startswith(".")]
    return WarehouseForgetResult(rows=rows, newly_listed=listed, snapshots_removed=len(removed))

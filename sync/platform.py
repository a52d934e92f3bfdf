"""The `platform` job: a snapshot of users, courses, lessons, enrollments, progress and Lectern's play
sessions (`lesson_views`) in the warehouse.

Rows stream from PostgreSQL or SQLite through SQLAlchemy in batches, become Arrow tables and replace
the snapshot tables in ONE DuckDB transaction with the job's state, so the warehouse never mixes two
snapshots. The warehouse table's columns are the allow-list of what is copied: `users.password_hash`
and `users.email` have no column there, so they are never even selected. On PostgreSQL the reads run in
one REPEATABLE READ transaction, so all six tables come from the same moment.

Students are pseudonymised on the way (core/privacy.py): their ids become student keys in `users`,
`enrollments`, `lesson_progress` and `lesson_views` (and in views loaded before warehouse step 8, which
carry their platform id), their names are not copied, and students on the forgotten list
(`lectern privacy forget`) are skipped — and any of their Mux Data views a views run fetched again are
removed here, in the same transaction.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import JSON, Connection, Engine, Table, select

from core.db.models import Base, Role
from core.privacy import student_key
from sync.state import JobResult, Progress, transaction, write_state
from warehouse.loaders import TS, append
from warehouse.privacy import forgotten, purge_students, rekey_student_views
from warehouse.rollups import refresh_platform_rollups

JOB = "platform"
TABLES = ("users", "courses", "lessons", "enrollments", "lesson_progress", "lesson_views")
# Tables whose `user_id` names a student: copied under the student's key.
STUDENT_TABLES = ("enrollments", "lesson_progress", "lesson_views")

_ARROW_TYPES: dict[str, pa.DataType] = {
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "DOUBLE": pa.float64(),
    "VARCHAR": pa.string(),
    "BOOLEAN": pa.bool_(),
    "TIMESTAMP WITH TIME ZONE": TS,
}


def warehouse_columns(con: duckdb.DuckDBPyConnection, table: str) -> pa.Schema:
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return pa.schema([(name, _ARROW_TYPES[dtype]) for name, dtype in rows])


def rows_to_arrow(rows: list[Any], schema: pa.Schema, json_columns: set[str]) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    arrays = []
    for field, values in zip(schema, columns, strict=True):
        if field.name in json_columns:
            values = tuple(v if v is None or isinstance(v, str) else json.dumps(v) for v in values)
        arrays.append(pa.array(values, type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


class Pseudonyms:
    """Student id -> student key, learnt from the users table (read first); forgotten keys are dropped."""

    def __init__(self, secret: bytes, forgotten: set[int]) -> None:
        self.secret = secret
        self.forgotten = forgotten
        self.students: dict[int, int] = {}

    def rows(self, name: str, rows: list[Any], schema: pa.Schema) -> list[Any]:
        if name == "users":
            return [r for r in (self._user(r, schema) for r in rows) if r is not None]
        if name not in STUDENT_TABLES:
            return rows
        at = schema.get_field_index("user_id")
        out = []
        for r in rows:
            key = self.students.get(r[at])
            if key is None:
                out.append(r)
            elif key not in self.forgotten:
                out.append((*r[:at], key, *r[at + 1 :]))
        return out

    def _user(self, row: Any, schema: pa.Schema) -> tuple[Any, ...] | None:
        values = dict(zip(schema.names, row, strict=True))
        if values["role"] != Role.student:
            return tuple(row)
        key = student_key(self.secret, values["id"])
        self.students[values["id"]] = key
        if key in self.forgotten:
            return None
        values |= {"id": key, "name": None}
        return tuple(values.values())


def _read_table(
    pconn: Connection, con: duckdb.DuckDBPyConnection, name: str, batch_rows: int, pseudonyms: Pseudonyms
) -> int:
    schema = warehouse_columns(con, name)
    source: Table = Base.metadata.tables[name]
    json_columns = {c.name for c in source.columns if isinstance(c.type, JSON)}
    stmt = select(*[source.c[f.name] for f in schema]).order_by(source.c.id)
    result = pconn.execution_options(stream_results=True, yield_per=batch_rows).execute(stmt)
    total = 0
    for part in result.partitions(batch_rows):
        total += append(con, name, rows_to_arrow(pseudonyms.rows(name, list(part), schema), schema, json_columns))
    return total


def run_platform(
    con: duckdb.DuckDBPyConnection,
    engine: Engine,
    *,
    now: datetime,
    pseudonym_secret: bytes,
    batch_rows: int = 50_000,
    progress: Progress | None = None,
) -> JobResult:
    started = time.perf_counter()
    result = JobResult(JOB, details={})
    options: dict[str, Any] = {}
    if engine.dialect.name == "postgresql":
        options["isolation_level"] = "REPEATABLE READ"
    with engine.connect().execution_options(**options) as pconn, pconn.begin(), transaction(con):
        forgotten_keys, forgotten_ids = forgotten(con)
        pseudonyms = Pseudonyms(pseudonym_secret, forgotten_keys)
        for i, name in enumerate(TABLES):
            con.execute(f"DELETE FROM {name}")
            count = _read_table(pconn, con, name, batch_rows, pseudonyms)
            result.details[name] = count
            result.rows += count
            if progress:
                progress(JOB, i + 1, len(TABLES), result.rows)
        refresh_platform_rollups(con)
        returned = purge_students(con, sorted(forgotten_keys), sorted(forgotten_ids)).get("mux_views", 0)
        rekeyed = rekey_student_views(con, pseudonyms.students)
        if rekeyed:
            result.details["views_rekeyed"] = rekeyed
        if returned:
            result.details["forgotten_views_removed"] = returned
        result.new_rows = result.rows
        write_state(
            con, JOB, now=now, status="ok", rows=result.rows, watermark=now, duration_s=time.perf_counter() - started
        )
    result.watermark = now
    result.duration_s = time.perf_counter() - started
    return result

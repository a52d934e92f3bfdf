"""The SQL workbench: an analyst's query against the published snapshot, with named limits.

Every run opens its own guarded DuckDB instance (warehouse/sql/guard.py; a teacher's is their own rows only,
warehouse/sql/scoped.py), checks the statement, and streams the result:

- **rows**: `run` keeps `max_rows` (LECTERN_SQL_MAX_ROWS) and reads one row past it to know whether there
  were more — Datasette's `fetchmany(limit + 1)` — so a cut result says "truncated at N rows" and nothing
  beyond row N + 1 is ever computed for it when the plan streams;
- **time**: a timer calls `interrupt()` on the query's own connection after `time_limit_s`
  (LECTERN_SQL_TIME_LIMIT_S); the query stops with `QueryTimedOut` and the next run starts fresh;
- **downloads**: `download` holds at most `download_max_rows` (LECTERN_SQL_DOWNLOAD_MAX_ROWS) in memory;
  `export` streams to a file with no row cap (the CLI's `--output`), under the same guards and time limit.

Nothing is shared between runs or users: no connection pool, no writer lock (the sync writes another file),
so a long query only ever holds its own instance's threads and memory.
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from core.logging import get_logger
from warehouse.dictionary import ENTRIES, Entry
from warehouse.sql.errors import QueryFailed, QueryRefused, QueryTimedOut
from warehouse.sql.guard import EngineLimits, open_snapshot, statement_to_run, translate
from warehouse.sql.scoped import TEACHER_TABLES, open_teacher_copy
from warehouse.store import WarehouseLayout, WarehouseNotReady

if TYPE_CHECKING:
    from core.settings import Settings

log = get_logger(__name__)
FORMATS = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet", "json": "application/x-ndjson"}
BATCH_ROWS = 50_000


@dataclass(frozen=True)
class SqlLimits:
    max_rows: int = 10_000
    download_max_rows: int = 1_000_000
    time_limit_s: float = 30.0
    engine: EngineLimits = field(default_factory=EngineLimits)

    @classmethod
    def from_settings(cls, settings: Settings) -> SqlLimits:
        return cls(
            max_rows=settings.sql_max_rows,
            download_max_rows=settings.sql_download_max_rows,
            time_limit_s=settings.sql_time_limit_s,
            engine=EngineLimits(
                threads=settings.sql_threads,
                memory_limit=settings.sql_memory_limit,
                max_temp_size=settings.sql_max_temp_size,
            ),
        )


@dataclass(frozen=True)
class SqlResult:
    frame: pd.DataFrame
    truncated: bool
    limit: int
    elapsed_s: float
    statement: str

    @property
    def rows(self) -> int:
        return len(self.frame)


@dataclass(frozen=True)
class Export:
    rows: int
    truncated: bool
    limit: int | None
    elapsed_s: float


class SqlWorkbench:
    """Runs analysts' SQL on the snapshot published now; `teacher_id` narrows it to that teacher's rows."""

    def __init__(
        self, warehouse_path: Path, limits: SqlLimits, *, teacher_id: int | None = None, user_id: int | None = None
    ) -> None:
        self.layout = WarehouseLayout(Path(warehouse_path))
        self.limits = limits
        self.teacher_id = teacher_id
        self.user_id = user_id  # who runs the queries, for the log (None: the command line)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, teacher_id: int | None = None, user_id: int | None = None
    ) -> SqlWorkbench:
        limits = SqlLimits.from_settings(settings)
        return cls(settings.warehouse_path, limits, teacher_id=teacher_id, user_id=user_id)

    @property
    def catalogue(self) -> tuple[Entry, ...]:
        """The documented tables and views this workbench can read (a teacher's copy has fewer)."""
        if self.teacher_id is None:
            return ENTRIES
        return tuple(e for e in ENTRIES if e.kind == "view" or e.name in TEACHER_TABLES)

    def run(self, sql: str) -> SqlResult:
        """At most `max_rows` rows of the query's result, as a DataFrame, and whether there were more."""
        batches: list[pa.RecordBatch] = []
        schema, done = self._stream(sql, self.limits.max_rows, batches.append)
        frame = _numbers(pa.Table.from_batches(batches, schema=schema)).to_pandas()
        return SqlResult(frame, done.truncated, self.limits.max_rows, done.elapsed_s, sql)

    def download(self, sql: str, fmt: str) -> tuple[bytes, Export]:
        """The result as a file in memory, cut at `download_max_rows`."""
        buffer = io.BytesIO()
        done = self.export(sql, fmt, buffer, max_rows=self.limits.download_max_rows)
        return buffer.getvalue(), done

    def export(self, sql: str, fmt: str, out: BinaryIO, *, max_rows: int | None = None) -> Export:
        """Stream the result to `out` as csv, parquet or json (one object per line); `max_rows=None`: all rows."""
        if fmt not in FORMATS:
            raise QueryFailed(f"unknown format {fmt!r}: choose from {', '.join(FORMATS)}")
        writer: _Writer | None = None

        def write(batch: pa.RecordBatch) -> None:
            nonlocal writer
            if writer is None:
                writer = _Writer(fmt, out, batch.schema)
            writer.write(batch)

        schema, done = self._stream(sql, max_rows, write)
        if writer is None:  # no rows: still a file with the columns
            writer = _Writer(fmt, out, schema)
        writer.close()
        return done

    def _stream(
        self, sql: str, max_rows: int | None, consume: Callable[[pa.RecordBatch], None]
    ) -> tuple[pa.Schema, Export]:
        try:
            return self._execute(sql, max_rows, consume)
        except (QueryRefused, QueryFailed, QueryTimedOut) as exc:
            # Who tried what the guards stopped is worth an audit line; the message names no secret.
            log.info("warehouse.sql_stopped", user_id=self.user_id, error=type(exc).__name__, reason=exc.message[:300])
            raise

    def _execute(
        self, sql: str, max_rows: int | None, consume: Callable[[pa.RecordBatch], None]
    ) -> tuple[pa.Schema, Export]:
        started = time.perf_counter()
        with self._instance(sql) as con:
            statement = statement_to_run(con, sql)
            expired = threading.Event()

            def stop() -> None:
                expired.set()
                con.interrupt()

            timer = threading.Timer(self.limits.time_limit_s, stop)
            timer.daemon = True
            timer.start()
            try:
                reader = con.sql(statement).to_arrow_reader(BATCH_ROWS)
                try:
                    rows, truncated = _read(reader, max_rows, consume)
                    schema = reader.schema
                finally:
                    reader.close()
            except duckdb.InterruptException:
                raise self._timed_out() if expired.is_set() else QueryFailed("the query was interrupted") from None
            except duckdb.Error as exc:
                raise translate(exc, self.limits.engine) from None
            except (pa.ArrowNotImplementedError, pa.ArrowInvalid) as exc:
                # The writer refuses a type its format has no room for (a list or struct in CSV: ArrowInvalid).
                raise QueryFailed(f"this format cannot hold the result's column types ({exc})") from None
            finally:
                timer.cancel()
        done = Export(rows, truncated, max_rows, round(time.perf_counter() - started, 4))
        log.info("warehouse.sql", rows=rows, truncated=truncated, seconds=done.elapsed_s, teacher_id=self.teacher_id)
        return schema, done

    def _timed_out(self) -> QueryTimedOut:
        limit = self.limits.time_limit_s
        return QueryTimedOut(
            f"The query ran past the workbench's time limit ({limit:g} s, LECTERN_SQL_TIME_LIMIT_S) and was "
            "stopped. Narrow it (a WHERE on the day, a rollup or v_* view instead of mux_views) and run it again."
        )

    @contextmanager
    def _instance(self, sql: str) -> Iterator[duckdb.DuckDBPyConnection]:
        snapshot = self.layout.published()
        if snapshot is None:
            raise WarehouseNotReady(f"no warehouse published at {self.layout.pointer}; run `lectern sync --once`")
        spill_root = self.layout.root / "sql-spill"
        spill_root.mkdir(parents=True, exist_ok=True)
        spill = Path(tempfile.mkdtemp(prefix="query-", dir=spill_root))
        try:
            if self.teacher_id is None:
                con = open_snapshot(snapshot, self.limits.engine, spill)
            else:
                con = open_teacher_copy(snapshot, self.teacher_id, self.limits.engine, spill, sql)
            try:
                yield con
            finally:
                con.close()
        finally:
            shutil.rmtree(spill, ignore_errors=True)


def _numbers(table: pa.Table) -> pa.Table:
    """DECIMAL columns (DuckDB's sum() of integers is HUGEINT, which reaches Arrow as DECIMAL(38, 0)) as int64
    when whole and in range, else float64: pandas would hold them as Python objects, which tables sort as text
    and charts cannot plot. Downloads keep the exact type."""
    for i, column in enumerate(table.schema):
        if pa.types.is_decimal(column.type):
            data = table.column(i)
            try:
                converted = data.cast(pa.int64()) if column.type.scale == 0 else data.cast(pa.float64())
            except pa.ArrowInvalid:
                converted = data.cast(pa.float64(), safe=False)
            table = table.set_column(i, column.name, converted)
    return table


def _read(
    reader: pa.RecordBatchReader, max_rows: int | None, consume: Callable[[pa.RecordBatch], None]
) -> tuple[int, bool]:
    """Hand over batches until `max_rows`; a row beyond it means the result was cut."""
    rows = 0
    for batch in reader:
        if max_rows is not None and rows + batch.num_rows > max_rows:
            keep = max_rows - rows
            if keep:
                consume(batch.slice(0, keep))
                rows += keep
            return rows, True
        consume(batch)
        rows += batch.num_rows
    return rows, False


def _json_value(value: object) -> str:
    """Dates and times as ISO 8601, anything else JSON lacks (decimals, UUIDs, bytes) as text."""
    iso = getattr(value, "isoformat", None)
    return str(iso()) if callable(iso) else str(value)


class _Writer:
    """One output file, written batch by batch."""

    def __init__(self, fmt: str, out: BinaryIO, schema: pa.Schema) -> None:
        self.fmt, self.out = fmt, out
        self._csv = pa_csv.CSVWriter(out, schema) if fmt == "csv" else None
        self._parquet = pq.ParquetWriter(out, schema) if fmt == "parquet" else None

    def write(self, batch: pa.RecordBatch) -> None:
        if self._csv is not None:
            self._csv.write_batch(batch)
        elif self._parquet is not None:
            self._parquet.write_batch(batch)
        else:
            lines = (
                json.dumps(row, default=_json_value, ensure_ascii=False, separators=(",", ":"))
                for row in batch.to_pylist()
            )
            self.out.write("".join(f"{line}\n" for line in lines).encode())

    def close(self) -> None:
        if self._csv is not None:
            self._csv.close()
        if self._parquet is not None:
            self._parquet.close()

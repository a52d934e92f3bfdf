"""`sync_state`: one row per job (watermark, last run, outcome), always written in the job's own transaction.

Statuses: `ok` (the run finished), `in_progress` (a run committed some windows and is still going — or
was killed; the next run resumes from the watermark), `error` (the run failed; `error` says why).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

# (job, done, total, rows so far): jobs report progress in their own units (windows, pages, tables).
Progress = Callable[[str, int, int, int], None]


@dataclass(frozen=True)
class SyncState:
    job: str
    watermark: datetime | None
    last_run_at: datetime
    last_success_at: datetime | None
    rows: int
    status: str
    error: str | None
    duration_s: float | None


@dataclass
class JobResult:
    job: str
    status: str = "ok"
    rows: int = 0  # rows written (fetched and upserted, or snapshotted)
    new_rows: int = 0  # rows that did not exist before (upserts that replaced a row count 0)
    watermark: datetime | None = None
    duration_s: float = 0.0
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def utcnow() -> datetime:
    return datetime.now(UTC)


def read_state(con: duckdb.DuckDBPyConnection, job: str) -> SyncState | None:
    rows = con.execute(
        "SELECT job, watermark, last_run_at, last_success_at, rows, status, error, duration_s "
        "FROM sync_state WHERE job = ?",
        [job],
    ).fetchall()
    return SyncState(*rows[0]) if rows else None


def write_state(
    con: duckdb.DuckDBPyConnection,
    job: str,
    *,
    now: datetime,
    status: str,
    rows: int,
    watermark: datetime | None = None,
    error: str | None = None,
    duration_s: float | None = None,
) -> None:
    """Upsert the job's row; the watermark never moves backwards and survives a failed run."""
    previous = read_state(con, job)
    if previous is not None and previous.watermark is not None:
        watermark = previous.watermark if watermark is None else max(watermark, previous.watermark)
    last_success = now if status == "ok" else (previous.last_success_at if previous else None)
    con.execute(
        "INSERT OR REPLACE INTO sync_state VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [job, watermark, now, last_success, rows, status, error, duration_s],
    )


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def floor_to(moment: datetime, step_s: int) -> datetime:
    """Round down to a multiple of `step_s` seconds since the epoch (UTC)."""
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % step_s, UTC)


def ceil_to(moment: datetime, step_s: int) -> datetime:
    floored = floor_to(moment, step_s)
    return floored if floored == moment else floored + timedelta(seconds=step_s)


def windows(start: datetime, end: datetime, step_s: int) -> list[tuple[datetime, datetime]]:
    """[start, end) cut at multiples of `step_s` (so windows line up with Mux's hour/day rounding)."""
    out: list[tuple[datetime, datetime]] = []
    cursor = start
    while cursor < end:
        edge = min(floor_to(cursor, step_s) + timedelta(seconds=step_s), end)
        out.append((cursor, edge))
        cursor = edge
    return out

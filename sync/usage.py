"""The `delivery_usage` job: Mux Video delivery usage per asset and UTC day into `delivery_usage`.

Mux aggregates delivery hourly and only answers for hour-aligned timeframes inside the last 90 days
that end at least 12 hours ago. The job asks for one whole UTC day at a time; the last day, still
partial (it ends 12 h before now), is asked again on the next run with a later end and replaces the
rows it overlaps, so a day's figures only grow to their final value. The first day is the first whole
day inside the 90 days. Days are committed a week at a time, with the watermark.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import duckdb

from sync.sources import UsageSource
from sync.state import JobResult, Progress, ceil_to, floor_to, read_state, transaction, windows, write_state
from warehouse.loaders import append, scalar, usage_to_arrow

JOB = "delivery_usage"
HOUR = 3600
DAY = 86_400
LAG = timedelta(hours=12)
RETENTION = timedelta(days=90)
# Days fetched per transaction: each day is its own request, the commit is shared (DuckDB commits fsync).
DAYS_PER_COMMIT = 7


def allowed_window(now: datetime) -> tuple[datetime, datetime]:
    """Mux's answerable range: hour-aligned, within 90 days, ending >= 12 h before `now`."""
    return ceil_to(now - RETENTION, HOUR) + timedelta(hours=1), floor_to(now - LAG, HOUR)


def run_usage(
    con: duckdb.DuckDBPyConnection,
    source: UsageSource,
    *,
    now: datetime,
    backfill_days: int = 90,
    since: datetime | None = None,
    progress: Progress | None = None,
) -> JobResult:
    started = time.perf_counter()
    lo, hi = allowed_window(now)
    state = read_state(con, JOB)
    if since is not None:
        start = since
    elif state is not None and state.watermark is not None:
        # Start of the day the last run ended in: that day was partial, ask for it again.
        start = floor_to(state.watermark, DAY)
    else:
        start = hi - timedelta(days=backfill_days)
    # Whole UTC days only at the start: a day clipped by the 90-day edge would, when asked again
    # later with a later edge, replace hours Mux no longer serves.
    start = max(floor_to(start, DAY), ceil_to(lo, DAY))
    spans = windows(start, hi, DAY)
    result = JobResult(JOB, details={"start": start, "end": hi, "windows": len(spans)})
    if progress:
        progress(JOB, 0, len(spans), 0)
    for first in range(0, len(spans), DAYS_PER_COMMIT):
        group = spans[first : first + DAYS_PER_COMMIT]
        tables = [
            usage_to_arrow(
                [row for page in source.iter_usage_pages(a, b) for row in page],
                window_start=a,
                window_end=b,
                loaded_at=now,
            )
            for a, b in group
        ]
        last = first + len(group) == len(spans)
        with transaction(con):
            for (window_start, window_end), table in zip(group, tables, strict=True):
                # Replace whatever an earlier run stored for any part of this day.
                deleted = scalar(
                    con,
                    "DELETE FROM delivery_usage WHERE window_start < ? AND window_end > ?",
                    [window_end, window_start],
                )
                result.rows += append(con, "delivery_usage", table)
                result.new_rows += table.num_rows - int(deleted or 0)
            write_state(
                con,
                JOB,
                now=now,
                status="ok" if last else "in_progress",
                rows=result.rows,
                watermark=group[-1][1],
                duration_s=time.perf_counter() - started,
            )
        if progress:
            progress(JOB, first + len(group), len(spans), result.rows)
    if not spans:
        with transaction(con):
            write_state(con, JOB, now=now, status="ok", rows=0, duration_s=time.perf_counter() - started)
    final = read_state(con, JOB)
    result.watermark = final.watermark if final else None
    result.duration_s = time.perf_counter() - started
    return result

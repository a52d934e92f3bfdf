"""The `views` job: Mux Data video views into `mux_views`, incrementally, with an overlap window.

The time range [watermark - overlap, now) is cut into windows (a week by default, aligned to UTC
midnights so Mux's timeframe rounding never splits one; an incremental run is a single window). Each
window is one DuckDB transaction: its views (streamed page by page, loaded in batches), the rollups of
the days it touched, and the watermark = the window's end. A crash loses at most the window in flight;
the next run starts again from the watermark minus the overlap, and because loads upsert by view id,
reloading a view changes nothing. The overlap catches views that Mux reports late (a view appears once
it has ended, so a long view lands after shorter ones that ended later).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import duckdb
import pyarrow as pa

from sync.sources import ViewsSource
from sync.state import JobResult, Progress, read_state, transaction, windows, write_state
from warehouse.loaders import affected_days, upsert, views_to_arrow
from warehouse.rollups import refresh_rollups

JOB = "views"


@dataclass(frozen=True)
class ViewsConfig:
    overlap_s: int = 6 * 3600
    window_s: int = 7 * 86_400
    batch_rows: int = 50_000
    backfill_days: int = 90


def plan_range(
    watermark: datetime | None, *, now: datetime, cfg: ViewsConfig, since: datetime | None = None
) -> tuple[datetime, datetime]:
    end = now.replace(microsecond=0)
    if since is not None:
        start = since
    elif watermark is not None:
        start = watermark - timedelta(seconds=cfg.overlap_s)
    else:
        start = end - timedelta(days=cfg.backfill_days)
    return min(start, end), end


def run_views(
    con: duckdb.DuckDBPyConnection,
    source: ViewsSource,
    *,
    now: datetime,
    cfg: ViewsConfig,
    since: datetime | None = None,
    progress: Progress | None = None,
) -> JobResult:
    started = time.perf_counter()
    state = read_state(con, JOB)
    start, end = plan_range(state.watermark if state else None, now=now, cfg=cfg, since=since)
    spans = windows(start, end, cfg.window_s)
    result = JobResult(JOB, details={"start": start, "end": end, "windows": len(spans)})
    if progress:
        progress(JOB, 0, len(spans), 0)
    for i, (window_start, window_end) in enumerate(spans):
        last = i == len(spans) - 1
        with transaction(con):
            rows, new = load_window(con, source, window_start, window_end, now=now, batch_rows=cfg.batch_rows)
            result.rows += rows
            result.new_rows += new
            write_state(
                con,
                JOB,
                now=now,
                status="ok" if last else "in_progress",
                rows=result.rows,
                watermark=window_end,
                duration_s=time.perf_counter() - started,
            )
        if progress:
            progress(JOB, i + 1, len(spans), result.rows)
    if not spans:
        with transaction(con):
            write_state(con, JOB, now=now, status="ok", rows=0, duration_s=time.perf_counter() - started)
    final = read_state(con, JOB)
    result.watermark = final.watermark if final else None
    result.duration_s = time.perf_counter() - started
    return result


def load_window(
    con: duckdb.DuckDBPyConnection,
    source: ViewsSource,
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    batch_rows: int,
) -> tuple[int, int]:
    """Stream one window's pages into mux_views in batches (inside the caller's transaction)."""
    buffered: list[pa.Table] = []
    pending = rows = new = 0
    days: tuple[date, date] | None = None

    def flush() -> None:
        nonlocal pending, rows, new, days
        if not buffered:
            return
        batch = pa.concat_tables(buffered)
        buffered.clear()
        pending = 0
        touched = affected_days(con, batch)
        if touched is not None:
            days = touched if days is None else (min(days[0], touched[0]), max(days[1], touched[1]))
        new += upsert(con, "mux_views", batch, ["view_id"])
        rows += batch.num_rows

    # Views already stored for this window: a source that pays per view need not fetch them again.
    known = {
        row[0]
        for row in con.execute(
            "SELECT view_id FROM mux_views WHERE view_end >= ? AND view_end < ?", [start, end]
        ).fetchall()
    }
    for page in source.iter_view_pages(start, end, known=known):
        table = views_to_arrow(page, loaded_at=now)
        buffered.append(table)
        pending += table.num_rows
        if pending >= batch_rows:
            flush()
    flush()
    if days is not None:
        refresh_rollups(con, days)
    return rows, new

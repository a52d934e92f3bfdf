"""The `views` job: Mux Data video views into `mux_views`, incrementally, with an overlap window.

Two sources feed it. Completed UTC days that Mux Data exports as daily files come from those files
(`sync.view_exports`: one download per day, loaded by DuckDB's CSV reader) when the account has them;
the rest of the range — today, days after the newest export, days older than Mux keeps exports, or every
day for an account without exports — comes from list-video-views plus get-video-view per new view.

The time range [watermark - overlap, now) minus the exported days is cut into windows (a week by
default, aligned to UTC midnights so Mux's timeframe rounding never splits one; an incremental run is a
single window). Windows and export days are processed in time order, each in one DuckDB transaction: its
views (upserted by view id), the rollups of the days it touched, the export day's record, and the
watermark = the segment's end. A crash loses at most the segment in flight; the next run starts again
from the watermark minus the overlap, and because loads upsert by view id, reloading a view changes
nothing. The overlap catches views that Mux reports late (a view appears once it has ended, so a long
view lands after shorter ones that ended later).

Every path keys a view on Mux's `view_id` (a UUID) and keeps Mux's opaque `id` (the list's, the one
get-video-view takes) in `mux_view_id`. Days that schema step 7 listed in `sync_view_rereads` (views
stored earlier under the opaque id) are read again first: an exported day from its file (downloaded in
full), any other day by list+get in a segment of its own that leaves the watermark alone; the re-read
views replace the old rows (warehouse/legacy_views.py) and the day leaves the list in the same
transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

import duckdb
import pyarrow as pa

from core.logging import get_logger
from sync.sources import ViewsSource
from sync.state import JobResult, Progress, read_state, transaction, windows, write_state
from sync.view_exports import ExportDay, ExportFetcher, Fetched, export_fetcher, plan_exports, record_loaded
from warehouse import legacy_views
from warehouse.loaders import affected_days, upsert, views_to_arrow
from warehouse.rollups import refresh_rollups
from warehouse.view_exports import MissingColumns, load_export_file

JOB = "views"
log = get_logger(__name__)


@dataclass(frozen=True)
class ViewsConfig:
    overlap_s: int = 6 * 3600
    window_s: int = 7 * 86_400
    batch_rows: int = 200_000
    backfill_days: int = 90


@dataclass(frozen=True)
class Segment:
    """One transaction's worth: a list+get window, or an export day (`export` set)."""

    start: datetime
    end: datetime
    export: ExportDay | None = None
    reread: bool = False  # a day of legacy rows read again (schema v7); it leaves the watermark alone


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


def plan_segments(start: datetime, end: datetime, exports: list[ExportDay], window_s: int) -> list[Segment]:
    """Export days (all of them, also those before `start`) and list+get windows over the rest of [start, end)."""
    segments: list[Segment] = []
    cursor = start
    for export in sorted(exports, key=lambda e: e.day):
        if export.start > cursor and cursor < end:
            segments += [Segment(a, b) for a, b in windows(cursor, min(export.start, end), window_s)]
        segments.append(Segment(export.start, export.end, export))
        cursor = max(cursor, export.end)
    if cursor < end:
        segments += [Segment(a, b) for a, b in windows(cursor, end, window_s)]
    return segments


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
    rereads = set(legacy_views.reread_days(con))
    # A re-read day's stored rows are not its file's: download the file in full, whatever was loaded before.
    exports = [replace(e, loaded=None) if e.day in rereads else e for e in plan_exports(con, source, now=now)]
    exported = {e.day for e in exports}
    segments = [reread_segment(d, end) for d in sorted(rereads - exported)] + plan_segments(
        start, end, exports, cfg.window_s
    )
    result = JobResult(
        JOB,
        details={
            "start": start,
            "end": end,
            "windows": sum(1 for s in segments if s.export is None),
            "export_days": len(exports),
            "exports_loaded": 0,
            "exports_unchanged": 0,
            "reread_days": len(rereads),
            "legacy_matched_in_files": 0,
        },
    )
    if progress:
        progress(JOB, 0, len(segments), 0)

    def commit_state(watermark: datetime) -> None:
        write_state(
            con,
            JOB,
            now=now,
            status="in_progress",
            rows=result.rows,
            watermark=watermark,
            duration_s=time.perf_counter() - started,
        )

    with _fetcher(source, con, exports) as fetcher:
        for i, segment in enumerate(segments):
            if fetcher is not None:
                upcoming = next((s.export for s in segments[i + 1 :] if s.export is not None), None)
                if upcoming is not None:
                    fetcher.prefetch(upcoming)  # downloads while this segment loads
            if segment.export is not None and fetcher is not None:
                reread = segment.export.day in rereads
                fetched = fetcher.get(segment.export)
                _export_segment(con, source, fetched, start, now, cfg, result, commit_state, reread=reread)
            else:
                with transaction(con):
                    rows, new = load_window(con, source, segment.start, segment.end, now=now, batch_rows=cfg.batch_rows)
                    result.rows += rows
                    result.new_rows += new
                    if segment.reread:
                        legacy_views.finish(con, segment.start.date())
                    else:
                        commit_state(segment.end)
            if progress:
                progress(JOB, i + 1, len(segments), result.rows)
    with transaction(con):
        write_state(
            con, JOB, now=now, status="ok", rows=result.rows, watermark=end, duration_s=time.perf_counter() - started
        )
    final = read_state(con, JOB)
    result.watermark = final.watermark if final else None
    result.duration_s = time.perf_counter() - started
    return result


def reread_segment(day: date, end: datetime) -> Segment:
    """The whole UTC day, up to the run's end (today's views that have not ended are not Mux's yet)."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return Segment(start, max(start, min(start + timedelta(days=1), end)), reread=True)


def _fetcher(
    source: ViewsSource, con: duckdb.DuckDBPyConnection, exports: list[ExportDay]
) -> AbstractContextManager[ExportFetcher | None]:
    return export_fetcher(source, con) if exports else nullcontext()


def _export_segment(
    con: duckdb.DuckDBPyConnection,
    source: ViewsSource,
    fetched: Fetched,
    start: datetime,
    now: datetime,
    cfg: ViewsConfig,
    result: JobResult,
    commit_state: Callable[[datetime], None],
    *,
    reread: bool = False,
) -> None:
    export = fetched.export
    if fetched.unchanged:
        result.details["exports_unchanged"] += 1
        return
    if fetched.path is not None:
        try:
            with transaction(con):
                loaded = load_export_file(con, fetched.path, loaded_at=now)
                days = loaded.days
                new_rows = loaded.new_rows
                if reread:
                    # The file has no opaque ids: legacy rows are matched by content, and the few left
                    # unmatched (if any) by list+get, which knows both ids.
                    replaced, touched = legacy_views.drop_replaced_by_content(con, export.day)
                    days, new_rows = legacy_views.merge(days, touched), new_rows - replaced
                    result.details["legacy_matched_in_files"] += replaced
                    if legacy_views.remaining(con, export.day):
                        _, new = load_window(con, source, export.start, export.end, now=now, batch_rows=cfg.batch_rows)
                        new_rows += new
                    legacy_views.finish(con, export.day)
                if days is not None:
                    refresh_rollups(con, days)
                record_loaded(con, fetched, rows=loaded.rows, now=now)
                result.rows += loaded.rows
                result.new_rows += new_rows
                result.details["exports_loaded"] += 1
                commit_state(export.end)
            return
        except MissingColumns as exc:
            fetched.error = str(exc)
        finally:
            fetched.path.unlink(missing_ok=True)
    # The file could not be used: this day comes from list+get like a day without an export.
    log.warning("views.export_unusable", day=str(export.day), error=fetched.error, fallback="list+get")
    if export.end <= start and not reread:
        return  # before this run's range: an earlier run already read it by list+get
    with transaction(con):
        window_start = export.start if reread else max(export.start, start)
        rows, new = load_window(con, source, window_start, export.end, now=now, batch_rows=cfg.batch_rows)
        result.rows += rows
        result.new_rows += new
        if reread:
            legacy_views.finish(con, export.day)
        commit_state(export.end)


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
        if legacy:
            replaced, legacy_days = _drop_legacy(con, batch)
            touched = legacy_views.merge(touched, legacy_days)
            new -= replaced  # a re-read view replaces its legacy row: not a new view
        if touched is not None:
            days = touched if days is None else (min(days[0], touched[0]), max(days[1], touched[1]))
        new += upsert(con, "mux_views", batch, ["view_id"])
        rows += batch.num_rows

    # Views already stored for this window, by the id the list gives (Mux's opaque `id`): a source that
    # pays per view need not fetch them again. Rows from export files that no list+get has seen have no
    # `id` yet; their view_id stands in (the list's id when Mux gives a view one id for both). Legacy rows
    # (keyed by the opaque id before v7) are left out so that their views are fetched and re-keyed.
    known = {
        row[0]
        for row in con.execute(
            """SELECT coalesce(mux_view_id, view_id) FROM mux_views
            WHERE view_end >= ? AND view_end < ? AND legacy_key IS NOT TRUE""",
            [start, end],
        ).fetchall()
    }
    legacy = bool(
        con.execute(
            "SELECT count(*) FROM mux_views WHERE legacy_key AND view_end >= ? AND view_end < ?", [start, end]
        ).fetchall()[0][0]
    )
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


def _drop_legacy(con: duckdb.DuckDBPyConnection, batch: pa.Table) -> tuple[int, tuple[date, date] | None]:
    name = "_legacy_batch"
    con.register(name, batch.select(["mux_view_id"]))
    try:
        return legacy_views.drop_replaced_by_id(con, name)
    finally:
        con.unregister(name)

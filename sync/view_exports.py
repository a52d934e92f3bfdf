"""The views job's bulk path: Mux Data's daily view exports, one gzipped CSV file per completed UTC day.

Which days: every day Mux lists (it keeps a file seven days after generating it) that is over by the
job's clock and whose newest CSV file is of a version that carries every column the warehouse needs
(`warehouse.view_exports.MIN_VERSION`). A listed day is loaded when no run loaded it yet, when Mux lists
it in a later version than the one loaded, or when the file changed: Mux documents no "published again"
signal in the listing, so a day already loaded is downloaded conditionally on the ETag recorded for it
(`If-None-Match`), and an unchanged file answers 304 for the price of one small request. What was loaded
(version, ETag, rows) is kept in `sync_view_exports`, committed with the rows themselves.

Files are streamed to a temporary file next to the warehouse (never held in memory, never in a RAM-backed
/tmp), decompressed on the way, then loaded by `warehouse.view_exports`. While one day loads, the next
one downloads in a background thread.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import duckdb

from core.errors import ErrorKind, MuxError, PermanentError, TransientError
from core.logging import get_logger
from sync.sources import ViewExportsSource, ViewExportsUnavailable, ViewsSource
from warehouse.view_exports import MIN_VERSION

log = get_logger(__name__)
_PREFIX = "view-exports-"


@dataclass(frozen=True)
class LoadedExport:
    export_date: date
    version: int | None
    etag: str | None
    rows: int


@dataclass(frozen=True)
class ExportDay:
    """A listed day to check or load: the newest CSV file Mux has for it, and what an earlier run loaded."""

    day: date
    version: int | None
    url: str
    loaded: LoadedExport | None

    @property
    def start(self) -> datetime:
        return datetime.combine(self.day, time(), UTC)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=1)

    @property
    def if_none_match(self) -> str | None:
        """Download conditionally only when the loaded copy is of this version: a new version always reloads."""
        if self.loaded is None or self.loaded.etag is None:
            return None
        return self.loaded.etag if (self.loaded.version or 0) >= (self.version or 0) else None


@dataclass
class Fetched:
    """A downloaded export: `path` to load, or `unchanged` (304), or `error` (load the day by list+get)."""

    export: ExportDay
    path: Path | None = None
    etag: str | None = None
    bytes: int = 0
    unchanged: bool = False
    error: str | None = None


def read_loaded(con: duckdb.DuckDBPyConnection) -> dict[date, LoadedExport]:
    rows = con.execute("SELECT export_date, version, etag, rows FROM sync_view_exports").fetchall()
    return {r[0]: LoadedExport(*r) for r in rows}


def record_loaded(con: duckdb.DuckDBPyConnection, fetched: Fetched, *, rows: int, now: datetime) -> None:
    con.execute(
        "INSERT OR REPLACE INTO sync_view_exports VALUES (?, ?, ?, ?, ?, ?)",
        [fetched.export.day, fetched.export.version, fetched.etag, rows, fetched.bytes, now],
    )


def exports_of(source: ViewsSource) -> ViewExportsSource | None:
    if isinstance(source, ViewExportsSource) and source.view_exports_enabled:
        return source
    return None


def plan_exports(con: duckdb.DuckDBPyConnection, source: ViewsSource, *, now: datetime) -> list[ExportDay]:
    """The listed days to check or load, oldest first ([] when the account or the source has no exports)."""
    exports = exports_of(source)
    if exports is None:
        return []
    try:
        listed = exports.list_view_exports()
    except ViewExportsUnavailable as exc:
        log.info("views.exports_unavailable", reason=str(exc), fallback="list+get for every day")
        return []
    loaded = read_loaded(con)
    days: dict[date, ExportDay] = {}
    too_old: list[str] = []
    for item in listed:
        newest = item.newest_csv()
        # Only days that are over by our own clock: Mux's clock may be ahead of a job run for an earlier "now".
        if newest is None or datetime.combine(item.export_date, time(), UTC) + timedelta(days=1) > now:
            continue
        if (newest.version or 0) < MIN_VERSION:
            too_old.append(f"{item.export_date}: v{newest.version}")
            continue
        known = days.get(item.export_date)
        if known is None or (known.version or 0) < (newest.version or 0):
            days[item.export_date] = ExportDay(
                item.export_date, newest.version, newest.url, loaded.get(item.export_date)
            )
    if too_old:
        log.warning(
            "views.exports_version_too_old",
            days=", ".join(too_old),
            min_version=MIN_VERSION,
            fallback="list+get for those days (ask Mux support to raise the export version)",
        )
    return [days[d] for d in sorted(days)]


def workdir_for(con: duckdb.DuckDBPyConnection) -> Path | None:
    """The warehouse file's directory: the same disk as the data, and not a RAM-backed /tmp."""
    rows = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()
    path = rows[0][0] if rows else None
    return Path(path).parent if path else None


class RefusedUrl(PermanentError):
    """The file's URL was refused for good (expired, withdrawn): not worth retrying as it is."""

    kind = ErrorKind.UPSTREAM


class ExportFetcher:
    """Downloads export files into a private temporary directory, one ahead of the one being loaded."""

    def __init__(self, source: ViewsSource, directory: Path) -> None:
        exports = exports_of(source)
        if exports is None:
            raise ValueError("the source has no view exports")
        self.source = exports
        self.directory = directory
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="view-export-download")
        self.pending: dict[date, Future[Fetched]] = {}

    def prefetch(self, export: ExportDay) -> None:
        if export.day not in self.pending:
            self.pending[export.day] = self.pool.submit(self._download, export)

    def get(self, export: ExportDay) -> Fetched:
        self.prefetch(export)
        return self.pending.pop(export.day).result()

    def _download(self, export: ExportDay) -> Fetched:
        dest = self.directory / f"{export.day:%Y-%m-%d}.csv"
        try:
            return self._fetch(export, export.url, dest)
        except RefusedUrl as refused:
            # Signed URLs are short-lived and a long backfill reaches the newest days late: list again once
            # for a fresh URL. Refused again (or the file was withdrawn): this run reads the day by list+get.
            fresh = self._fresh_url(export)
            if fresh is None:
                return Fetched(export, error=str(refused))
        try:
            return self._fetch(export, fresh, dest)
        except RefusedUrl as refused:
            return Fetched(export, error=str(refused))

    def _fetch(self, export: ExportDay, url: str, dest: Path) -> Fetched:
        try:
            done = self.source.download_view_export(url, dest, if_none_match=export.if_none_match)
        except TransientError:
            raise  # retries are exhausted: the run fails and the next one starts from its watermark
        except MuxError as exc:
            dest.unlink(missing_ok=True)
            raise RefusedUrl(exc.message) from exc
        if done.not_modified:
            return Fetched(export, unchanged=True, etag=done.etag)
        return Fetched(export, path=dest, etag=done.etag, bytes=done.bytes)

    def _fresh_url(self, export: ExportDay) -> str | None:
        try:
            listed = self.source.list_view_exports()
        except (MuxError, ViewExportsUnavailable):
            return None
        for item in listed:
            newest = item.newest_csv()
            if item.export_date == export.day and newest is not None and newest.version == export.version:
                return newest.url
        return None

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def export_fetcher(source: ViewsSource, con: duckdb.DuckDBPyConnection) -> Iterator[ExportFetcher]:
    parent = workdir_for(con)
    if parent is not None:
        # The writer lock makes this run the only writer: a directory left here is a killed run's.
        for stale in parent.glob(f"{_PREFIX}*"):
            shutil.rmtree(stale, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix=_PREFIX, dir=parent) as directory:
        fetcher = ExportFetcher(source, Path(directory))
        try:
            yield fetcher
        finally:
            fetcher.close()

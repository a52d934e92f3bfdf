"""Mux Data view export files -> `mux_views`: DuckDB's CSV reader straight into a typed staging table.

A Mux export file is one UTC day of full views, one CSV row per view, under Mux's *export* column names
(`browser`, `operating_system`, `country`, `error_type`, `rebuffer_count` ...), which differ from the Data
API's (`viewer_application_name` ...). Which columns a file has depends on its export version, and Mux
asks importers to go by header name, never by position, so the header is read first and each warehouse
column is taken from the first export column (of its candidates) the file has.

Typed columns must come out exactly as `loaders.views_to_arrow` makes them from get-video-view's JSON:
the same casts (integers sent as text round half-to-even like Arrow's cast, booleans accept the same
spellings, ids become integers only when they are all digits), timestamps read as UTC whatever the
connection's time zone, and `view_day` from the UTC date. One difference is unavoidable: CSV cannot tell
an empty string from a missing value, so an empty text field loads as NULL.

The file is never held in memory: DuckDB scans it in parallel into a temporary table, the rows are
upserted by view id (the last copy of a duplicated id wins, as in `loaders.upsert`), and the staging table
is dropped, all inside the caller's transaction.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

from core.errors import ErrorKind, PermanentError
from warehouse.loaders import VIEW_SCHEMA, affected_days, scalar, upsert_from

STAGE = "_view_export_stage"

# Warehouse column <- export column(s), first present wins (compare loaders.VIEW_FIELDS for the Data API).
EXPORT_FIELDS: dict[str, tuple[str, ...]] = {
    "view_id": ("view_id",),  # the UUID, as get-video-view's `view_id`
    "mux_view_id": (),  # the files have no opaque `id`: kept from the stored row when there is one
    "viewer_user_id": ("viewer_user_id",),
    "video_id": ("video_id",),
    "video_title": ("video_title",),
    "asset_id": ("asset_id",),
    "playback_id": ("playback_id",),
    "view_start": ("view_start",),
    "view_end": ("view_end",),
    "watch_time_ms": ("watch_time",),
    "playing_time_ms": ("view_playing_time", "view_total_content_playback_time"),
    "max_playhead_ms": ("view_max_playhead_position",),
    "video_duration_ms": ("video_duration", "player_source_duration"),
    # The files' `video_startup_time` is the view's `time_to_first_frame` (Mux's field table: "time from
    # play instruction to first frame", v2+); `view_content_startup_time` (v10+) as in the JSON path.
    "startup_time_ms": ("video_startup_time", "view_content_startup_time"),
    "player_startup_time_ms": ("player_startup_time",),
    "rebuffer_count": ("rebuffer_count", "buffering_count"),
    "rebuffer_duration_ms": ("rebuffer_duration", "buffering_duration"),
    "rebuffer_percentage": ("rebuffer_percentage",),
    # Exports have no `playback_failure` flag: Mux sets playback_failure_error_type_id exactly when one occurred.
    "playback_failure": ("playback_failure", "playback_failure_error_type_id"),
    "video_startup_failure": ("video_startup_failure",),
    "exit_before_video_start": ("exit_before_video_start",),
    "error_type_id": ("error_type", "error_type_id", "playback_failure_error_type_id"),
    "error_code": ("player_error_code",),
    "error_message": ("player_error_message",),
    "browser": ("browser", "viewer_application_name"),
    "os": ("operating_system", "viewer_os_family"),
    "device": ("viewer_device_category", "viewer_device_name"),
    "country": ("country", "country_code"),
    "player": ("player_name", "player_software"),
    "viewer_experience_score": ("viewer_experience_score",),
}
# Columns a file may lack without falling back to list+get: they load as NULL.
OPTIONAL = frozenset({"mux_view_id", "player_startup_time_ms"})
# The export version from which Mux's field table lists a source for every column above (version 9 added
# playback_failure_error_type_id; 7 video_startup_failure; 4 asset_id/playback_id; 3 playing time/playhead).
MIN_VERSION = 9

_DIGITS = r"^\d{1,18}$"  # the same pattern loaders.digits_to_int uses
_SQL_TYPE = {"mux_view_id": "VARCHAR", "player_startup_time_ms": "BIGINT"}


class MissingColumns(PermanentError):
    """The file lacks every source of some warehouse column (an older export version); `columns` names them."""

    kind = ErrorKind.INVALID

    def __init__(self, columns: list[str]) -> None:
        super().__init__(f"the export file has no column for {', '.join(columns)}")
        self.columns = columns


@dataclass(frozen=True)
class ExportLoad:
    rows: int  # rows in the file (after de-duplicating view ids)
    new_rows: int  # rows that were not in mux_views before
    days: tuple[date, date] | None  # view_day range touched (rollups to refresh)


def read_header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return next(csv.reader(handle), [])


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _typed(column: str, sources: list[str]) -> str:
    """SQL giving warehouse `column` from the first non-null of its export `sources` (VARCHAR columns)."""
    kind = VIEW_SCHEMA.field(column).type

    def one(source: str) -> str:
        c = _quote(source)
        if column == "playback_failure" and source == "playback_failure_error_type_id":
            return f"({c} IS NOT NULL)"
        if kind.equals(VIEW_SCHEMA.field("watch_time_ms").type):  # int64
            # Integers Mux writes as text, sometimes with a decimal part: the JSON path reads those as
            # float64 and rounds half to even (Arrow), where DuckDB's own text-to-BIGINT cast rounds half up.
            return f"round_even(TRY_CAST({c} AS DOUBLE), 0)::BIGINT"
        if kind.equals(VIEW_SCHEMA.field("rebuffer_percentage").type):  # float64
            return f"TRY_CAST({c} AS DOUBLE)"
        if kind.equals(VIEW_SCHEMA.field("playback_failure").type):  # bool, as loaders._bool reads text
            return f"CASE WHEN {c} IS NULL THEN NULL ELSE lower(trim({c})) IN ('true', '1', 'yes') END"
        if kind.equals(VIEW_SCHEMA.field("view_end").type):  # timestamp (the load runs with TimeZone = UTC)
            return f"TRY_CAST({c} AS TIMESTAMPTZ)"
        return c

    parts = [one(s) for s in sources]
    return (parts[0] if len(parts) == 1 else f"coalesce({', '.join(parts)})") + f" AS {column}"


def staging_sql(header: list[str]) -> str:
    """The SELECT that types a file with `header` into VIEW_SCHEMA's columns (raises MissingColumns)."""
    present = set(header)
    missing = [
        c for c, sources in EXPORT_FIELDS.items() if c not in OPTIONAL and not any(s in present for s in sources)
    ]
    if missing:
        raise MissingColumns(missing)
    typed = ",\n       ".join(
        _typed(c, found) if (found := [s for s in sources if s in present]) else f"NULL::{_SQL_TYPE[c]} AS {c}"
        for c, sources in EXPORT_FIELDS.items()
    )
    derived = {
        "user_id": f"CASE WHEN regexp_matches(viewer_user_id, '{_DIGITS}') THEN viewer_user_id::BIGINT END",
        "lesson_id": f"CASE WHEN regexp_matches(video_id, '{_DIGITS}') THEN video_id::BIGINT END",
        # The day a view counts for: when watching started (UTC), else when it ended (as views_to_arrow).
        "view_day": "timezone('UTC', coalesce(view_start, view_end))::DATE",
        "loaded_at": "$loaded_at::TIMESTAMPTZ",
    }
    outer = ", ".join(f"{derived[f.name]} AS {f.name}" if f.name in derived else f.name for f in VIEW_SCHEMA)
    # Only the listed columns are converted (DuckDB pushes the projection into the scan); the rest of a
    # wide Mux file is skipped. Everything is read as text so a surprising value is NULL, not a failed load.
    return (
        f"SELECT {outer} FROM (SELECT {typed}\n"
        "FROM read_csv($path, header = true, all_varchar = true, auto_detect = false, delim = ',', quote = '\"', "
        "escape = '\"', columns = $columns))"
    )


def load_export_file(con: duckdb.DuckDBPyConnection, path: Path, *, loaded_at: datetime) -> ExportLoad:
    """Upsert every view of a decompressed export file into mux_views (inside the caller's transaction).

    The caller refreshes the rollups for `days` in the same transaction.
    """
    header = read_header(path)
    sql = staging_sql(header)
    columns = {name: "VARCHAR" for name in header}
    zone = str(scalar(con, "SELECT current_setting('TimeZone')"))
    con.execute("SET TimeZone = 'UTC'")  # zone-less timestamps in the file are UTC (Mux: "all times in UTC")
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {STAGE} AS {sql}",
            {"path": str(path), "columns": columns, "loaded_at": loaded_at},
        )
    finally:
        restore = zone.replace("'", "''")
        con.execute(f"SET TimeZone = '{restore}'")
    try:
        rows = int(scalar(con, f"SELECT count(DISTINCT view_id) FROM {STAGE}") or 0)
        # Keep Mux's opaque id of views already stored by list+get (the file has none): the next list of
        # their window finds them among the known ids and spares their get-video-view calls.
        # Only stored rows in the file's view_end range can match (DuckDB skips the rest by zone maps), and a
        # day no list+get run touched (the usual backfill) has none: then the join is not run at all.
        span = f"v.view_end BETWEEN (SELECT min(view_end) FROM {STAGE}) AND (SELECT max(view_end) FROM {STAGE})"
        if scalar(con, f"SELECT count(*) FROM mux_views v WHERE v.mux_view_id IS NOT NULL AND {span}"):
            con.execute(
                f"""UPDATE {STAGE} SET mux_view_id = v.mux_view_id FROM mux_views v
                WHERE v.view_key = hash({STAGE}.view_id) AND v.view_id = {STAGE}.view_id
                  AND v.mux_view_id IS NOT NULL AND {span}"""
            )
        days = affected_days(con, STAGE)
        new_rows = upsert_from(con, "mux_views", STAGE, ["view_id"], order="rowid")
    finally:
        con.execute(f"DROP TABLE IF EXISTS {STAGE}")
    return ExportLoad(rows=rows, new_rows=new_rows, days=days)

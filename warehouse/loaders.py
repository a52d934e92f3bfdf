"""Mux JSON -> typed Arrow tables (pure functions), and batched upserts of those tables into DuckDB.

Transforms pivot a page of dicts into columns once and convert each column with Arrow's vectorised
casts; a per-value fallback only runs for a column whose values arrive in an unexpected shape (Mux sends
several numbers as strings, e.g. `view_playing_time`, `rebuffer_percentage`). Loading registers the Arrow
batch with DuckDB and runs set-based SQL: never a row-by-row insert.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from itertools import repeat
from typing import Any, cast

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Row = Mapping[str, Any]
TS = pa.timestamp("us", tz="UTC")
_DIGITS = r"^\d{1,18}$"

VIEW_SCHEMA = pa.schema(
    [
        ("view_id", pa.string()),
        ("mux_view_id", pa.string()),
        ("viewer_user_id", pa.string()),
        ("user_id", pa.int64()),
        ("video_id", pa.string()),
        ("lesson_id", pa.int64()),
        ("video_title", pa.string()),
        ("asset_id", pa.string()),
        ("playback_id", pa.string()),
        ("view_start", TS),
        ("view_end", TS),
        ("view_day", pa.date32()),
        ("watch_time_ms", pa.int64()),
        ("playing_time_ms", pa.int64()),
        ("max_playhead_ms", pa.int64()),
        ("video_duration_ms", pa.int64()),
        ("startup_time_ms", pa.int64()),
        ("player_startup_time_ms", pa.int64()),
        ("rebuffer_count", pa.int64()),
        ("rebuffer_duration_ms", pa.int64()),
        ("rebuffer_percentage", pa.float64()),
        ("playback_failure", pa.bool_()),
        ("video_startup_failure", pa.bool_()),
        ("exit_before_video_start", pa.bool_()),
        ("error_type_id", pa.int64()),
        ("error_code", pa.string()),
        ("error_message", pa.string()),
        ("browser", pa.string()),
        ("os", pa.string()),
        ("device", pa.string()),
        ("country", pa.string()),
        ("player", pa.string()),
        ("viewer_experience_score", pa.float64()),
        ("loaded_at", TS),
    ]
)

# Warehouse column <- Mux Data video-view field(s), first non-null wins (see README for units).
# A view has two ids (mux-python's VideoView): `view_id`, a UUID and the export files' key, keys the row on
# every path; `id`, the opaque id the list returns and get-video-view takes, is kept beside it.
VIEW_FIELDS: dict[str, tuple[str, ...]] = {
    "view_id": ("view_id",),
    "mux_view_id": ("id",),
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
    # A view has no `video_startup_time` (that is a metric id): time to first frame, else the content's.
    "startup_time_ms": ("time_to_first_frame", "view_content_startup_time"),
    "player_startup_time_ms": ("player_startup_time",),
    "rebuffer_count": ("buffering_count", "rebuffer_count"),
    "rebuffer_duration_ms": ("buffering_duration", "rebuffer_duration"),
    "rebuffer_percentage": ("rebuffer_percentage",),
    "playback_failure": ("playback_failure",),
    "video_startup_failure": ("video_startup_failure",),
    "exit_before_video_start": ("exit_before_video_start",),
    "error_type_id": ("error_type_id", "playback_failure_error_type_id"),
    "error_code": ("player_error_code",),
    "error_message": ("player_error_message",),
    "browser": ("viewer_application_name",),
    "os": ("viewer_os_family",),
    "device": ("viewer_device_category", "viewer_device_name"),
    "country": ("country_code",),
    "player": ("player_name", "player_software"),
    "viewer_experience_score": ("viewer_experience_score",),
}

USAGE_SCHEMA = pa.schema(
    [
        ("asset_id", pa.string()),
        ("window_start", TS),
        ("window_end", TS),
        ("usage_day", pa.date32()),
        ("passthrough", pa.string()),
        ("lesson_id", pa.int64()),
        ("delivered_seconds", pa.float64()),
        ("delivered_seconds_720p", pa.float64()),
        ("delivered_seconds_1080p", pa.float64()),
        ("delivered_seconds_1440p", pa.float64()),
        ("delivered_seconds_2160p", pa.float64()),
        ("delivered_seconds_audio_only", pa.float64()),
        ("asset_state", pa.string()),
        ("asset_duration_s", pa.float64()),
        ("asset_resolution_tier", pa.string()),
        ("asset_video_quality", pa.string()),
        ("asset_encoding_tier", pa.string()),
        ("asset_created_at", TS),
        ("asset_deleted_at", TS),
        ("loaded_at", TS),
    ]
)
_TIERS = ("720p", "1080p", "1440p", "2160p", "audio_only")

ASSET_SCHEMA = pa.schema(
    [
        ("asset_id", pa.string()),
        ("status", pa.string()),
        ("duration_s", pa.float64()),
        ("resolution_tier", pa.string()),
        ("max_resolution_tier", pa.string()),
        ("video_quality", pa.string()),
        ("encoding_tier", pa.string()),
        ("aspect_ratio", pa.string()),
        ("passthrough", pa.string()),
        ("lesson_id", pa.int64()),
        ("playback_id", pa.string()),
        ("playback_policy", pa.string()),
        ("upload_id", pa.string()),
        ("is_test", pa.bool_()),
        ("created_at", TS),
        ("deleted_at", TS),
        ("last_seen_at", TS),
    ]
)


# --- column conversion -------------------------------------------------------------------------------


def _column(rows: Sequence[Row], key: str) -> list[Any]:
    if rows and type(rows[0]) is dict:
        # The rows of one batch share a type, so the first one's decides (mypy cannot narrow a Sequence).
        dicts = cast(Sequence[dict[str, Any]], rows)
        return list(map(dict.get, dicts, repeat(key)))  # a C-level loop: the common case, ~3x faster
    return [r.get(key) for r in rows]


class _Columns:
    """Rows pivoted to one list per key, on first use: fallback keys are only read when needed."""

    def __init__(self, rows: Sequence[Row]) -> None:
        self.rows = rows
        self.lists: dict[str, list[Any]] = {}

    def __getitem__(self, key: str) -> list[Any]:
        if key not in self.lists:
            self.lists[key] = _column(self.rows, key)
        return self.lists[key]


def _coalesced(columns: _Columns, keys: tuple[str, ...], convert: Callable[[list[Any]], pa.Array]) -> pa.Array:
    """The first non-null of `keys`, per row (Mux renamed some fields; both spellings appear)."""
    array = convert(columns[keys[0]])
    for fallback in keys[1:]:
        if array.null_count == 0:
            break
        array = pc.coalesce(array, convert(columns[fallback]))
    return array


def _safe(values: list[Any], parse: Callable[[Any], Any]) -> list[Any]:
    out = []
    for v in values:
        try:
            out.append(None if v is None or v == "" else parse(v))
        except (TypeError, ValueError, OverflowError):
            out.append(None)
    return out


def to_string(values: list[Any]) -> pa.Array:
    try:
        return pa.array(values, type=pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def _numeric_text(values: list[Any]) -> pa.Array | None:
    """Numbers Mux sent as text ("590000", "0.0134"), as float64 — vectorised; None if some are not."""
    try:
        text = pa.array(values, type=pa.string())
        return pc.cast(pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None


def to_int(values: list[Any]) -> pa.Array:
    try:
        return pa.array(values, type=pa.int64())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    # Mux sends some integers as strings ("590000"), occasionally with a decimal part.
    numbers = _numeric_text(values)
    if numbers is not None:
        return pc.cast(pc.round(numbers), pa.int64())
    return pa.array(_safe(values, lambda v: round(float(v))), type=pa.int64())


def to_float(values: list[Any]) -> pa.Array:
    try:
        return pa.array(values, type=pa.float64())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    numbers = _numeric_text(values)
    return numbers if numbers is not None else pa.array(_safe(values, float), type=pa.float64())


def _bool(v: Any) -> bool:
    if isinstance(v, str):
        return v.strip().lower() in {"true", "1", "yes"}
    return bool(v)


def to_bool(values: list[Any]) -> pa.Array:
    try:
        return pa.array(values, type=pa.bool_())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array(_safe(values, _bool), type=pa.bool_())


def _timestamp(v: Any) -> datetime:
    if isinstance(v, datetime):
        return v if v.tzinfo else v.replace(tzinfo=UTC)
    if isinstance(v, int | float) or (isinstance(v, str) and re.fullmatch(r"\d+(\.\d+)?", v)):
        # Epoch seconds, as Mux's REST objects carry created_at.
        return datetime.fromtimestamp(float(v), UTC)
    parsed = datetime.fromisoformat(str(v))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def to_timestamp(values: list[Any]) -> pa.Array:
    try:
        return pc.cast(pa.array(values, type=pa.string()), TS)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array(_safe(values, _timestamp), type=TS)


def digits_to_int(strings: pa.Array) -> pa.Array:
    """Numeric ids ("42") as integers; anything else (opaque ids, empty) becomes null."""
    numeric = pc.fill_null(pc.match_substring_regex(strings, _DIGITS), False)
    return pc.cast(pc.if_else(numeric, strings, pa.scalar(None, pa.string())), pa.int64())


_CONVERT: dict[pa.DataType, Callable[[list[Any]], pa.Array]] = {
    pa.string(): to_string,
    pa.int64(): to_int,
    pa.float64(): to_float,
    pa.bool_(): to_bool,
    TS: to_timestamp,
}


# --- transforms ----------------------------------------------------------------------------------------


def views_to_arrow(rows: Sequence[Row], *, loaded_at: datetime) -> pa.Table:
    """Full Mux Data video views (get-video-view's shape) -> a table with exactly `VIEW_SCHEMA`.

    A row without `view_id` (an abridged list item whose view Mux no longer serves in full) has no key
    every path agrees on, and is left out.
    """
    ids = _column(rows, "view_id")
    if not all(ids):
        rows = [row for row, view_id in zip(rows, ids, strict=True) if view_id]
    n = len(rows)
    columns = _Columns(rows)
    cols: dict[str, pa.Array] = {
        name: _coalesced(columns, keys, _CONVERT[VIEW_SCHEMA.field(name).type]) for name, keys in VIEW_FIELDS.items()
    }
    cols["user_id"] = digits_to_int(cols["viewer_user_id"])
    cols["lesson_id"] = digits_to_int(cols["video_id"])
    # The day a view counts for: when watching started (UTC), else when it ended.
    cols["view_day"] = pc.cast(pc.coalesce(cols["view_start"], cols["view_end"]), pa.date32())
    cols["loaded_at"] = pa.array([loaded_at] * n, type=TS) if n else pa.array([], type=TS)
    return pa.table([cols[f.name] for f in VIEW_SCHEMA], schema=VIEW_SCHEMA)


def usage_to_arrow(
    rows: Sequence[Row], *, window_start: datetime, window_end: datetime, loaded_at: datetime
) -> pa.Table:
    """Delivery-usage rows for one timeframe -> `USAGE_SCHEMA` (rows without an asset id are dropped)."""
    rows = [r for r in rows if r.get("asset_id")]
    n = len(rows)
    by_res = [r.get("delivered_seconds_by_resolution") or {} for r in rows]
    passthrough = to_string(_column(rows, "passthrough"))
    cols: dict[str, pa.Array] = {
        "asset_id": to_string(_column(rows, "asset_id")),
        "window_start": pa.array([window_start] * n, type=TS),
        "window_end": pa.array([window_end] * n, type=TS),
        "usage_day": pa.array([window_start.astimezone(UTC).date()] * n, type=pa.date32()),
        "passthrough": passthrough,
        "lesson_id": digits_to_int(passthrough),
        "delivered_seconds": pc.fill_null(to_float(_column(rows, "delivered_seconds")), 0.0),
        "asset_state": to_string(_column(rows, "asset_state")),
        "asset_duration_s": to_float(_column(rows, "asset_duration")),
        "asset_resolution_tier": to_string(_column(rows, "asset_resolution_tier")),
        "asset_video_quality": to_string(_column(rows, "asset_video_quality")),
        "asset_encoding_tier": to_string(_column(rows, "asset_encoding_tier")),
        "asset_created_at": to_timestamp(_column(rows, "created_at")),
        "asset_deleted_at": to_timestamp(_column(rows, "deleted_at")),
        "loaded_at": pa.array([loaded_at] * n, type=TS),
    }
    for tier in _TIERS:
        # Mux only sends the tiers with non-zero delivery.
        cols[f"delivered_seconds_{tier}"] = pc.fill_null(to_float([d.get(f"tier_{tier}") for d in by_res]), 0.0)
    return pa.table([cols[f.name] for f in USAGE_SCHEMA], schema=USAGE_SCHEMA)


def _primary_playback(row: Row) -> tuple[str | None, str | None]:
    ids = [p for p in (row.get("playback_ids") or []) if isinstance(p, Mapping) and p.get("id")]
    if not ids:
        return None, None
    # A signed id when there is one: Lectern creates exactly one id per asset, in the lesson's policy.
    chosen = next((p for p in ids if p.get("policy") == "signed"), ids[0])
    return str(chosen["id"]), str(chosen.get("policy")) if chosen.get("policy") is not None else None


def assets_to_arrow(rows: Sequence[Row], *, seen_at: datetime) -> pa.Table:
    """Mux asset objects (REST shape) -> `ASSET_SCHEMA`; `deleted_at` is set by the assets job."""
    n = len(rows)
    playback = [_primary_playback(r) for r in rows]
    passthrough = to_string(_column(rows, "passthrough"))
    cols: dict[str, pa.Array] = {
        "asset_id": to_string(_column(rows, "id")),
        "status": to_string(_column(rows, "status")),
        "duration_s": to_float(_column(rows, "duration")),
        "resolution_tier": to_string(_column(rows, "resolution_tier")),
        "max_resolution_tier": to_string(_column(rows, "max_resolution_tier")),
        "video_quality": pc.coalesce(
            to_string(_column(rows, "video_quality")), to_string(_column(rows, "encoding_tier"))
        ),
        "encoding_tier": to_string(_column(rows, "encoding_tier")),
        "aspect_ratio": to_string(_column(rows, "aspect_ratio")),
        "passthrough": passthrough,
        "lesson_id": digits_to_int(passthrough),
        "playback_id": pa.array([p[0] for p in playback], type=pa.string()),
        "playback_policy": pa.array([p[1] for p in playback], type=pa.string()),
        "upload_id": to_string(_column(rows, "upload_id")),
        "is_test": to_bool(_column(rows, "test")),
        "created_at": to_timestamp(_column(rows, "created_at")),
        "deleted_at": pa.array([None] * n, type=TS),
        "last_seen_at": pa.array([seen_at] * n, type=TS),
    }
    return pa.table([cols[f.name] for f in ASSET_SCHEMA], schema=ASSET_SCHEMA)


# --- loading -------------------------------------------------------------------------------------------

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


def _ident(name: str) -> str:
    # Table and key names come from this package, never from users; the check keeps it that way.
    if not _IDENT.match(name):
        raise ValueError(f"not a plain identifier: {name!r}")
    return name


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None) -> Any:
    """The first value of a statement's result (DuckDB wants every result consumed before the next call)."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0][0] if rows else None


def upsert(con: duckdb.DuckDBPyConnection, table: str, data: pa.Table, key: Sequence[str]) -> int:
    """Insert `data` into `table`, replacing rows with the same natural `key`; returns the rows added.

    Runs inside the caller's transaction. The batch is first deduplicated on the key (the last copy
    wins: later pages are fresher), then the key's existing rows are deleted and the batch inserted, so
    the result is the same however many times the batch is loaded.
    """
    if data.num_rows == 0:
        return 0
    batch = f"_batch_{_ident(table)}"
    ordered = data.append_column("_ord", pa.array(np.arange(data.num_rows, dtype=np.int64)))
    con.register(batch, ordered)
    try:
        return upsert_from(con, table, batch, key, order="_ord", exclude=("_ord",))
    finally:
        con.unregister(batch)


# Tables whose single-column natural key is found through a hash column (warehouse/schema.py, v5).
HASHED_KEYS: dict[str, tuple[str, str]] = {"mux_views": ("view_id", "view_key")}


def upsert_from(
    con: duckdb.DuckDBPyConnection,
    table: str,
    source: str,
    key: Sequence[str],
    *,
    order: str = "rowid",
    exclude: Sequence[str] = (),
) -> int:
    """`upsert` from a relation already in DuckDB (a registered batch, a staging table); returns the rows added.

    `order` ranks duplicate keys inside `source` (the highest wins: a staging table's `rowid` is file order).
    """
    table, source, order = _ident(table), _ident(source), _ident(order)
    keys = [_ident(k) for k in key]
    hashed = HASHED_KEYS.get(table)
    dropped, added = list(exclude), ""
    if hashed and keys == [hashed[0]] and hashed[1] in _columns(con, table):
        name, digest = hashed
        # Rows whose hash matches a batch key (an integer scan), then the few of those whose id matches.
        # A batch of new views (the common case) has no candidates: the count skips the DELETE's string scan.
        candidates = f"SELECT t.rowid FROM {table} t SEMI JOIN {source} b ON t.{digest} = hash(b.{name})"
        deleted = 0
        if scalar(con, f"SELECT count(*) FROM ({candidates})"):
            deleted = scalar(
                con, f"DELETE FROM {table} WHERE rowid IN ({candidates}) AND {name} IN (SELECT {name} FROM {source})"
            )
        # The hash is always computed here, never taken from the source (a table read back may carry one).
        dropped += [digest] if digest in _columns(con, source) else []
        added = f", hash({name}) AS {digest}"
    else:
        join = " AND ".join(f"t.{k} = b.{k}" for k in keys)
        deleted = scalar(con, f"DELETE FROM {table} t USING {source} b WHERE {join}")
    columns = (f"* EXCLUDE ({', '.join(_ident(c) for c in dropped)})" if dropped else "*") + added
    # Scans keep the source's order, so only a deduplicated source needs sorting back into it
    # (sorting ~30 wide columns is most of an upsert's cost).
    dedup = ""
    if scalar(con, f"SELECT count(*) > count(DISTINCT ({', '.join(keys)})) FROM {source}"):
        dedup = f"QUALIFY row_number() OVER (PARTITION BY {', '.join(keys)} ORDER BY {order} DESC) = 1 ORDER BY {order}"
    inserted = scalar(con, f"INSERT INTO {table} BY NAME SELECT {columns} FROM {source} {dedup}")
    return int(inserted or 0) - int(deleted or 0)


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> set[str]:
    return {d[0] for d in con.execute(f"SELECT * FROM {relation} LIMIT 0").description}


def append(con: duckdb.DuckDBPyConnection, table: str, data: pa.Table) -> int:
    if data.num_rows == 0:
        return 0
    table = _ident(table)
    name = f"_append_{table}"
    con.register(name, data)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {name}")
    finally:
        con.unregister(name)
    return int(data.num_rows)


def affected_days(con: duckdb.DuckDBPyConnection, data: pa.Table | str) -> tuple[Any, Any] | None:
    """The view_day range a views batch (an Arrow table, or a relation's name) touches: its own days and
    those of the rows it will replace."""
    if isinstance(data, str):
        return _affected_days(con, _ident(data))
    if data.num_rows == 0:
        return None
    name = "_days_batch"
    con.register(name, data.select(["view_id", "view_day"]))
    try:
        return _affected_days(con, name)
    finally:
        con.unregister(name)


def _affected_days(con: duckdb.DuckDBPyConnection, name: str) -> tuple[Any, Any] | None:
    rows = con.execute(
        f"""SELECT min(d), max(d) FROM (
                SELECT view_day AS d FROM {name}
                UNION ALL
                SELECT v.view_day FROM mux_views v JOIN {name} b USING (view_id)
            ) WHERE d IS NOT NULL"""
    ).fetchall()
    row = rows[0] if rows else None
    if not row or row[0] is None:
        return None
    return row[0], row[1]

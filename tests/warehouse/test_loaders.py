"""Transforms (literal expected tables) and batched upserts (idempotent, last copy wins)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import duckdb
import pyarrow as pa
import pytest

from tests.warehouse.factories import make_view, mux_id, random_views, view_uuid
from warehouse.loaders import (
    ASSET_SCHEMA,
    TS,
    USAGE_SCHEMA,
    VIEW_SCHEMA,
    assets_to_arrow,
    digits_to_int,
    to_bool,
    to_int,
    to_timestamp,
    upsert,
    usage_to_arrow,
    views_to_arrow,
)
from warehouse.rollups import refresh_rollups
from warehouse.schema import duplicate_keys, migrate

LOADED = datetime(2025, 3, 2, 12, 0, tzinfo=UTC)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    migrate(connection)
    return connection


def test_views_to_arrow_maps_mux_fields_to_typed_columns() -> None:
    full = make_view(1, end=ts("2025-03-01T10:10:05"), lesson_id=7, viewer=42, startup_ms=900)
    # A sparse view, with ids Lectern cannot map and numbers as Mux sometimes sends them; startup time
    # only as view_content_startup_time.
    abridged = {
        "id": "opaque-2",
        "view_id": "0b7f2c1e-5d4a-4c3b-9a2e-1f0e9d8c7b6a",
        "view_content_startup_time": "1500",
        "view_start": "2025-02-28T23:59:30.500Z",
        "view_end": "2025-03-01T00:03:00+00:00",
        "watch_time": "210000",
        "viewer_user_id": "anon-7f3a",
        "video_id": "intro-video",
        "playback_failure": "true",
        "viewer_application_name": "Safari",
        "viewer_experience_score": 0.5,
    }
    # A list item whose view Mux no longer serves in full has no view_id to key it on: left out.
    listed_only = {"id": "opaque-3", "view_end": "2025-03-01T00:04:00Z", "watch_time": 10}
    table = views_to_arrow([full, listed_only, abridged], loaded_at=LOADED)
    expected = pa.table(
        {
            "view_id": [view_uuid(1), "0b7f2c1e-5d4a-4c3b-9a2e-1f0e9d8c7b6a"],
            "mux_view_id": [mux_id(1), "opaque-2"],
            "viewer_user_id": ["42", "anon-7f3a"],
            "user_id": [42, None],
            "video_id": ["7", "intro-video"],
            "lesson_id": [7, None],
            "video_title": ["Lesson 7", None],
            "asset_id": ["asset-7", None],
            "playback_id": ["pb-7", None],
            "view_start": [ts("2025-03-01T10:04:40"), datetime(2025, 2, 28, 23, 59, 30, 500_000, tzinfo=UTC)],
            "view_end": [ts("2025-03-01T10:10:05"), ts("2025-03-01T00:03:00")],
            "view_day": [date(2025, 3, 1), date(2025, 2, 28)],
            "watch_time_ms": [320_000, 210_000],
            "playing_time_ms": [319_100, None],
            "max_playhead_ms": [300_000, None],
            "video_duration_ms": [600_000, None],
            "startup_time_ms": [900, 1500],
            "player_startup_time_ms": [251, None],
            "rebuffer_count": [1, None],
            "rebuffer_duration_ms": [1200, None],
            "rebuffer_percentage": [0.00375, None],
            "playback_failure": [False, True],
            "video_startup_failure": [False, None],
            "exit_before_video_start": [False, None],
            "error_type_id": [None, None],
            "error_code": [None, None],
            "error_message": [None, None],
            "browser": ["Chrome", "Safari"],
            "os": ["macOS", None],
            "device": ["desktop", None],
            "country": ["US", None],
            "player": ["lectern-web", None],
            "viewer_experience_score": [0.91, 0.5],
            "loaded_at": [LOADED, LOADED],
        },
        schema=VIEW_SCHEMA,
    )
    assert table.equals(expected), table.to_pylist()


def test_views_to_arrow_uses_fallback_fields_and_handles_empty_pages() -> None:
    view = make_view(3, end=ts("2025-03-01T10:00:00"))
    del view["view_playing_time"], view["video_duration"], view["player_name"]
    view.update(view_total_content_playback_time=1234, player_source_duration=99_000, player_software="mux-player")
    row = views_to_arrow([view], loaded_at=LOADED).to_pylist()[0]
    assert (row["playing_time_ms"], row["video_duration_ms"], row["player"]) == (1234, 99_000, "mux-player")
    empty = views_to_arrow([], loaded_at=LOADED)
    assert empty.num_rows == 0 and empty.schema == VIEW_SCHEMA


def test_column_converters_fall_back_per_value_for_odd_shapes() -> None:
    assert to_int([1, "2", "3.6", "", None, "x"]).to_pylist() == [1, 2, 4, None, None, None]
    assert to_bool([True, "false", "1", 0, None]).to_pylist() == [True, False, True, False, None]
    assert to_timestamp(["1740000000", None, "2025-03-01 10:00:00"]).to_pylist() == [
        datetime(2025, 2, 19, 21, 20, tzinfo=UTC),
        None,
        ts("2025-03-01T10:00:00"),
    ]
    assert digits_to_int(pa.array(["12", "a1", None, ""])).to_pylist() == [12, None, None, None]


def test_usage_to_arrow() -> None:
    rows = [
        {
            "asset_id": "a1",
            "passthrough": "17",
            "asset_state": "ready",
            "asset_duration": 612.5,
            "asset_resolution_tier": "1080p",
            "asset_video_quality": "basic",
            "asset_encoding_tier": "baseline",
            "created_at": "1740000000",
            "delivered_seconds": 100.0,
            "delivered_seconds_by_resolution": {"tier_1080p": 80.0, "tier_720p": 20.0},
        },
        {"live_stream_id": "ls1", "delivered_seconds": 5.0},  # no asset: Lectern has no live streams
    ]
    start, end = ts("2025-03-01T00:00:00"), ts("2025-03-02T00:00:00")
    table = usage_to_arrow(rows, window_start=start, window_end=end, loaded_at=LOADED)
    expected = pa.table(
        {
            "asset_id": ["a1"],
            "window_start": [start],
            "window_end": [end],
            "usage_day": [date(2025, 3, 1)],
            "passthrough": ["17"],
            "lesson_id": [17],
            "delivered_seconds": [100.0],
            "delivered_seconds_720p": [20.0],
            "delivered_seconds_1080p": [80.0],
            "delivered_seconds_1440p": [0.0],
            "delivered_seconds_2160p": [0.0],
            "delivered_seconds_audio_only": [0.0],
            "asset_state": ["ready"],
            "asset_duration_s": [612.5],
            "asset_resolution_tier": ["1080p"],
            "asset_video_quality": ["basic"],
            "asset_encoding_tier": ["baseline"],
            "asset_created_at": [datetime(2025, 2, 19, 21, 20, tzinfo=UTC)],
            "asset_deleted_at": pa.array([None], type=TS),
            "loaded_at": [LOADED],
        },
        schema=USAGE_SCHEMA,
    )
    assert table.equals(expected), table.to_pylist()


def test_assets_to_arrow_prefers_signed_playback_id() -> None:
    asset = {
        "id": "a9",
        "status": "ready",
        "duration": 61.2,
        "passthrough": "9",
        "playback_ids": [{"id": "pub", "policy": "public"}, {"id": "sig", "policy": "signed"}],
        "resolution_tier": "720p",
        "max_resolution_tier": "1080p",
        "encoding_tier": "baseline",
        "aspect_ratio": "16:9",
        "upload_id": "u1",
        "test": False,
        "created_at": "1740000000",
    }
    row = assets_to_arrow([asset, {"id": "a10", "status": "preparing"}], seen_at=LOADED).to_pylist()
    assert row[0] == {
        "asset_id": "a9",
        "status": "ready",
        "duration_s": 61.2,
        "resolution_tier": "720p",
        "max_resolution_tier": "1080p",
        "video_quality": "baseline",
        "encoding_tier": "baseline",
        "aspect_ratio": "16:9",
        "passthrough": "9",
        "lesson_id": 9,
        "playback_id": "sig",
        "playback_policy": "signed",
        "upload_id": "u1",
        "is_test": False,
        "created_at": datetime(2025, 2, 19, 21, 20, tzinfo=UTC),
        "deleted_at": None,
        "last_seen_at": LOADED,
    }
    assert row[1]["playback_id"] is None and row[1]["lesson_id"] is None
    assert assets_to_arrow([], seen_at=LOADED).schema == ASSET_SCHEMA


def _snapshot(con: duckdb.DuckDBPyConnection) -> list[tuple[object, ...]]:
    return con.execute("SELECT * EXCLUDE (loaded_at) FROM mux_views ORDER BY view_id").fetchall()


def test_upsert_is_idempotent_and_replaces_by_key(con: duckdb.DuckDBPyConnection) -> None:
    views = random_views(500)
    batch = views_to_arrow(views, loaded_at=LOADED)
    assert upsert(con, "mux_views", batch, ["view_id"]) == 500
    first = _snapshot(con)
    assert upsert(con, "mux_views", batch, ["view_id"]) == 0
    assert _snapshot(con) == first
    changed = dict(views[0], viewer_application_name="Edge")
    assert upsert(con, "mux_views", views_to_arrow([changed], loaded_at=LOADED), ["view_id"]) == 0
    browser = con.execute("SELECT browser FROM mux_views WHERE view_id = ?", [views[0]["view_id"]]).fetchall()
    assert browser == [("Edge",)]
    assert con.execute("SELECT count(*) FROM mux_views").fetchall() == [(500,)]


def test_upsert_deduplicates_a_batch_keeping_the_last_copy(con: duckdb.DuckDBPyConnection) -> None:
    first = make_view(1, end=ts("2025-03-01T10:00:00"), browser="Chrome")
    again = dict(first, viewer_application_name="Firefox")
    added = upsert(con, "mux_views", views_to_arrow([first, again], loaded_at=LOADED), ["view_id"])
    assert added == 1
    assert con.execute("SELECT browser FROM mux_views").fetchall() == [("Firefox",)]
    assert duplicate_keys(con)["mux_views"] == 0


def test_upsert_compares_view_ids_where_their_hashes_collide(con: duckdb.DuckDBPyConnection) -> None:
    # view_key only narrows the search: a row whose key equals a batch id's hash but whose id differs stays.
    a, b, c = (make_view(i, end=ts("2025-03-01T10:00:00")) for i in (1, 2, 3))
    upsert(con, "mux_views", views_to_arrow([a, b], loaded_at=LOADED), ["view_id"])
    con.execute("UPDATE mux_views SET view_key = hash(?) WHERE view_id = ?", [c["view_id"], b["view_id"]])
    assert upsert(con, "mux_views", views_to_arrow([c, a], loaded_at=LOADED), ["view_id"]) == 1
    ids = [r[0] for r in con.execute("SELECT view_id FROM mux_views ORDER BY view_id").fetchall()]
    assert ids == sorted([a["view_id"], b["view_id"], c["view_id"]])
    assert duplicate_keys(con)["mux_views"] == 0


def test_every_loaded_view_is_keyed_by_the_hash_of_its_id(con: duckdb.DuckDBPyConnection) -> None:
    batch = views_to_arrow(random_views(50), loaded_at=LOADED)
    upsert(con, "mux_views", batch, ["view_id"])
    # A source that already carries view_key (a table read back) gets it recomputed, not trusted.
    upsert(
        con,
        "mux_views",
        con.sql("SELECT * REPLACE (0::UBIGINT AS view_key) FROM mux_views").to_arrow_table(),
        ["view_id"],
    )
    assert con.execute("SELECT count(*) FROM mux_views WHERE view_key = hash(view_id)").fetchall() == [(50,)]
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO mux_views (view_id, loaded_at) VALUES ('no-key', now())")


def test_upsert_rejects_non_identifier_names(con: duckdb.DuckDBPyConnection) -> None:
    batch = views_to_arrow([make_view(1, end=ts("2025-03-01T10:00:00"))], loaded_at=LOADED)
    with pytest.raises(ValueError, match="identifier"):
        upsert(con, "mux_views; DROP TABLE users", batch, ["view_id"])


def test_rollups_agree_with_raw_views(con: duckdb.DuckDBPyConnection) -> None:
    upsert(con, "mux_views", views_to_arrow(random_views(2000, days=5), loaded_at=LOADED), ["view_id"])
    refresh_rollups(con, None)
    raw = con.execute(
        "SELECT count(*), sum(watch_time_ms), count(DISTINCT (view_day, lesson_id, viewer_user_id)) FROM mux_views"
    ).fetchall()
    rolled = con.execute(
        "SELECT (SELECT sum(views) FROM lesson_daily), (SELECT sum(watch_time_ms) FROM lesson_daily), "
        "(SELECT count(*) FROM viewer_lesson_daily)"
    ).fetchall()
    assert raw == rolled
    retention = con.execute("SELECT sum(views) FROM lesson_retention_daily").fetchall()[0][0]
    assert retention == 2000
    # Recomputing one day leaves the others untouched and gives the same totals.
    day = con.execute("SELECT min(view_day) FROM mux_views").fetchall()[0][0]
    refresh_rollups(con, (day, day))
    assert con.execute("SELECT sum(views), sum(watch_time_ms) FROM lesson_daily").fetchall() == [raw[0][:2]]
    assert set(duplicate_keys(con).values()) == {0}

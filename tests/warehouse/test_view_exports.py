"""Export files -> mux_views: the same typed rows as the Data API's JSON, columns found by name."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.warehouse.factories import T0, make_view, mux_id, random_views, view_uuid, write_export_csv
from warehouse.loaders import upsert, views_to_arrow
from warehouse.schema import migrate
from warehouse.view_exports import MissingColumns, load_export_file

LOADED = datetime(2025, 3, 20, tzinfo=UTC)


def warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    migrate(con)
    return con


def tricky_views() -> list[dict[str, Any]]:
    """Views that exercise every conversion: failures, nulls, text numbers with halves, odd ids."""
    end = T0 + timedelta(hours=5)
    return [
        make_view(
            900_001,
            end=end,
            playback_failure=True,
            error_type_id=1101,
            player_error_code="2",
            player_error_message='MEDIA_ERR_NETWORK: "quoted", with a comma',
        ),
        make_view(
            900_002,
            end=end,
            time_to_first_frame=None,
            view_content_startup_time=None,
            exit_before_video_start=True,
            watch_time=0,
        ),
        make_view(900_003, end=end, view_playing_time="1234.5", view_max_playhead_position="1235.5"),
        make_view(900_004, end=end, viewer_user_id="viewer-abc", video_id="1234567890123456789"),
        make_view(900_005, end=end, rebuffer_percentage="0.1", viewer_experience_score="0.333"),
        make_view(900_006, end=end, video_title='Ünïcode, "quotes" and\nnew line', video_startup_failure=True),
    ]


def rows(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    """Every column but loaded_at and mux_view_id (the files carry no opaque `id`; see the test below)."""
    return con.execute("SELECT * EXCLUDE (loaded_at, mux_view_id) FROM mux_views ORDER BY view_id").fetchall()


def test_an_export_file_loads_exactly_as_the_api_json_does(tmp_path: Path) -> None:
    views = random_views(800, days=3) + tricky_views()
    via_api = warehouse()
    upsert(via_api, "mux_views", views_to_arrow(views, loaded_at=LOADED), ["view_id"])
    path = tmp_path / "day.csv"
    write_export_csv(path, views)
    via_export = warehouse()
    via_export.execute("SET TimeZone = 'America/New_York'")  # must not shift anything
    loaded = load_export_file(via_export, path, loaded_at=LOADED)
    assert (loaded.rows, loaded.new_rows) == (len(views), len(views))
    assert loaded.days == tuple(via_api.execute("SELECT min(view_day), max(view_day) FROM mux_views").fetchall()[0])
    assert rows(via_export) == rows(via_api)
    assert via_export.execute("SELECT current_setting('TimeZone')").fetchall() == [("America/New_York",)]
    assert via_export.execute("SELECT DISTINCT loaded_at FROM mux_views").fetchall() == [(LOADED,)]
    # The conversions did happen (a comparison of two empty or all-null tables would prove nothing).
    checks = via_export.execute(
        f"""SELECT count(*) FILTER (playback_failure), count(error_type_id), count(*) FILTER (startup_time_ms IS NULL),
                  count(user_id), count(lesson_id), max(playing_time_ms) FILTER (view_id = '{view_uuid(900_003)}'),
                  max(max_playhead_ms) FILTER (view_id = '{view_uuid(900_003)}')
           FROM mux_views"""
    ).fetchall()[0]
    assert checks == (1, 1, 1, len(views) - 1, len(views) - 1, 1234, 1236)  # halves round to even, like Arrow


def test_startup_times_come_from_the_files_names_and_list_ids_are_kept(tmp_path: Path) -> None:
    # The file names the view's time_to_first_frame `video_startup_time`; older files without it fall back
    # to view_content_startup_time (as the JSON path does), and player_startup_time loads as is.
    views = [make_view(1, end=T0 + timedelta(hours=1), startup_ms=640), make_view(2, end=T0 + timedelta(hours=2))]
    views[1].update(time_to_first_frame=None, view_content_startup_time=1_111)
    path = tmp_path / "day.csv"
    write_export_csv(path, views)
    header = path.read_text().splitlines()[0].split(",")
    assert "video_startup_time" in header and "time_to_first_frame" not in header and "id" not in header
    con = warehouse()
    # View 1 was stored earlier by list+get: its Mux id stays when the file replaces the row.
    upsert(con, "mux_views", views_to_arrow(views[:1], loaded_at=LOADED), ["view_id"])
    assert load_export_file(con, path, loaded_at=LOADED).new_rows == 1
    stored = con.execute(
        "SELECT view_id, mux_view_id, startup_time_ms, player_startup_time_ms FROM mux_views ORDER BY view_id"
    ).fetchall()
    assert stored == [(view_uuid(1), mux_id(1), 640, 251), (view_uuid(2), None, 1_111, 252)]
    via_api = warehouse()
    upsert(via_api, "mux_views", views_to_arrow(views, loaded_at=LOADED), ["view_id"])
    assert via_api.execute("SELECT mux_view_id, startup_time_ms FROM mux_views ORDER BY view_id").fetchall() == [
        (mux_id(1), 640),
        (mux_id(2), 1_111),
    ]


def test_columns_are_found_by_name_and_other_columns_are_ignored(tmp_path: Path) -> None:
    views = random_views(200, days=2)
    names = sorted({"asn", "city", "custom_1", "player_view_count"} | set(_header(tmp_path, views)))
    random.Random(4).shuffle(names)
    path = tmp_path / "shuffled.csv"
    write_export_csv(path, views, columns=names)
    shuffled = warehouse()
    load_export_file(shuffled, path, loaded_at=LOADED)
    reference = warehouse()
    upsert(reference, "mux_views", views_to_arrow(views, loaded_at=LOADED), ["view_id"])
    assert rows(shuffled) == rows(reference)


def _header(tmp_path: Path, views: list[dict[str, Any]]) -> list[str]:
    probe = tmp_path / "probe.csv"
    write_export_csv(probe, views[:1])
    return probe.read_text().splitlines()[0].split(",")


def test_older_spellings_fill_in_and_missing_columns_are_named(tmp_path: Path) -> None:
    views = random_views(50, days=1)
    header = _header(tmp_path, views)
    # Version 1 named the browser viewer_application_name: the loader takes either.
    path = tmp_path / "v1.csv"
    write_export_csv(path, views)
    first, rest = path.read_text().split("\n", 1)
    path.write_text(
        ",".join("viewer_application_name" if c == "browser" else c for c in first.split(",")) + "\n" + rest
    )
    con = warehouse()
    load_export_file(con, path, loaded_at=LOADED)
    assert con.execute("SELECT count(*) FROM mux_views WHERE browser IS NULL").fetchall() == [(0,)]

    old = tmp_path / "v3.csv"
    write_export_csv(old, views, columns=[c for c in header if c not in ("asset_id", "playback_id")])
    with pytest.raises(MissingColumns) as missing:
        load_export_file(con, old, loaded_at=LOADED)
    assert missing.value.columns == ["asset_id", "playback_id"]


def test_a_repeated_view_id_keeps_the_last_row_and_reloading_changes_nothing(tmp_path: Path) -> None:
    first = make_view(1, end=T0 + timedelta(hours=1), watch_time=1000)
    again = make_view(1, end=T0 + timedelta(hours=1), watch_time=2000)
    path = tmp_path / "dup.csv"
    write_export_csv(path, [first, make_view(2, end=T0 + timedelta(hours=2)), again])
    con = warehouse()
    assert load_export_file(con, path, loaded_at=LOADED).new_rows == 2
    assert con.execute("SELECT watch_time_ms FROM mux_views WHERE view_id = ?", [view_uuid(1)]).fetchall() == [(2000,)]
    before = rows(con)
    assert load_export_file(con, path, loaded_at=LOADED).new_rows == 0
    assert rows(con) == before


def test_zone_less_timestamps_are_utc(tmp_path: Path) -> None:
    view = make_view(7, end=T0 + timedelta(hours=23, minutes=30))
    view["view_start"], view["view_end"] = "2025-03-01 23:00:00", "2025-03-01 23:30:00"
    path = tmp_path / "naive.csv"
    write_export_csv(path, [view])
    con = warehouse()
    con.execute("SET TimeZone = 'Asia/Tokyo'")
    load_export_file(con, path, loaded_at=LOADED)
    start, day = con.execute("SELECT view_start, view_day FROM mux_views").fetchall()[0]
    assert start == datetime(2025, 3, 1, 23, tzinfo=UTC) and str(day) == "2025-03-01"

"""The views job's export path against the emulator, through core's MuxService and mux-python over HTTP."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from core.mux import MuxService
from core.retry import RetryPolicy
from core.settings import load_settings
from emulator.testing import EmulatorServer
from lectern.sample_data import SamplePlatform
from sync.sources import MuxSources
from sync.state import JobResult, write_state
from sync.views import ViewsConfig, run_views
from tests.sync.emulator_world import World, build_world, detail_calls, overall, quiet_end, simulate
from tests.warehouse.factories import iso
from warehouse.loaders import upsert, views_to_arrow
from warehouse.rollups import refresh_rollups
from warehouse.schema import duplicate_keys, migrate

CFG = ViewsConfig(backfill_days=6)
UUID4 = "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"


@pytest.fixture
def world(tmp_path: Path, sample_platform: SamplePlatform) -> World:
    return build_world(tmp_path, sample_platform)


def start_emulator(world: World, tmp_path: Path, **config: Any) -> EmulatorServer:
    return EmulatorServer(state_file=world.state_file, data_dir=tmp_path / "media", log_level="warning", **config)


@pytest.fixture
def emu(world: World, tmp_path: Path) -> Iterator[EmulatorServer]:
    with start_emulator(world, tmp_path) as server:
        yield server


@pytest.fixture
def service(emu: EmulatorServer) -> Iterator[MuxService]:
    settings = load_settings(MUX_API_URL=emu.url, MUX_TOKEN_ID=emu.token_id, MUX_TOKEN_SECRET=emu.token_secret)
    mux = MuxService(settings, retry_policy=RetryPolicy(attempts=8, base_s=0.01))
    yield mux
    mux.close()


def sync_views(path: Path, service: MuxService, now: datetime, *, exports: bool = True) -> JobResult:
    con = duckdb.connect(str(path))
    migrate(con)
    source = MuxSources(service, view_exports=exports)
    try:
        return run_views(con, source, now=now, cfg=CFG)
    finally:
        source.close()
        con.close()


def list_calls(emu: EmulatorServer) -> int:
    return int(emu.stats()["requests"].get("GET /data/v1/video-views", {}).get("count", 0))


def views_in(emu: EmulatorServer, start: datetime, end: datetime) -> int:
    return int(overall(emu, "views", start.timestamp(), end.timestamp())["total_views"])


def test_a_day_from_its_export_equals_the_same_day_from_list_and_get(
    world: World, emu: EmulatorServer, service: MuxService, tmp_path: Path
) -> None:
    end = quiet_end()
    simulate(emu, world, days=4, views=700, seed=5, end=end.timestamp())
    now = end + timedelta(minutes=30)

    calls = detail_calls(emu)
    via_exports = sync_views(tmp_path / "exports.duckdb", service, now)
    export_calls = detail_calls(emu) - calls
    via_api = sync_views(tmp_path / "api.duckdb", service, now, exports=False)
    api_calls = detail_calls(emu) - calls - export_calls

    start = via_api.details["start"]
    total = views_in(emu, start, now)
    assert via_exports.rows == via_api.rows == total > 500
    assert via_exports.details["exports_loaded"] >= 3 and via_api.details["exports_loaded"] == 0
    midnight = now.replace(hour=0, minute=0, second=0)
    assert export_calls == views_in(emu, midnight, now) < api_calls == total  # only today went view by view

    con = duckdb.connect()
    con.execute(f"ATTACH '{tmp_path / 'exports.duckdb'}' AS e (READ_ONLY)")
    con.execute(f"ATTACH '{tmp_path / 'api.duckdb'}' AS a (READ_ONLY)")
    # Row for row, every typed column (loaded_at says when, nothing about the view; the files carry no
    # opaque `id`, checked below).
    for left, right in (("e", "a"), ("a", "e")):
        extra = con.execute(
            f"SELECT count(*) FROM (SELECT * EXCLUDE (loaded_at, mux_view_id) FROM {left}.mux_views "
            f"EXCEPT ALL SELECT * EXCLUDE (loaded_at, mux_view_id) FROM {right}.mux_views)"
        ).fetchall()[0][0]
        assert extra == 0, f"{extra} rows of {left} are not in {right}"
    # Keyed on the UUID view_id on both paths; Mux's opaque id beside it wherever a list gave it.
    for db, with_id in (("a", total), ("e", export_calls)):
        ids = con.execute(
            f"SELECT count(*), count(DISTINCT view_id), count(mux_view_id), count(*) FILTER (mux_view_id = view_id), "
            f"count(*) FILTER (NOT regexp_matches(view_id, '{UUID4}')) "
            f"FROM {db}.mux_views"
        ).fetchall()[0]
        assert ids == (total, total, with_id, 0, 0), db
    # Startup times filled on both paths (rows are equal above): from time_to_first_frame / the files'
    # video_startup_time, null exactly for views that never started; player startup for every view.
    startup = con.execute(
        "SELECT count(startup_time_ms), count(*) FILTER (exit_before_video_start OR video_startup_failure), "
        "count(player_startup_time_ms), min(player_startup_time_ms) FROM e.mux_views"
    ).fetchall()[0]
    assert startup[0] == total - startup[1] and startup[1] > 0 and startup[2] == total and startup[3] >= 100
    exported = con.execute(
        "SELECT count(*) FROM e.mux_views WHERE timezone('UTC', view_end)::DATE IN "
        "(SELECT export_date FROM e.sync_view_exports)"
    ).fetchall()[0][0]
    assert exported == total - export_calls  # the comparison covered the exported days
    coverage = con.execute(
        "SELECT count(*) FILTER (playback_failure), count(error_type_id), count(*) FILTER (startup_time_ms IS NULL), "
        "count(DISTINCT browser), count(lesson_id), count(user_id) FROM e.mux_views"
    ).fetchall()[0]
    assert coverage[0] > 0 and coverage[1] == coverage[0] and coverage[2] > 0 and coverage[3] > 3
    assert coverage[4] == coverage[5] == total
    # Rollups agree too: counts exactly, sums of fractions up to float summation order.
    for table, keys in (("lesson_daily", "view_day, lesson_id"), ("qoe_daily", "view_day, dimension, value")):
        left = con.execute(f"SELECT * FROM e.{table} ORDER BY {keys}").fetchall()
        right = con.execute(f"SELECT * FROM a.{table} ORDER BY {keys}").fetchall()
        assert len(left) == len(right) > 0
        for x, y in zip(left, right, strict=True):
            for a, b in zip(x, y, strict=True):
                assert b == pytest.approx(a, rel=1e-12, abs=1e-12) if isinstance(a, float) else a == b, (x, y)


def test_republished_days_are_loaded_again_and_unchanged_ones_cost_a_304(
    world: World, emu: EmulatorServer, service: MuxService, tmp_path: Path
) -> None:
    end = quiet_end()
    simulate(emu, world, days=5, views=1000, seed=6, end=end.timestamp())
    now = end + timedelta(minutes=30)
    path = tmp_path / "warehouse.duckdb"
    first = sync_views(path, service, now)
    days = first.details["exports_loaded"]
    assert days >= 4

    second = sync_views(path, service, now + timedelta(minutes=5))
    assert (second.details["exports_unchanged"], second.details["exports_loaded"]) == (days, 0)
    statuses = emu.stats()["requests"]["GET /_exports/views/{environment}/{file_name}"]["by_status"]
    assert statuses.get("304") == days

    # Mux regenerates every file in a later export version: all are loaded again; nothing changes.
    emu.configure(view_export_version=13)
    emu.configure(view_export_version=14)
    third = sync_views(path, service, now + timedelta(minutes=10))
    assert third.details["exports_loaded"] == 0  # the same version and content as loaded: still 304
    emu.configure(view_export_version=13)
    fourth = sync_views(path, service, now + timedelta(minutes=10))
    assert (fourth.details["exports_loaded"], fourth.new_rows) == (days, 0)

    # Late views land in an exported day (Mux publishes it again): only that day is downloaded in full.
    day_end = now.replace(hour=0, minute=0, second=0) - timedelta(days=1, hours=2)
    added = simulate(emu, world, days=0.05, views=120, seed=8, end=day_end.timestamp(), replace=False)["views"]
    fifth = sync_views(path, service, now + timedelta(minutes=15))
    assert (fifth.details["exports_loaded"], fifth.details["exports_unchanged"]) == (1, days - 1)
    assert fifth.new_rows == added
    con = duckdb.connect(str(path), read_only=True)
    stored = con.execute("SELECT count(*) FROM mux_views").fetchall()[0][0]
    assert stored == views_in(emu, first.details["start"], now + timedelta(minutes=15))
    con.close()


def test_accounts_without_exports_and_refused_files_fall_back_to_list_and_get(
    world: World, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The signed file URLs expire at once: every download is refused (403) as a stale S3 link would be.
    with start_emulator(world, tmp_path, view_export_url_ttl_s=0) as emu:
        settings = load_settings(MUX_API_URL=emu.url, MUX_TOKEN_ID=emu.token_id, MUX_TOKEN_SECRET=emu.token_secret)
        service = MuxService(settings, retry_policy=RetryPolicy(attempts=3, base_s=0.01))
        end = quiet_end()
        simulate(emu, world, days=3, views=500, seed=7, end=end.timestamp())
        now = end + timedelta(minutes=30)
        with caplog.at_level(logging.INFO, logger="sync"):
            refused = sync_views(tmp_path / "refused.duckdb", service, now)
            emu.configure(view_exports=False)  # a plan without exports: the listing answers 403
            calls = detail_calls(emu)
            without = sync_views(tmp_path / "without.duckdb", service, now)
        total = views_in(emu, without.details["start"], now)
        assert refused.rows == without.rows == total and detail_calls(emu) - calls == total
        assert refused.details["exports_loaded"] == without.details["exports_loaded"] == 0
        events = [r.getMessage() for r in caplog.records]
        assert "views.export_unusable" in events and events.count("views.exports_unavailable") == 1
        service.close()


def test_a_day_read_by_list_and_get_and_then_from_its_export_is_stored_once(
    world: World, emu: EmulatorServer, service: MuxService, tmp_path: Path
) -> None:
    end = quiet_end()
    simulate(emu, world, days=3, views=1200, seed=11, end=end.timestamp())
    now = end + timedelta(minutes=30)
    today = now.replace(hour=0, minute=0, second=0)
    path = tmp_path / "warehouse.duckdb"

    calls = detail_calls(emu)
    first = sync_views(path, service, now)  # `today` is not over: list+get, one GET per view
    assert detail_calls(emu) - calls == views_in(emu, today, now) > 100

    # A day later (Mux's clock and the job's): the same day is now an export file.
    emu.advance_clock(86_400)
    later = now + timedelta(days=1)
    calls = detail_calls(emu)
    second = sync_views(path, service, later)
    assert second.details["exports_loaded"] >= 1
    assert detail_calls(emu) == calls  # nothing ended since: no view needed a GET
    con = duckdb.connect(str(path), read_only=True)
    loaded = con.execute("SELECT export_date FROM sync_view_exports").fetchall()
    assert (today.date(),) in loaded
    stored = con.execute(
        "SELECT count(*), count(DISTINCT view_id), count(*) FILTER (view_end >= ? AND view_end < ?), "
        "count(mux_view_id) FILTER (view_end >= ?), count(*) FILTER (loaded_at = ? AND view_end >= ?) FROM mux_views",
        [today, now, today, later, today],
    ).fetchall()[0]
    total = views_in(emu, first.details["start"], later)
    # Each view once, the total the emulator counts; today's views came again from the file (loaded_at)
    # and kept the opaque ids the list gave them.
    assert stored[:3] == (total, total, views_in(emu, today, now))
    assert stored[3] == stored[4] == stored[2]
    assert con.execute("SELECT sum(views) FROM lesson_daily").fetchall()[0][0] == total
    con.close()

    # The next incremental run, and a forced list+get re-read of that day: no GET for a view already stored.
    calls = detail_calls(emu)
    third = sync_views(path, service, later + timedelta(minutes=5))
    assert third.new_rows == 0 and detail_calls(emu) == calls
    lists = list_calls(emu)
    con = duckdb.connect(str(path))
    source = MuxSources(service, view_exports=False)
    try:
        again = run_views(con, source, now=later + timedelta(minutes=6), cfg=CFG, since=today)
    finally:
        source.close()
    # Every view of the day was listed, and each was known by its list id: none fetched, none loaded.
    assert list_calls(emu) > lists and (again.rows, again.new_rows) == (0, 0) and detail_calls(emu) == calls
    assert con.execute("SELECT count(*), count(DISTINCT view_id) FROM mux_views").fetchall()[0] == (total, total)
    con.close()


def test_a_v6_warehouse_keyed_by_opaque_ids_is_upgraded_and_its_views_replaced(
    world: World, emu: EmulatorServer, service: MuxService, tmp_path: Path
) -> None:
    end = quiet_end()
    simulate(emu, world, days=3, views=700, seed=12, end=end.timestamp())
    now = end + timedelta(minutes=30)
    today = now.replace(hour=0, minute=0, second=0)
    yesterday = (today - timedelta(days=1)).date()
    start = now - timedelta(days=CFG.backfill_days)
    path = tmp_path / "old.duckdb"

    # What Lectern before schema v7 stored: every view by list+get under Mux's opaque `id` ...
    con = duckdb.connect(str(path))
    assert migrate(con, target=6)[-1] == 6
    source = MuxSources(service, view_exports=False)
    try:
        full = [view for page in source.iter_view_pages(start, now) for view in page]
    finally:
        source.close()
    columns = {r[0] for r in con.execute("DESCRIBE mux_views").fetchall()}

    def store_v6(views: list[dict[str, Any]], loaded_at: datetime) -> None:
        batch = views_to_arrow(views, loaded_at=loaded_at)
        upsert(con, "mux_views", batch.select([c for c in batch.column_names if c in columns]), ["view_id"])

    listed_at, exported_at = now - timedelta(days=1, hours=1), now - timedelta(hours=20)
    store_v6([{**v, "view_id": v["id"], "time_to_first_frame": None} for v in full], listed_at)
    # ... yesterday once more from its export file, under the UUIDs: each of its views twice (issue 14) ...
    from_file = [v for v in full if v["view_end"].startswith(str(yesterday))]
    store_v6(from_file, exported_at)
    con.execute(
        "INSERT INTO sync_view_exports VALUES (?, 14, '\"old\"', ?, 1, ?)", [yesterday, len(from_file), exported_at]
    )
    # ... and a view Mux no longer serves (past its retention), read back then by list+get.
    gone = {**full[0], "id": "k" + "0" * 33, "view_start": iso(start), "view_end": iso(start + timedelta(minutes=9))}
    store_v6([{**gone, "view_id": gone["id"]}], listed_at - timedelta(days=5))
    refresh_rollups(con, None)
    write_state(con, "views", now=now, status="ok", rows=len(full), watermark=now, duration_s=1.0)
    total = views_in(emu, start, now)
    assert len(full) == total > 500
    assert con.execute("SELECT count(*) FROM mux_views").fetchall()[0][0] == total + len(from_file) + 1

    assert migrate(con) == [7, 8, 9]
    marked = con.execute(
        "SELECT count(*) FILTER (legacy_key), count(*) FILTER (legacy_key AND mux_view_id = view_id) FROM mux_views"
    ).fetchall()[0]
    assert marked == (total + 1, total + 1)  # every list+get row; the export's rows are keyed right
    days = {r[0] for r in con.execute("SELECT view_day FROM sync_view_rereads").fetchall()}
    assert days == {datetime.fromisoformat(v["view_end"].replace("Z", "+00:00")).date() for v in [*full, gone]}
    con.close()

    later = now + timedelta(minutes=10)
    first = sync_views(path, service, later)
    assert first.details["reread_days"] == len(days) and first.details["legacy_matched_in_files"] > 0
    con = duckdb.connect(str(path))
    stored = con.execute(
        "SELECT count(*), count(DISTINCT view_id), count(*) FILTER (legacy_key), count(mux_view_id), "
        "count(*) FILTER (startup_time_ms IS NULL AND NOT (exit_before_video_start OR video_startup_failure)) "
        "FROM mux_views"
    ).fetchall()[0]
    # Each view Mux serves once, under its UUID, with its startup time; the vanished one kept as it was.
    assert stored == (total + 1, total + 1, 1, stored[3], 0) and stored[3] > views_in(emu, today, now)
    assert con.execute("SELECT view_id FROM mux_views WHERE legacy_key").fetchall() == [(gone["id"],)]
    uuids = [v["view_id"] for v in full]
    served = con.execute("SELECT count(*) FROM mux_views WHERE list_contains(?, view_id)", [uuids]).fetchall()
    assert served == [(total,)]
    assert con.execute("SELECT count(*) FROM sync_view_rereads").fetchall() == [(0,)]
    assert con.execute("SELECT sum(views) FROM lesson_daily").fetchall()[0][0] == total + 1
    assert set(duplicate_keys(con).values()) == {0}
    con.close()

    calls = detail_calls(emu)
    again = sync_views(path, service, later + timedelta(minutes=5))
    assert (again.new_rows, again.details["reread_days"], detail_calls(emu) - calls) == (0, 0, 0)

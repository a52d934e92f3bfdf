"""Cost inputs read from a published warehouse give the same estimate as the frames they came from."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from core.costs.estimate import Period, estimate_costs
from core.costs.pricebook import load_pricebook
from core.costs.report import rollup
from core.costs.whatif import Levers
from tests.costs.demo import build_demo, write_warehouse
from warehouse.costs import cost_overview, estimate_period, load_cost_inputs, load_s3_lessons, what_if_from_warehouse
from warehouse.reader import WarehouseReader
from warehouse.store import WarehouseLayout, WarehouseWriter

TODAY = date(2026, 11, 25)


def test_inputs_from_the_warehouse_match_the_frames(tmp_path: Path) -> None:
    demo = build_demo(TODAY)
    reader = WarehouseReader(write_warehouse(tmp_path / "warehouse.duckdb", demo))
    period = Period.inclusive(date(2026, 11, 1), TODAY)
    book = load_pricebook()
    try:
        with reader.connect() as con:
            inputs = load_cost_inputs(con, period)
            s3 = load_s3_lessons(con, TODAY)
            from_warehouse, attribution = estimate_period(con, period, book, today=TODAY, detail=True)
            overview = cost_overview(con, book, today=TODAY, period=period, budget_usd=1.0)
    finally:
        reader.close()
    assert "ghost-1" in set(inputs.assets["asset_id"])  # known only from delivery usage
    assert set(s3["lesson_id"]) == set(demo.s3_lessons["lesson_id"])
    assert (s3["watched_s_per_day"] > 0).sum() == 1
    direct = estimate_costs(demo.assets, demo.delivery, demo.views, period, book, as_of=TODAY + timedelta(days=1))
    ghost = from_warehouse.rows["asset_id"] == "ghost-1"
    # The ghost asset is priced from its usage metadata in the warehouse (storage too); the rest is identical.
    same = direct.rows["asset_id"] != "ghost-1"
    assert from_warehouse.rows.loc[~ghost, "net_micros"].sum() == direct.rows.loc[same, "net_micros"].sum()
    by_course = rollup(from_warehouse, "course", attribution)
    assert int(by_course["net_micros"].sum()) == from_warehouse.total_micros
    assert overview.month_to_date_micros == overview.estimate.total_micros
    assert overview.forecast is not None and not overview.forecast.crossings().empty
    assert overview.last_month_micros > 0


def test_usage_stored_in_hourly_windows_is_summed_per_day_first(tmp_path: Path) -> None:
    """The sync stores whole days; usage stored per hour (an older sync, a partial day) must price the same."""
    demo = build_demo(TODAY)
    pointer = write_warehouse(tmp_path / "warehouse.duckdb", demo)
    period = Period.inclusive(date(2026, 10, 1), TODAY)
    book = load_pricebook()
    reader = WarehouseReader(pointer)
    with reader.connect() as con:
        whole_days, _ = estimate_period(con, period, book, today=TODAY)
        totals = whole_days.totals()
    reader.close()
    with WarehouseWriter(WarehouseLayout(pointer)).open() as con:
        # Every day's row becomes two windows (00:00-06:00 and 06:00-24:00), seconds split 1/4 : 3/4.
        seconds = [
            "delivered_seconds", "delivered_seconds_720p", "delivered_seconds_1080p", "delivered_seconds_1440p",
            "delivered_seconds_2160p", "delivered_seconds_audio_only",
        ]  # fmt: skip
        con.execute("CREATE TEMP TABLE u AS SELECT * FROM delivery_usage")
        con.execute("DELETE FROM delivery_usage")
        quarter = ", ".join(f"{c} / 4 AS {c}" for c in seconds)
        rest = ", ".join(f"{c} - {c} / 4 AS {c}" for c in seconds)
        first = f"{quarter}, window_start + INTERVAL 6 HOUR AS window_end"
        later = f"{rest}, window_start + INTERVAL 6 HOUR AS window_start"
        con.execute(f"INSERT INTO delivery_usage BY NAME SELECT * REPLACE ({first}) FROM u")
        con.execute(f"INSERT INTO delivery_usage BY NAME SELECT * REPLACE ({later}) FROM u")
    reader = WarehouseReader(pointer)
    with reader.connect() as con:
        hourly, _ = estimate_period(con, period, book, today=TODAY)
    reader.close()
    assert hourly.totals() == totals


def test_what_if_re_prices_the_warehouse_usage(tmp_path: Path) -> None:
    demo = build_demo(TODAY)
    reader = WarehouseReader(write_warehouse(tmp_path / "warehouse.duckdb", demo))
    period = Period.inclusive(date(2026, 11, 1), TODAY)
    book, as_of = load_pricebook(), TODAY + timedelta(days=1)
    try:
        with reader.connect() as con:
            same = what_if_from_warehouse(con, period, book, Levers(), as_of=as_of)
            migrated = what_if_from_warehouse(con, period, book, Levers(migrate_s3=True), as_of=as_of)
            overview = cost_overview(con, book, today=TODAY, period=period)
    finally:
        reader.close()
    assert same.baseline.total_micros == overview.estimate.total_micros
    assert same.diff["delta_micros"].tolist() == [0] * len(same.diff)
    # Moving the S3 lessons (read only for this lever) as basic assets adds storage; basic encoding is free.
    added = migrated.diff.set_index("item")["delta_micros"]
    assert added["storage"] > 0 and added["total"] == added["storage"] and added["encoding"] == 0
    assert any(f"{len(demo.s3_lessons)} S3 lessons migrated" in note for note in migrated.notes)
    assert migrated.baseline.total_micros == same.baseline.total_micros

"""Cost inputs read from a published warehouse give the same estimate as the frames they came from."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from core.costs.estimate import Period, estimate_costs
from core.costs.pricebook import load_pricebook
from core.costs.report import rollup
from tests.costs.demo import build_demo, write_warehouse
from warehouse.costs import cost_overview, estimate_period, load_cost_inputs, load_s3_lessons
from warehouse.reader import WarehouseReader

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
            from_warehouse, attribution = estimate_period(con, period, book, today=TODAY)
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

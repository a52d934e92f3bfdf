"""The delivery-usage job: Mux's allowed window, one row per asset and day, the partial day replaced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from sync.usage import allowed_window, run_usage
from tests.warehouse.factories import FakeUsage
from warehouse.schema import migrate

NOW = datetime(2025, 3, 20, 15, 37, tzinfo=UTC)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    migrate(connection)
    return connection


def hourly(days: int, end: datetime) -> dict[tuple[str, datetime], float]:
    out = {}
    hour = end - timedelta(days=days)
    while hour < end:
        out[("asset-1", hour)] = 60.0
        if hour.hour % 2 == 0:
            out[("asset-2", hour)] = 30.0
        hour += timedelta(hours=1)
    return out


def test_allowed_window_is_hour_aligned_and_lags_twelve_hours() -> None:
    start, end = allowed_window(NOW)
    assert end == datetime(2025, 3, 20, 3, tzinfo=UTC)
    assert start.minute == 0 and NOW - start < timedelta(days=90)


def test_backfill_then_partial_day_is_replaced(con: duckdb.DuckDBPyConnection) -> None:
    data = hourly(100, NOW)
    source = FakeUsage(data)
    first = run_usage(con, source, now=NOW, backfill_days=5)
    assert first.status == "ok" and first.watermark == datetime(2025, 3, 20, 3, tzinfo=UTC)
    lo, hi = allowed_window(NOW)
    assert all(lo <= a and b <= hi and a.minute == 0 for a, b in source.calls)
    rows = con.execute("SELECT usage_day, asset_id, delivered_seconds FROM delivery_usage ORDER BY 1, 2").fetchall()
    assert rows[-2:] == [
        (datetime(2025, 3, 20).date(), "asset-1", 3 * 60.0),
        (datetime(2025, 3, 20).date(), "asset-2", 2 * 30.0),
    ]

    # Six hours later the 20th has more hours; its rows are replaced, not added to.
    later = NOW + timedelta(hours=6)
    source.calls.clear()
    run_usage(con, source, now=later)
    assert source.calls[0][0] == datetime(2025, 3, 20, tzinfo=UTC)
    day = con.execute(
        "SELECT count(*), sum(delivered_seconds) FROM delivery_usage WHERE usage_day = DATE '2025-03-20'"
    ).fetchall()
    assert day == [(2, 9 * 60.0 + 5 * 30.0)]
    full_days = con.execute(
        "SELECT sum(delivered_seconds) FROM delivery_usage WHERE usage_day = DATE '2025-03-18'"
    ).fetchall()
    assert full_days == [(24 * 60.0 + 12 * 30.0,)]
    assert con.execute("SELECT count(*) - count(DISTINCT (asset_id, window_start)) FROM delivery_usage").fetchall() == [
        (0,)
    ]


def test_rerun_is_harmless(con: duckdb.DuckDBPyConnection) -> None:
    source = FakeUsage(hourly(10, NOW))
    run_usage(con, source, now=NOW, backfill_days=7)
    before = con.execute("SELECT count(*), sum(delivered_seconds) FROM delivery_usage").fetchall()
    run_usage(con, source, now=NOW, backfill_days=7)
    run_usage(con, source, now=NOW, since=NOW - timedelta(days=7))
    assert con.execute("SELECT count(*), sum(delivered_seconds) FROM delivery_usage").fetchall() == before

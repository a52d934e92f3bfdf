"""Legacy rows (keyed by Mux's opaque id before schema v7): replaced by Mux id or by content, never lost."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import duckdb

from tests.warehouse.factories import T0, make_view, mux_id
from warehouse import legacy_views
from warehouse.loaders import upsert, views_to_arrow
from warehouse.schema import migrate

LOADED = datetime(2025, 3, 5, tzinfo=UTC)


def warehouse_with_legacy_rows(views: list[dict[str, object]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    migrate(con)
    upsert(con, "mux_views", views_to_arrow([{**v, "view_id": v["id"]} for v in views], loaded_at=LOADED), ["view_id"])
    con.execute("UPDATE mux_views SET legacy_key = TRUE, mux_view_id = view_id")
    con.execute(
        "INSERT INTO sync_view_rereads "
        "SELECT timezone('UTC', view_end)::DATE, count(*), now() FROM mux_views GROUP BY 1"
    )
    return con


def test_content_matches_replace_only_the_days_legacy_twins() -> None:
    views = [make_view(n, end=T0 + timedelta(hours=n), viewer=100 + n) for n in range(1, 30)]  # 03-01 and 03-02
    con = warehouse_with_legacy_rows(views)
    assert legacy_views.reread_days(con) == [date(2025, 3, 1), date(2025, 3, 2)]
    # The day's file brings all of 03-01's views but one (Mux no longer serves it), under their UUIDs.
    first_day = [v for v in views if str(v["view_end"]).startswith("2025-03-01")]
    upsert(con, "mux_views", views_to_arrow(first_day[1:], loaded_at=LOADED), ["view_id"])
    replaced, days = legacy_views.drop_replaced_by_content(con, date(2025, 3, 1))
    assert replaced == len(first_day) - 1 and days == (date(2025, 3, 1), date(2025, 3, 1))
    assert legacy_views.remaining(con, date(2025, 3, 1)) == 1  # the one Mux no longer serves, kept
    assert legacy_views.remaining(con, date(2025, 3, 2)) == len(views) - len(first_day)  # other days untouched
    legacy_views.finish(con, date(2025, 3, 1))
    assert legacy_views.reread_days(con) == [date(2025, 3, 2)]
    assert con.execute("SELECT count(*) FROM mux_views").fetchall() == [(len(views),)]


def test_a_different_view_with_the_same_times_is_no_twin() -> None:
    view = make_view(1, end=T0 + timedelta(hours=3), viewer=7)
    con = warehouse_with_legacy_rows([view])
    other = make_view(2, end=T0 + timedelta(hours=3), viewer=8)  # same start and end, another viewer
    upsert(con, "mux_views", views_to_arrow([other], loaded_at=LOADED), ["view_id"])
    assert legacy_views.drop_replaced_by_content(con, date(2025, 3, 1)) == (0, None)


def test_list_and_get_rows_replace_legacy_rows_by_mux_id() -> None:
    views = [make_view(n, end=T0 + timedelta(hours=n)) for n in range(1, 6)]
    con = warehouse_with_legacy_rows(views)
    con.register("batch", views_to_arrow(views[:3], loaded_at=LOADED).select(["mux_view_id"]))
    replaced, days = legacy_views.drop_replaced_by_id(con, "batch")
    assert (replaced, days) == (3, (date(2025, 3, 1), date(2025, 3, 1)))
    left = sorted(r[0] for r in con.execute("SELECT view_id FROM mux_views WHERE legacy_key").fetchall())
    assert left == [mux_id(4), mux_id(5)]

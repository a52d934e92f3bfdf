"""The Warehouse page (analysts, admins): documented tables and views with their row counts, read-only."""

from __future__ import annotations

from tests.dashboard.conftest import AppFactory
from tests.dashboard.world import World
from warehouse.reader import open_analyst_connection
from warehouse.schema import TABLES, VIEWS


def test_row_counts_equal_the_snapshot(app: AppFactory, world: World) -> None:
    at = app("analyst", page="pages/warehouse.py")
    assert not at.exception
    shown = at.dataframe[0].value.set_index("name")
    assert list(shown.index) == [*TABLES, *VIEWS]
    con = open_analyst_connection(world.warehouse_path)
    try:
        for name in ("mux_views", "lessons", "lesson_daily", "v_lesson_retention"):
            assert shown.loc[name, "rows"] == con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]
    finally:
        con.close()
    assert shown.loc["mux_views", "rows"] == 160
    assert "view_id" in shown.loc["mux_views", "columns"]
    assert "password_hash" not in " ".join(shown["columns"])


def test_teachers_navigation_has_no_warehouse_page(app: AppFactory) -> None:
    # Not in a teacher's navigation: asking for it lands on their default page (the page itself also
    # refuses teachers when run directly: test_auth.test_pages_check_the_role_themselves).
    at = app("teacher_a", page="pages/warehouse.py")
    assert [t.value for t in at.title] == ["My lessons"]
    assert not [f for f in at.dataframe if "rows" in f.value.columns]

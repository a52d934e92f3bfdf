"""The SQL page in headless Chromium against `streamlit run`: an analyst signs in, runs a saved query with
Ctrl+Enter, draws a chart and downloads the result as CSV; a teacher's queries see only their own courses.
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.db.engine import make_engine, make_session_factory
from core.saved_queries import SavedQueries
from tests.conftest import free_port
from tests.dashboard.test_browser import CHROMIUM_ARGS, ROOT, shot, wait_healthy
from tests.dashboard.world import PASSWORD, World, build_world
from warehouse.sql.examples import VIEWS_BY_COURSE_WEEK

pytestmark = pytest.mark.browser
SAVED = "Weekly views (browser)"


@pytest.fixture(scope="module")
def dashboard(chromium_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, str]]:
    root = tmp_path_factory.mktemp("sql-browser")
    world = build_world(root / "world")
    engine = make_engine(world.database_url)
    SavedQueries(make_session_factory(engine)).save(
        name=SAVED,
        description="Views per course and week",
        sql=VIEWS_BY_COURSE_WEEK.sql,
        author_id=world.users["analyst"],
    )
    engine.dispose()
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MUX_", "LECTERN_", "S3_", "AWS_"))},
        **world.env(),
        "LECTERN_CORS_ORIGIN": f"http://127.0.0.1:{port}",
    }
    log = (root / "streamlit.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py"), "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc)
        yield world, f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def signed_in(browser: Any, url: str, email: str) -> Any:
    context = browser.new_context(viewport={"width": 1400, "height": 1100}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(url)
    # The first page of a fresh server process imports the whole dashboard: slow on a busy 2-core machine.
    page.get_by_role("textbox", name="Email").wait_for(timeout=90_000)
    page.get_by_role("textbox", name="Email").fill(email)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="SQL").click()
    page.get_by_role("heading", name="SQL").wait_for()
    return page


def pick(page: Any, label: str, option: str) -> None:
    page.get_by_test_id("stSelectbox").filter(has_text=label).click()
    page.get_by_role("option", name=option, exact=True).click()


def run_with_ctrl_enter(page: Any, sql: str | None = None) -> None:
    editor = page.get_by_role("textbox", name="SQL")
    if sql is not None:
        editor.fill(sql)
    editor.press("Control+Enter")


def test_an_analyst_runs_a_saved_query_charts_it_and_downloads_csv(browser: Any, dashboard: tuple[World, str]) -> None:
    world, url = dashboard
    page = signed_in(browser, url, world.emails["analyst"])
    pick(page, "Saved and example queries", f"Saved: {SAVED} (by An Analyst)")
    page.get_by_text("Views per course and week").wait_for()
    assert "v_daily_lesson_engagement" in page.get_by_role("textbox", name="SQL").input_value()
    run_with_ctrl_enter(page)
    page.get_by_text(" rows · ").wait_for()
    page.get_by_test_id("stDataFrame").first.wait_for()

    pick(page, "Chart", "line")
    pick(page, "y", "views")
    pick(page, "colour", "course_title")
    chart = page.locator(".js-plotly-plot").filter(has_text="views by week")
    chart.first.wait_for(state="visible")
    shot(page, "sql-chart")

    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert download.value.suggested_filename == "query.csv"
    assert {r["course_title"] for r in rows} == {"Alpha Python", "Beta Watercolour"}
    assert sum(int(r["views"]) for r in rows) == 160
    page.context.close()


def test_a_teachers_queries_see_only_their_own_courses(browser: Any, dashboard: tuple[World, str]) -> None:
    world, url = dashboard
    page = signed_in(browser, url, world.emails["teacher_b"])
    page.get_by_text("only the rows of the courses you teach").wait_for()
    run_with_ctrl_enter(page, "SELECT title FROM courses UNION ALL SELECT DISTINCT browser FROM mux_views")
    page.get_by_text(" rows · ").wait_for()
    grid = page.get_by_test_id("stDataFrame").first
    grid.wait_for()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    titles = {r["title"] for r in csv.DictReader(io.StringIO(Path(download.value.path()).read_text()))}
    assert "Beta Watercolour" in titles and "Alpha Python" not in titles
    shot(page, "sql-teacher")
    page.context.close()

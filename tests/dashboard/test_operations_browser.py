"""Admin > Operations in headless Chromium: an admin signs in, opens Operations from the sidebar and sees the
failing upload (with Mux's error) and the firing alert. `streamlit run` on a free port over the dashboard
world plus the operations rows (tests/dashboard/operations_world.py). Screenshot in test-artifacts/.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from core.db.engine import make_engine, make_session_factory
from tests.conftest import free_port
from tests.dashboard.operations_world import UPLOAD_ERROR, seed_platform
from tests.dashboard.test_browser import ARTIFACTS, CHROMIUM_ARGS, ROOT, open_page, wait_healthy
from tests.dashboard.world import PASSWORD, World, build_world

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def dashboard(chromium_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, str]]:
    root = tmp_path_factory.mktemp("operations-browser")
    world = build_world(root / "world")
    engine = make_engine(world.database_url)
    teachers = {k: world.users[k] for k in ("teacher_a", "teacher_b")}
    seed_platform(make_session_factory(engine), datetime.now(UTC), world.lessons, teachers)
    engine.dispose()
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MUX_", "LECTERN_", "S3_", "AWS_"))}
    env = clean | world.env() | {"LECTERN_CORS_ORIGIN": f"http://127.0.0.1:{port}"}
    log = (root / "streamlit.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py"), "--server.address",
         "127.0.0.1", "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
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


def test_an_admin_sees_the_failing_upload_and_the_firing_alert(chromium_path: str, dashboard: Any) -> None:
    from playwright.sync_api import sync_playwright

    world, url = dashboard
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.set_default_timeout(30_000)
        page.goto(url)
        page.get_by_role("textbox", name="Email").fill(world.emails["admin"])
        page.get_by_role("textbox", name="Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="My lessons").wait_for()
        open_page(page, "Operations")

        def card(label: str) -> str:
            metric = page.get_by_test_id("stMetric").filter(has=page.get_by_text(label, exact=True))
            return str(metric.get_by_test_id("stMetricValue").inner_text())

        page.get_by_text("Failed uploads, newest first").wait_for()
        assert card("Errored") == "1" and card("Firing alerts") == "1"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard-operations.png"))
        # The uploads table draws on a canvas; once on screen, its cells are also in the grid's accessible table.
        page.get_by_text("Failed uploads, newest first").scroll_into_view_if_needed()
        page.locator('td[role="gridcell"]', has_text=UPLOAD_ERROR).first.wait_for(state="attached")
        page.screenshot(path=str(ARTIFACTS / "dashboard-operations-uploads.png"))
        browser.close()

"""Layout at the two widths people use (1400 px and a 1024 px laptop): every admin page in headless Chromium
over a warehouse with months of Mux usage and long course and lesson titles. Nothing may be clipped or
overlap: KPI labels and values whole, chart titles inside their chart, legends clear of titles and tick
labels, tick labels inside the chart. Screenshots go to test-artifacts/layout-<width>-<page>.png.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from dashboard.navigation import DEFAULT_PAGE, pages_for
from tests.conftest import free_port
from tests.costs.demo import build_demo, write_warehouse
from tests.dashboard.test_browser import ARTIFACTS, browser, wait_healthy  # noqa: F401 (browser: a fixture)
from tests.dashboard.world import PASSWORD, World, build_world

pytestmark = pytest.mark.browser

WIDTHS = (1400, 1024)
LONG_COURSES = [
    "Data Analysis with Python and pandas: from Spreadsheets to Notebooks",
    "Watercolour Landscapes for Complete Beginners, Part Two",
]
# What every page must satisfy, measured in the page: a list of what is wrong (empty when all is well).
LAYOUT_PROBLEMS = """() => {
  const problems = [];
  const box = (e) => e.getBoundingClientRect();
  const overlap = (a, b) => a.width > 0 && b.width > 0 &&
    !(a.right <= b.left + 1 || b.right <= a.left + 1 || a.bottom <= b.top + 1 || b.bottom <= a.top + 1);
  for (const metric of document.querySelectorAll('[data-testid="stMetric"]')) {
    const parts = '[data-testid="stMetricLabel"] *, [data-testid="stMetricValue"] *, [data-testid="stMetricDelta"] *';
    for (const e of metric.querySelectorAll(parts)) {
      if (e.scrollWidth > e.clientWidth + 1) problems.push(`metric cut: ${metric.innerText.split("\\n")[0]}`);
    }
  }
  const labels = '[data-testid="stWidgetLabel"] *, [data-testid="stCheckbox"] label *, [role="tab"] *';
  for (const e of document.querySelectorAll(labels)) {
    if (e.scrollWidth > e.clientWidth + 1 && e.innerText) problems.push(`label cut: ${e.innerText}`);
  }
  for (const plot of document.querySelectorAll('.js-plotly-plot')) {
    const svg = plot.querySelector('svg.main-svg');
    if (!svg) continue;
    const frame = box(svg);
    const title = plot.querySelector('.g-gtitle text');
    const name = title ? title.textContent : '(untitled chart)';
    const legend = plot.querySelector('g.legend');
    const ticks = [...plot.querySelectorAll('g.xtick text, g.ytick text, g.x2tick text, g.y2tick text')];
    if (title && (box(title).left < frame.left - 1 || box(title).right > frame.right + 1)) {
      problems.push(`title cut: ${name}`);
    }
    if (title && legend && overlap(box(title), box(legend))) problems.push(`legend over the title: ${name}`);
    for (const tick of ticks) {
      const t = box(tick);
      const what = `${name}: ${tick.textContent}`;
      if (t.left < frame.left - 1 || t.right > frame.right + 1) problems.push(`tick label cut: ${what}`);
      if (legend && overlap(t, box(legend))) problems.push(`legend over a tick label: ${what}`);
    }
  }
  return [...new Set(problems)];
}"""


@pytest.fixture(scope="module")
def dashboard(chromium_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, World]]:
    root = tmp_path_factory.mktemp("layout")
    world = build_world(root / "world")
    demo = build_demo(datetime.now(UTC).date())
    demo.courses["title"] = [LONG_COURSES[i % 2] + f" ({i + 1})" for i in range(len(demo.courses))]
    demo.lessons["title"] = [
        f"{p}. Reshaping wide and long tables with melt, pivot and stack ({i})"
        for i, p in zip(demo.lessons["id"], demo.lessons["position"], strict=True)
    ]
    warehouse = write_warehouse(root / "costs" / "warehouse.duckdb", demo)
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MUX_", "LECTERN_", "S3_", "AWS_"))},
        **world.env(),
        "LECTERN_WAREHOUSE_PATH": str(warehouse),
        "LECTERN_MONTHLY_BUDGET_USD": "50",
        "S3_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    log = (root / "streamlit.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    origin = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(origin, proc)
        yield origin, world
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def open_page(tab: Any, title: str, url_path: str) -> None:
    """Follow the sidebar link (exact names: "Migration" and "Migration actions" are two pages)."""
    tab.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
    default = url_path == DEFAULT_PAGE["admin"].removeprefix("pages/").removesuffix(".py")
    tab.wait_for_function(
        "([path, isDefault]) => location.pathname.replace(/\\/$/, '').endsWith('/' + path)"
        " || (isDefault && /^\\/?$/.test(location.pathname))",
        arg=[url_path, default],
    )


def settle(tab: Any) -> None:
    """Wait until the script run is over (no spinner either) and every chart is drawn."""
    tab.wait_for_function(
        "() => document.querySelector('[data-testid=\"stApp\"]').dataset.testScriptState === 'notRunning'"
        " && !document.querySelector('[data-testid=\"stSpinner\"]')"
        " && [...document.querySelectorAll('.js-plotly-plot')].every(p => p.querySelector('svg.main-svg'))",
        timeout=120_000,
    )
    tab.wait_for_timeout(800)  # plotly lays out its labels a frame after its svg exists


@pytest.mark.parametrize("width", WIDTHS)
def test_no_page_clips_or_overlaps_labels(browser: Any, dashboard: tuple[str, World], width: int) -> None:  # noqa: F811
    origin, world = dashboard
    context = browser.new_context(viewport={"width": width, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    tab.goto(origin)
    tab.get_by_role("textbox", name="Email").fill(world.emails["admin"])
    tab.get_by_role("textbox", name="Password").fill(PASSWORD)
    tab.get_by_role("button", name="Sign in").click()
    tab.get_by_role("heading", name="My lessons").wait_for()
    more = tab.get_by_test_id("stSidebarNavViewButton")  # a long navigation shows "View more" first
    if more.count() and "more" in more.inner_text().lower():
        more.click()
    found: dict[str, list[str]] = {}
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        for spec in [s for specs in pages_for("admin").values() for s in specs]:
            name = spec.path.removeprefix("pages/").removesuffix(".py")
            open_page(tab, spec.title, name)
            settle(tab)
            for tab_name in ("Trend", "Funnel", "S3 vs Mux") if spec.title == "Engagement" else (None,):
                if tab_name is not None:
                    tab.get_by_role("tab", name=tab_name).click()
                    settle(tab)
                problems = tab.evaluate(LAYOUT_PROBLEMS)
                if problems:
                    found[f"{spec.title} {tab_name or ''}".strip()] = problems
            # The page scrolls inside Streamlit's main block: a window as tall as that block shows all of it.
            height = tab.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
            tab.set_viewport_size({"width": width, "height": max(900, min(int(height), 12_000))})
            tab.screenshot(path=str(ARTIFACTS / f"layout-{width}-{name}.png"))
            tab.set_viewport_size({"width": width, "height": 900})
    finally:
        context.close()
    assert not found, "\n".join(f"{where}: {problem}" for where, problems in found.items() for problem in problems)

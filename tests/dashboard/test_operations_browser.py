"""Admin > Operations in headless Chromium, over problems the test causes through the Mux emulator: a teacher's
direct upload of a file that is not a video (Mux errors the asset; its webhook reaches the API), and views
of a lesson with a high playback failure rate (the emulator's traffic simulator), which the real `views` and
`alerts` sync jobs turn into a firing alert. An admin signs in, sees the failing upload with Mux's error and
the firing alert, picks the alert and acknowledges it: the alert row names the admin, and the audit log too.

The stack is test_browser.py's (the emulator, the API receiving its webhooks, moto S3, `streamlit run`), one
per module. Screenshots in test-artifacts/.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from core.container import Lectern
from core.db.models import Alert, OperatorAction, Upload
from core.settings import load_settings
from emulator.testing import EmulatorServer
from lectern.sample_media import make_clip
from sync.runner import SyncContext, run_jobs
from tests.dashboard.test_browser import (  # noqa: F401 - the module-scoped stack and browser fixtures
    ARTIFACTS,
    Stack,
    browser,
    open_page,
    stack,
)
from tests.dashboard.world import PASSWORD, World
from tests.waiting import wait_until

pytestmark = pytest.mark.browser

# Fire on the first evaluation: the default rule waits 10 minutes and wants 50 views.
RULES = {"playback_failure": {"for_s": 0, "min_count": 20}}


@pytest.fixture(scope="module")
def lectern(stack: Stack) -> Iterator[Lectern]:  # noqa: F811
    """The services the sync runs with, on the stack's platform DB, warehouse and emulator."""
    world, emu = stack.world, stack.emu
    settings = load_settings(
        database_url=world.database_url, warehouse_path=world.warehouse_path, mux_api_url=emu.url,
        mux_token_id=emu.token_id, mux_token_secret=emu.token_secret, alert_rules=RULES, monthly_budget_usd=None,
        pseudonym_key=world.env()["LECTERN_PSEUDONYM_KEY"], sync_backfill_days=1,
    )  # fmt: skip
    with Lectern.from_settings(settings, kind="sync") as services:
        yield services


def upload(lectern: Lectern, world: World, lesson: str, data: bytes) -> str:
    """A teacher's direct upload of `data` for the lesson, straight to the emulator's upload URL."""
    ticket = lectern.lessons.request_upload(world.users["teacher_a"], world.lessons[lesson])
    httpx.put(ticket.url, content=data, timeout=30).raise_for_status()
    return ticket.upload_id


def finished(lectern: Lectern, upload_id: str, status: str) -> Upload | None:
    """The upload's row once the webhooks have brought it to `status`."""
    with lectern.session_factory() as s:
        row = s.execute(select(Upload).where(Upload.mux_upload_id == upload_id)).scalar_one()
    return row if row.status == status else None


def cause_trouble(lectern: Lectern, world: World, emu: EmulatorServer, clip: Path) -> str:
    """Both problems through the emulator, then the sync's `views` and `alerts` jobs; Mux's upload error."""
    broken = upload(lectern, world, "a_errored", os.urandom(64 * 1024))
    good = upload(lectern, world, "a_waiting", clip.read_bytes())
    # The API applies the emulator's webhooks: one upload ends errored with Mux's message, one ready.
    errored = wait_until(lambda: finished(lectern, broken, "errored"), 60, what="the broken upload errored")
    ready = wait_until(lambda: finished(lectern, good, "ready"), 60, what="the good upload ready")
    # Most views of the ready lesson fail (a high failure rate), all over a few minutes ago.
    end = datetime.now(UTC) - timedelta(minutes=3)
    simulated = emu.http.post("/_emulator/simulate", json={
        "days": 0.02, "views": 80, "seed": 11, "end": end.timestamp(), "viewers": 20,
        "lessons": {str(world.lessons["a_waiting"]): ready.mux_asset_id}, "knobs": {"failure_rate": 0.5},
    }, timeout=60)  # fmt: skip
    assert simulated.status_code == 200, simulated.text
    ctx = SyncContext.from_settings(lectern.settings, lectern=lectern)
    try:
        results = {r.job: r for r in run_jobs(ctx, ["views", "alerts"])}
    finally:
        ctx.close()
    assert {job: r.status for job, r in results.items()} == {"views": "ok", "alerts": "ok"}, results
    assert results["alerts"].details["fired"] == ["playback_failure"], results["alerts"].details
    return str(errored.error)


def firing(lectern: Lectern) -> Alert:
    with lectern.session_factory() as s:
        return s.execute(select(Alert).where(Alert.kind == "playback_failure", Alert.state == "firing")).scalar_one()


def test_an_admin_sees_the_failing_upload_and_the_firing_alert_and_acknowledges_it(
    browser: Any,  # noqa: F811
    stack: Stack,  # noqa: F811
    lectern: Lectern,
    tmp_path: Path,
) -> None:
    admin = stack.world.emails["admin"]
    clip = make_clip(tmp_path / "short.mp4", seconds=1.5, width=160, height=120, fps=10)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(stack.dashboard)  # the dashboard's first run loads while the emulator and the sync work
    error = cause_trouble(lectern, stack.world, stack.emu, clip)
    page.get_by_role("textbox", name="Email").fill(admin)
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
    # Tables draw on a canvas; the cells on screen are also in the grid's accessible table.
    alerts = page.get_by_test_id("stDataFrame").filter(has=page.locator('td[role="gridcell"]', has_text="firing"))
    alerts.locator('td[role="gridcell"]', has_text="playback_failure").first.wait_for(state="attached")
    # Pick the alert: the row marker at the left of its first row (under the 35 px header).
    box = alerts.bounding_box()
    page.mouse.click(box["x"] + 14, box["y"] + 35 + 17)
    acknowledge = page.get_by_role("button", name="Acknowledge")
    wait_until(acknowledge.is_enabled, 30, what="the Acknowledge button enabled by the pick")
    acknowledge.click()
    page.get_by_text(f"acknowledged by {admin}").wait_for()
    page.screenshot(path=str(ARTIFACTS / "dashboard-operations-acknowledged.png"))

    alert = firing(lectern)
    assert alert.acknowledged_by == admin and alert.acknowledged_at is not None
    with lectern.session_factory() as s:
        audit = s.execute(select(OperatorAction).where(OperatorAction.action == "alert.acknowledge")).scalar_one()
    assert (audit.actor, audit.target, audit.outcome) == (admin, f"alert:{alert.id}", "acknowledged")

    # The failing upload, with the error Mux gave for it, in the uploads table.
    page.get_by_text("Failed uploads, newest first").scroll_into_view_if_needed()
    page.locator('td[role="gridcell"]', has_text=error[:40]).first.wait_for(state="attached")
    context.close()

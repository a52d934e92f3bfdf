"""The note every page shows while `lectern demo` prepares its sample data, read from the progress file."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.demo_progress import DemoProgress, StepProgress, write_progress
from dashboard.demo_progress_note import note
from tests.dashboard.conftest import AppFactory
from tests.dashboard.world import World

STEPS = (
    StepProgress("seed", "seeding sample data", state="done", started_at=100.0, ended_at=110.0),
    StepProgress("simulate", "simulating 90 days of views", state="running", started_at=110.0, log="/v/sim.log"),
    StepProgress("sync", "loading the warehouse", log="/v/logs/prepare-sync.log"),
)
RUNNING = DemoProgress(state="preparing", started_at=95.0, steps=STEPS)


def test_a_running_step_is_named_with_its_number_and_time() -> None:
    tone, text = note(RUNNING, now=205.0) or ("", "")
    assert tone == "info"
    assert "step 2 of 3, simulating 90 days of views, 1:35 so far (started 1:50 ago)" in text
    assert "fill in" in text


def test_a_failed_step_is_named_with_its_log() -> None:
    failed = RUNNING.with_step("simulate", state="done").with_step("sync", state="failed").ended("failed")
    tone, text = note(failed, now=300.0) or ("", "")
    assert tone == "error"
    assert "step 3 of 3 (loading the warehouse) failed" in text and "/v/logs/prepare-sync.log" in text


@pytest.mark.parametrize("state", ["done", "stopped"])
def test_nothing_once_done_or_stopped(state: str) -> None:
    assert note(RUNNING.ended(state), now=300.0) is None  # type: ignore[arg-type]
    assert note(None, now=300.0) is None


def test_every_page_shows_it_while_preparing_and_none_once_done(
    app: AppFactory, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "demo-progress.json"
    monkeypatch.setenv("LECTERN_DEMO_PROGRESS_FILE", str(path))
    write_progress(path, RUNNING)
    for at in (app(), app("teacher_a"), app("analyst", page="pages/engagement.py")):
        assert not at.exception
        assert any("step 2 of 3, simulating 90 days of views" in info.value for info in at.info), at.info

    write_progress(path, RUNNING.ended("done"))
    at = app("teacher_a")
    assert not at.exception
    assert not any("Preparing the sample data" in info.value for info in at.info)


def test_outside_the_demo_there_is_no_note(app: AppFactory, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LECTERN_DEMO_PROGRESS_FILE", raising=False)
    at = app("teacher_a")
    assert not at.exception
    assert not any("sample data" in info.value for info in at.info)

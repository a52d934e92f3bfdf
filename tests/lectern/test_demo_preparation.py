"""The demo's step runner: a line per step start and end, the progress file the dashboard reads, a log per
step, a failure named with its log, and Ctrl-C ending the step that runs."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from core.demo_progress import read_progress
from lectern.demo_plan import Step
from lectern.demo_preparation import Preparation
from tests.waiting import wait_until


def py(code: str) -> tuple[str, ...]:
    return (sys.executable, "-c", code)


def preparation(tmp_path: Path, steps: list[Step], lines: list[str]) -> Preparation:
    (tmp_path / "logs").mkdir(exist_ok=True)
    return Preparation(
        steps, env=dict(os.environ), logs=tmp_path / "logs", progress_file=tmp_path / "p.json", say=lines.append
    )


def test_steps_run_in_order_and_report_as_they_go(tmp_path: Path) -> None:
    steps = [
        Step("seed", "seeding", py("print('seeded')"), before_dashboard=True),
        Step("skip", "already there", py("raise SystemExit(9)"), needed=lambda: False),
        Step("stage", "staging failures", py("print('a failure'); print(); print('another')"), reports_staged=True),
    ]
    lines: list[str] = []
    prep = preparation(tmp_path, steps, lines)
    assert [s.state for s in prep.progress.steps] == ["pending"] * 3
    assert prep.run(steps[:1]) and prep.run(steps[1:])
    prep.finish()

    assert lines[0] == "[1/3] seeding…" and lines[1].startswith("[1/3] done in ")
    assert lines[2:4] == ["[2/3] already there…", "[2/3] already done"]
    assert prep.staged == ["a failure", "another"]
    progress = read_progress(tmp_path / "p.json")
    assert progress is not None and progress.state == "done"
    assert [s.state for s in progress.steps] == ["done"] * 3
    assert (tmp_path / "logs" / "prepare-seed.log").read_text() == "seeded\n"


def test_a_failed_step_stops_the_rest_and_names_its_log(tmp_path: Path) -> None:
    steps = [
        Step("sync", "loading", py("import sys; print('partial'); sys.exit('the warehouse is locked')")),
        Step("after", "never", py("open('ran', 'w')")),
    ]
    lines: list[str] = []
    prep = preparation(tmp_path, steps, lines)
    assert prep.run(steps) is False
    log = tmp_path / "logs" / "prepare-sync.log"
    assert lines[-1].startswith(f"[1/2] failed (exit 1); its output is in {log}")
    assert "the warehouse is locked" in lines[-1]  # the log's tail, in the terminal
    progress = read_progress(tmp_path / "p.json")
    assert progress is not None and progress.state == "failed"
    assert (progress.steps[0].state, progress.steps[0].log) == ("failed", str(log))
    assert progress.steps[1].state == "pending" and not (tmp_path / "ran").exists()


def test_stop_ends_the_running_step_and_marks_the_preparation_stopped(tmp_path: Path) -> None:
    steps = [Step("long", "simulating", py("import time; print('started', flush=True); time.sleep(600)"))]
    prep = preparation(tmp_path, steps, [])
    result: list[bool] = []
    runner = threading.Thread(target=lambda: result.append(prep.run(steps)))
    runner.start()
    log = tmp_path / "logs" / "prepare-long.log"
    wait_until(lambda: log.exists() and "started" in log.read_text(), 30, what="the step started")
    prep.stop()
    runner.join(timeout=30)
    assert result == [False]
    progress = read_progress(tmp_path / "p.json")
    assert progress is not None and progress.state == "stopped"
    assert prep.run(steps) is False  # nothing starts after a stop


@pytest.mark.parametrize(("earlier", "expected"), [("done", True), ("running", False)])
def test_a_second_start_knows_whether_the_dashboards_data_is_in_place(
    tmp_path: Path, earlier: str, expected: bool
) -> None:
    steps = [Step("seed", "seeding", py("pass"), before_dashboard=True), Step("sync", "loading", py("pass"))]
    first = preparation(tmp_path, steps, [])
    assert first.before_dashboard_done_before() is False  # nothing before it
    if earlier == "done":
        first.run(steps[:1])
    second = preparation(tmp_path, steps, [])
    assert second.before_dashboard_done_before() is expected
    progress = read_progress(tmp_path / "p.json")
    assert progress is not None and [s.state for s in progress.steps] == ["pending", "pending"]  # a new start

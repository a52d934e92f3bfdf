"""A migration worker's metrics (core/metrics.py, single-process mode here): job states, completions, failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import metrics
from core.migration.jobs import JobView
from tests.migration.helpers import MigrationEnv
from tests.waiting import wait_until


def value(name: str, **labels: str) -> float:
    return metrics.registry().get_sample_value(name, labels) or 0.0


def test_the_gauges_follow_the_job_states_and_the_counters_count_outcomes(
    sqlite_env: MigrationEnv, clips: list[Path], corrupt: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("core.migration.worker.JOB_COUNTS_EVERY_S", 0.0)  # count on every heartbeat (0.1 s here)
    good = sqlite_env.add_lesson(clips[0])
    bad = sqlite_env.add_lesson(corrupt)
    sqlite_env.start_all()
    before = {
        "completed": value("lectern_migration_jobs_completed_total"),
        "failures": value("lectern_migration_job_failures_total"),
        "workers": value("lectern_migration_workers"),
    }
    during: dict[str, float] = {}

    def hook(point: str, job: JobView) -> None:
        if point == "verified" and job.lesson_id == good:
            # The job is in `verifying` until the switch: a heartbeat's count shows it.
            wait_until(lambda: value("lectern_migration_jobs", state="verifying") == 1, timeout=10)
            during["workers"] = value("lectern_migration_workers")

    stats = sqlite_env.run_worker(hook=hook)

    assert (stats.done, stats.failed) == (1, 1)
    assert sqlite_env.job(good).state == "done" and sqlite_env.job(bad).state == "failed"
    assert during == {"workers": before["workers"] + 1}
    # Counted once more as the worker stopped.
    assert value("lectern_migration_jobs", state="done") == 1
    assert value("lectern_migration_jobs", state="failed") == 1
    assert value("lectern_migration_jobs", state="queued") == value("lectern_migration_jobs", state="verifying") == 0
    assert value("lectern_migration_workers") == before["workers"]
    assert value("lectern_migration_jobs_completed_total") == before["completed"] + 1
    assert value("lectern_migration_job_failures_total") == before["failures"] + 1

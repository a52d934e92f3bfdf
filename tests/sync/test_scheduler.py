"""APScheduler wiring: jobs persist in the platform DB, restarts keep the schedule, a job really runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.container import Lectern
from core.db.engine import make_engine
from core.db.migrate import upgrade
from core.settings import Settings, load_settings
from lectern.sample_data import SamplePlatform
from lectern.seed import write_platform
from sync.runner import JOBS
from sync.scheduler import build_scheduler, ensure_jobs, start
from tests.waiting import wait_until
from warehouse.reader import open_analyst_connection
from warehouse.store import WarehouseNotReady


@pytest.fixture
def settings(tmp_path: Path, sample_platform: SamplePlatform, monkeypatch: pytest.MonkeyPatch) -> Settings:
    db_url = f"sqlite:///{tmp_path / 'platform.db'}"
    upgrade(db_url)
    engine = make_engine(db_url)
    write_platform(engine, sample_platform)
    engine.dispose()
    env = {
        "DATABASE_URL": db_url,
        "LECTERN_WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb"),
        "MUX_TOKEN_ID": "",
        "MUX_TOKEN_SECRET": "",
        "LECTERN_PSEUDONYM_KEY": "scheduler-test-pseudonym-key-0123456789",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_settings()


def _wait_for_status(settings: Settings, job: str, timeout: float = 30.0) -> dict[str, object]:
    def status() -> dict[str, object] | None:
        try:
            con = open_analyst_connection(settings.warehouse_path)
        except WarehouseNotReady:
            return None
        rows = con.execute("SELECT job, status, error FROM sync_state").fetchall()
        con.close()
        return next(({"status": r[1], "error": r[2]} for r in rows if r[0] == job), None)

    return wait_until(status, timeout, what=f"a run of job {job}")


def test_jobs_run_and_persist_across_restarts(settings: Settings) -> None:
    scheduler = start(settings)
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert set(jobs) == {f"sync.{job}" for job in JOBS}
        assert all(job.max_instances == 1 and job.coalesce for job in jobs.values())
        assert _wait_for_status(settings, "platform")["status"] == "ok"
        # The alerts job runs (the Mux jobs failing below are at most pending alerts: not yet 30 min old).
        assert _wait_for_status(settings, "alerts")["status"] == "ok"
        # Without Mux credentials the Mux jobs fail, say why, and leave the others alone.
        views = _wait_for_status(settings, "views")
        assert views["status"] == "error" and "MUX_TOKEN_ID" in str(views["error"])
    finally:
        scheduler.shutdown(wait=True)

    restarted = build_scheduler(settings)
    restarted.start(paused=True)
    try:
        persisted = {job.id: job.next_run_time for job in restarted.get_jobs()}
        assert ensure_jobs(restarted, settings) == dict.fromkeys(JOBS, "kept")
        assert {job.id: job.next_run_time for job in restarted.get_jobs()} == persisted
        changed = settings.model_copy(update={"sync_views_interval_s": 60})
        assert ensure_jobs(restarted, changed)["views"] == "rescheduled"
        assert restarted.get_job("sync.views").trigger.interval.total_seconds() == 60  # type: ignore[union-attr]
    finally:
        restarted.shutdown(wait=False)


def test_every_run_uses_the_schedulers_one_container_and_shutdown_closes_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sync import scheduler as module
    from sync.runner import SyncContext

    given: list[object] = []
    build = SyncContext.from_settings

    def recording(settings: Settings, *, lectern: Lectern | None = None) -> SyncContext:
        given.append(lectern)
        return build(settings, lectern=lectern)

    monkeypatch.setattr(SyncContext, "from_settings", recording)
    scheduler = start(settings)
    try:
        container = module._lectern
        assert container is not None
        _wait_for_status(settings, "platform")
        _wait_for_status(settings, "alerts")
        assert "engine" in container.built  # the runs built their engine once, on this container
    finally:
        scheduler.shutdown(wait=True)
    assert len(given) >= 2 and all(lectern is container for lectern in given)
    assert container.built == () and module._lectern is None  # closed with the scheduler

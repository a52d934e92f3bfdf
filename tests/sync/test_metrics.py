"""A sync run against the Mux emulator moves the sync metrics (core/metrics.py, single-process mode here)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from core import metrics
from core.db.engine import make_engine
from core.settings import load_settings
from emulator.testing import EmulatorServer
from lectern.sample_data import SamplePlatform
from lectern.seed import write_platform
from sync.runner import SyncContext, run_jobs
from tests.conftest import migrated_database
from tests.sync.conftest import NOW
from tests.warehouse.factories import PSEUDONYM_SECRET


@pytest.fixture
def emu() -> Iterator[EmulatorServer]:
    with EmulatorServer(log_level="warning") as server:
        yield server


def value(name: str, **labels: str) -> float:
    return metrics.registry().get_sample_value(name, labels) or 0.0


def test_a_sync_run_counts_runs_rows_and_durations_and_sets_each_sources_lag(
    emu: EmulatorServer, sample_platform: SamplePlatform, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    db_url = migrated_database("sqlite", tmp_path_factory)
    engine = make_engine(db_url)
    write_platform(engine, sample_platform)
    engine.dispose()
    settings = load_settings(
        database_url=db_url,
        warehouse_path=tmp_path / "warehouse.duckdb",
        mux_api_url=emu.url,
        mux_token_id=emu.token_id,
        mux_token_secret=emu.token_secret,
        pseudonym_key=PSEUDONYM_SECRET.decode(),
    )
    before = {
        "ok": value("lectern_sync_job_runs_total", job="platform", status="ok"),
        "error": value("lectern_sync_job_runs_total", job="views", status="error"),
        "rows": value("lectern_sync_job_rows_total", job="platform"),
        "timed": value("lectern_sync_job_duration_seconds_count", job="assets"),
        "views watermark": value("lectern_sync_source_watermark_timestamp_seconds", source="views"),
    }
    ctx = SyncContext.from_settings(settings)
    ctx.clock = lambda: NOW
    try:
        results = {r.job: r for r in run_jobs(ctx, ["platform", "assets"])}
        ctx.views = None  # no Mux Data: the job fails, and the failure is counted
        [failed] = run_jobs(ctx, ["views"])
    finally:
        ctx.close()
    assert [r.status for r in results.values()] == ["ok", "ok"] and failed.status == "error"
    assert results["platform"].rows > 0

    assert value("lectern_sync_job_runs_total", job="platform", status="ok") == before["ok"] + 1
    assert value("lectern_sync_job_runs_total", job="views", status="error") == before["error"] + 1
    assert value("lectern_sync_job_rows_total", job="platform") == before["rows"] + results["platform"].rows
    assert value("lectern_sync_job_duration_seconds_count", job="assets") == before["timed"] + 1
    assert value("lectern_sync_job_last_success_timestamp_seconds", job="platform") == pytest.approx(
        time.time(), abs=60
    )
    # The platform snapshot's watermark is the run's clock (NOW, in 2025): the lag is now minus that, at scrape.
    lag = value("lectern_sync_source_lag_seconds", source="platform")
    assert lag == pytest.approx(time.time() - NOW.timestamp(), abs=60)
    assert 'lectern_sync_source_lag_seconds{source="platform"}' in generate_latest(metrics.registry()).decode()
    # A failed run leaves its source's watermark (and so its lag) where the last good run put it.
    assert value("lectern_sync_source_watermark_timestamp_seconds", source="views") == before["views watermark"]

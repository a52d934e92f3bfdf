"""/metrics under `lectern api --workers 2` over real HTTP: the sum over every worker, and in the same answer the
other processes writing to the metrics directory (recording through core.metrics, as the sync runner and the
migration workers do: tests/sync/test_metrics.py and tests/migration/test_metrics.py check those calls)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import JWT_SECRET
from tests.conftest import free_port
from tests.waiting import wait_until

# Records as the sync runner and a migration worker do (through core.metrics), then waits for its stdin to close.
HELPER = """
import sys
from datetime import UTC, datetime
from core import metrics
metrics.record_sync_job("platform", status="ok", duration_s=0.5, rows=42, watermark=datetime.now(UTC))
metrics.migration_worker_running(True)
metrics.set_migration_jobs({"queued": 3, "done": 2})
metrics.count_migration_job("failed")
metrics.set_alerts_firing({"budget": 1})
print("recorded", flush=True)
sys.stdin.read()
"""


@dataclass
class Served:
    url: str
    directory: Path
    env: dict[str, str]
    ended_pid: int


def lectern_env(tmp: Path, directory: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LECTERN_", "PROMETHEUS_"))}
    return env | {
        "DATABASE_URL": f"sqlite:///{tmp / 'lectern.db'}",
        "LECTERN_PLATFORM_JWT_SECRET": JWT_SECRET,
        "LECTERN_METRICS_ALLOW": "127.0.0.1/32",
        "LECTERN_METRICS_DIR": str(directory),
    }


def record_and_exit(env: dict[str, str], directory: Path) -> int:
    """A process that wrote metrics to `directory` and ended; its pid."""
    env = env | {"PROMETHEUS_MULTIPROC_DIR": str(directory)}
    proc = subprocess.run([sys.executable, "-c", HELPER], env=env, input="", capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "recorded"
    return int(next(directory.glob("counter_*.db")).stem.split("_")[-1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("metrics-api")
    directory = tmp / "metrics"
    env = lectern_env(tmp, directory)
    ended_pid = record_and_exit(env, directory)  # left over from before the API started
    port = free_port()
    argv = [sys.executable, "-m", "lectern", "api", "--port", str(port), "--workers", "2", "--no-access-log"]
    with tempfile.TemporaryFile() as log:  # a file, not a pipe: a full pipe would stall the server
        proc = subprocess.Popen(argv, cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"the API exited:\n{log.read().decode(errors='replace')[-3000:]}")
            try:
                return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            wait_until(up, timeout=90, interval=0.2, what="the API answering")
            yield Served(url, directory, env, ended_pid)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def scrape(served: Served) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    resp = httpx.get(f"{served.url}/metrics", timeout=10)
    assert resp.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(resp.text)
        for sample in family.samples
    }


def readyz_total(samples: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> float:
    return sum(
        value
        for (name, labels), value in samples.items()
        if name == "lectern_http_requests_total" and ("route", "/readyz") in labels
    )


def readyz_by_worker(directory: Path) -> dict[int, float]:
    """Each process's own /readyz count, read from its counter file."""
    counts: dict[int, float] = {}
    for path in directory.glob("counter_*.db"):
        total = 0.0
        for family in MultiProcessCollector.merge([str(path)]):
            total += sum(
                s.value
                for s in family.samples
                if s.name == "lectern_http_requests_total" and s.labels["route"] == "/readyz"
            )
        counts[int(path.stem.split("_")[-1])] = total
    return counts


def test_start_up_removed_the_files_of_processes_that_had_ended(served: Served) -> None:
    assert not list(served.directory.glob(f"*_{served.ended_pid}.db"))
    samples = scrape(served)
    assert not [key for key in samples if key[0] == "lectern_migration_job_failures_total"]


def test_metrics_add_up_the_requests_of_every_worker(served: Served) -> None:
    # /readyz: only this test calls it (the fixture waits on /healthz), so the expected total is exact.
    sent = 0

    def send_batch() -> bool:
        # Fresh connections, several at once, until both workers have answered some.
        nonlocal sent
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda _: httpx.get(f"{served.url}/readyz", timeout=10).status_code, range(40)))
        assert statuses == [200] * 40
        sent += 40
        return len([n for n in readyz_by_worker(served.directory).values() if n > 0]) >= 2

    wait_until(send_batch, timeout=90, interval=0, what="requests answered by both workers")
    # A worker counts a request once its answer is sent, so the last few may land just after the client has it.
    wait_until(lambda: readyz_total(scrape(served)) == sent, timeout=10, what=f"/metrics counting {sent} requests")
    by_worker = [n for n in readyz_by_worker(served.directory).values() if n > 0]
    assert len(by_worker) >= 2 and sum(by_worker) == sent and max(by_worker) < sent  # the sum, not one share


def test_the_scheduler_and_migration_workers_sharing_the_directory_show_up(served: Served) -> None:
    env = served.env | {"PROMETHEUS_MULTIPROC_DIR": str(served.directory)}
    worker = subprocess.Popen(
        [sys.executable, "-c", HELPER], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "recorded"
        samples = scrape(served)
        assert samples[("lectern_sync_job_runs_total", frozenset({("job", "platform"), ("status", "ok")}))] == 1
        assert samples[("lectern_sync_job_duration_seconds_count", frozenset({("job", "platform")}))] == 1
        assert samples[("lectern_sync_job_rows_total", frozenset({("job", "platform")}))] == 42
        lag = samples[("lectern_sync_source_lag_seconds", frozenset({("source", "platform")}))]
        assert 0 <= lag < 120  # measured at the scrape, from the watermark
        assert samples[("lectern_migration_workers", frozenset())] == 1
        assert samples[("lectern_migration_jobs", frozenset({("state", "queued")}))] == 3
        assert samples[("lectern_migration_job_failures_total", frozenset())] == 1
        assert samples[("lectern_alerts_firing", frozenset({("rule", "budget")}))] == 1
    finally:
        assert worker.stdin is not None
        worker.stdin.close()
        worker.wait(timeout=30)
    samples = scrape(served)
    assert ("lectern_migration_workers", frozenset()) not in samples  # a live gauge of an ended process goes
    assert samples[("lectern_migration_job_failures_total", frozenset())] == 1  # its counters stay in the sum
    assert samples[("lectern_migration_jobs", frozenset({("state", "queued")}))] == 3  # the last count stays

"""Prometheus metrics of the processes behind the API (sync, migration, alerts) and the shared directory.

prometheus_client keeps values one of two ways, chosen per process:
- **multiprocess**: `PROMETHEUS_MULTIPROC_DIR` names a directory; every process writes its values to its own
  mmap files there, and whoever answers a scrape merges the files of every process (`collect_directory`).
  `lectern api` turns it on for itself and its workers from LECTERN_METRICS_DIR (`prepare_directory`, then
  `use_directory`, before any worker exists); the sync scheduler and migration workers join when their
  environment carries the same directory in `PROMETHEUS_MULTIPROC_DIR` (docs/metrics.md).
- **single-process** (tests, a command run by hand): values live in memory, in `registry()`.

Jobs record through the functions below (`record_sync_job`, `set_migration_jobs`, `set_alerts_firing` ...),
never through prometheus_client directly, so the metric names and their multiprocess modes live here once.
A metric that cannot be written (an unwritable directory) is logged, never raised: a sync or a migration
does not fail over its metrics.

Processes that share a directory must share a process-id namespace (one host, or one pod): files are named
by process id, and a process's liveness is checked by its id.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, values
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

from core.logging import get_logger

log = get_logger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# The value files prometheus_client writes: counter_<pid>.db, histogram_<pid>.db, gauge_<mode>_<pid>.db.
_VALUE_FILE = re.compile(r"^(?:counter|histogram|summary|gauge_[a-z]+)_(\d+)\.db$")

WATERMARK = "lectern_sync_source_watermark_timestamp_seconds"
LAG = "lectern_sync_source_lag_seconds"
LAG_HELP = "Seconds between now and the newest data of this source in the warehouse (now - watermark), at scrape time."
# A sync job takes from under a second (nothing new) to about an hour (a 90-day backfill).
SYNC_DURATION_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


class LecternMetrics:
    """The sync, migration and alert metrics of one process (built once, by `_process_metrics`)."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.sync_runs = Counter(
            "lectern_sync_job_runs", "Sync job runs by job and outcome.", ["job", "status"], registry=registry
        )
        self.sync_duration = Histogram(
            "lectern_sync_job_duration_seconds",
            "How long each sync job run took.",
            ["job"],
            buckets=SYNC_DURATION_BUCKETS,
            registry=registry,
        )
        self.sync_rows = Counter(
            "lectern_sync_job_rows",
            "Rows the sync jobs wrote (fetched and upserted, or snapshotted).",
            ["job"],
            registry=registry,
        )
        # Watermarks never move back (sync/state.py), so the highest any process reached is the current one.
        self.sync_watermark = Gauge(
            WATERMARK,
            "Unix time up to which the warehouse holds this source (the job's watermark after its last good run).",
            ["source"],
            multiprocess_mode="max",
            registry=registry,
        )
        self.sync_last_success = Gauge(
            "lectern_sync_job_last_success_timestamp_seconds",
            "Unix time at which this sync job last finished without error.",
            ["job"],
            multiprocess_mode="max",
            registry=registry,
        )
        # The newest report wins; it stays after its worker exits, so "jobs queued, no worker" can alert.
        self.migration_jobs = Gauge(
            "lectern_migration_jobs",
            "Migration jobs by state, as a migration worker last counted them.",
            ["state"],
            multiprocess_mode="mostrecent",
            registry=registry,
        )
        self.migration_workers = Gauge(
            "lectern_migration_workers",
            "Migration workers running (live processes only).",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.migration_completed = Counter(
            "lectern_migration_jobs_completed",
            "Migration jobs finished: the lesson now plays from Mux.",
            registry=registry,
        )
        self.migration_failures = Counter(
            "lectern_migration_job_failures",
            "Migration jobs that ended failed (the lesson stays on S3).",
            registry=registry,
        )
        self.alerts_firing = Gauge(
            "lectern_alerts_firing",
            "Alerts firing per rule, as the alert job last evaluated them.",
            ["rule"],
            multiprocess_mode="mostrecent",
            registry=registry,
        )
        self.alert_rules: set[str] = set()


_lock = threading.Lock()
_metrics: LecternMetrics | None = None
_registry: CollectorRegistry | None = None


def multiprocess_dir() -> Path | None:
    """The directory this process writes its values to, or None in single-process mode."""
    if not getattr(values.ValueClass, "_multiprocess", False):
        return None
    path = os.environ.get(MULTIPROC_ENV)
    return Path(path) if path else None


def prepare_directory(directory: Path) -> int:
    """Create `directory` and remove the files of processes that are no longer running; the number removed.

    Run by `lectern api` before it starts its workers. Files of running processes stay: a sync scheduler or
    a migration worker writing here while the API restarts keeps its metrics (the file it writes to is the
    one the new API reads).
    """
    directory.mkdir(parents=True, exist_ok=True)
    removed = 0
    for path in directory.glob("*.db"):
        pid = _pid_of(path)
        if pid is not None and not _running(pid):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def use_directory(directory: Path) -> None:
    """Multiprocess mode for this process and every process it starts from now on, writing to `directory`.

    Must run before this process records any metric (the API calls it before it builds its app).
    """
    directory.mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROC_ENV] = str(directory.resolve())
    if getattr(values.ValueClass, "_multiprocess", False):
        return
    if _metrics is not None:
        raise RuntimeError("metrics were recorded in memory before the metrics directory was chosen")
    # prometheus_client picks its value class when first imported, from this variable; this process
    # imported it before the setting was read, so the same choice is made now. (Child processes import it
    # afresh and read the variable themselves.)
    values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]


def registry() -> CollectorRegistry:
    """This process's sync, migration and alert metrics in single-process mode (tests read it)."""
    _process_metrics()
    if _registry is None:
        raise RuntimeError("in multiprocess mode the metrics are in the directory: use collect_directory")
    return _registry


def collect_directory(directory: Path, *, now: Callable[[], float] = time.time) -> bytes:
    """Prometheus text for every process writing to `directory`: counters and histograms summed over
    processes (those that ended included), gauges by their mode, live gauges of ended processes dropped."""
    live_pids = {_pid_of(path) for path in directory.glob("gauge_live*.db")}
    for pid in live_pids:
        if pid is not None and not _running(pid):
            # Another API worker, scraped at the same moment, may remove the file first.
            with contextlib.suppress(FileNotFoundError):
                mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]
    fresh = CollectorRegistry()
    collector = MultiProcessCollector(None, path=str(directory))  # type: ignore[no-untyped-call]
    fresh.register(_WithLag(collector, now))
    return generate_latest(fresh)


# --- recording (sync/runner.py, core/migration/worker.py, the alert job) ------------------------------------


def record_sync_job(job: str, *, status: str, duration_s: float, rows: int, watermark: datetime | None) -> None:
    """One sync job run; a good run with a watermark also moves its source's watermark (and so its lag)."""

    def record(m: LecternMetrics) -> None:
        m.sync_runs.labels(job, status).inc()
        m.sync_duration.labels(job).observe(max(duration_s, 0.0))
        m.sync_rows.labels(job).inc(max(rows, 0))
        if status == "ok":
            m.sync_last_success.labels(job).set(time.time())
            if watermark is not None:
                m.sync_watermark.labels(job).set(watermark.timestamp())

    _record(record)


def set_migration_jobs(counts: Mapping[str, int]) -> None:
    """Migration jobs by state, every state included (0 where there are none)."""

    def record(m: LecternMetrics) -> None:
        for state, n in counts.items():
            m.migration_jobs.labels(state).set(n)

    _record(record)


def migration_worker_running(running: bool) -> None:
    """A migration worker started (True) or stopped (False) in this process."""
    _record(lambda m: m.migration_workers.inc() if running else m.migration_workers.dec())


def count_migration_job(outcome: str) -> None:
    """A migration job ended: `done` (switched to Mux) or `failed`; other outcomes are not counted."""
    if outcome == "done":
        _record(lambda m: m.migration_completed.inc())
    elif outcome == "failed":
        _record(lambda m: m.migration_failures.inc())


def set_alerts_firing(counts: Mapping[str, int]) -> None:
    """Alerts firing per rule after an evaluation. Pass every rule (0 for those not firing); a rule this
    process reported before and `counts` leaves out goes to 0."""

    def record(m: LecternMetrics) -> None:
        for rule in m.alert_rules - set(counts):
            m.alerts_firing.labels(rule).set(0)
        for rule, n in counts.items():
            m.alerts_firing.labels(rule).set(n)
        m.alert_rules |= set(counts)

    _record(record)


# --- internals ----------------------------------------------------------------------------------------------


def _process_metrics() -> LecternMetrics:
    global _metrics, _registry
    with _lock:
        if _metrics is None:
            directory = multiprocess_dir()
            if directory is None:
                _registry = CollectorRegistry(auto_describe=True)
                _metrics = LecternMetrics(_registry)
                _registry.register(_LagOf(_metrics.sync_watermark))
            else:
                # A scheduler or worker may start before the API ever made the directory.
                directory.mkdir(parents=True, exist_ok=True)
                _metrics = LecternMetrics(None)
        return _metrics


def _record(action: Callable[[LecternMetrics], object]) -> None:
    try:
        action(_process_metrics())
    except OSError as exc:
        log.warning("metrics.write_failed", directory=os.environ.get(MULTIPROC_ENV), error=str(exc))


def _pid_of(path: Path) -> int | None:
    match = _VALUE_FILE.match(path.name)
    return int(match.group(1)) if match else None


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def lag_family(watermarks: Metric, now: float) -> GaugeMetricFamily:
    """`lectern_sync_source_lag_seconds` from the watermark family, computed when scraped: a sync that
    stops running shows a lag that keeps growing, not the lag of its last run."""
    lag = GaugeMetricFamily(LAG, LAG_HELP, labels=["source"])
    for sample in watermarks.samples:
        if sample.name == WATERMARK:
            lag.add_metric([sample.labels["source"]], max(0.0, now - sample.value))
    return lag


class _WithLag(Collector):
    """Every family of `inner`, plus the lag derived from the watermark family."""

    def __init__(self, inner: Collector, now: Callable[[], float]) -> None:
        self.inner = inner
        self.now = now

    def collect(self) -> Iterator[Metric]:
        for family in self.inner.collect():
            yield family
            if family.name == WATERMARK:
                yield lag_family(family, self.now())


class _LagOf(Collector):
    """The lag of an in-memory watermark gauge (single-process mode)."""

    def __init__(self, watermarks: Gauge) -> None:
        self.watermarks = watermarks

    def collect(self) -> Iterable[Metric]:
        return [lag_family(family, time.time()) for family in self.watermarks.collect()]

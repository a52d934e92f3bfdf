"""core/metrics.py: the shared directory (start-up clean-up, merging, live gauges of ended processes, the lag)
and the recording functions."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.parser import text_string_to_metric_families

from core import metrics
from core.metrics import collect_directory, prepare_directory

RUNS = "lectern_sync_job_runs"


def ended_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def write(directory: Path, kind: str, pid: int, metric: str, sample: str, labels: dict[str, str], value: float) -> None:
    """A value as prometheus_client's multiprocess mode writes it (file per kind and process)."""
    values = MmapedDict(str(directory / f"{kind}_{pid}.db"))
    values.write_value(mmap_key(metric, sample, list(labels), list(labels.values()), "help"), value, 0.0)
    values.close()


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
    }


def test_start_up_removes_the_files_of_ended_processes_only(tmp_path: Path) -> None:
    gone, alive = ended_pid(), os.getpid()
    for name in (f"counter_{gone}.db", f"gauge_livesum_{gone}.db", f"counter_{alive}.db", "notes.db"):
        (tmp_path / name).write_bytes(b"")
    assert prepare_directory(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"counter_{alive}.db", "notes.db"]
    assert prepare_directory(tmp_path / "new" / "dir") == 0  # created when missing


def test_collect_sums_counters_keeps_the_highest_watermark_and_drops_live_gauges_of_ended_processes(
    tmp_path: Path,
) -> None:
    gone, alive = ended_pid(), os.getpid()
    job = {"job": "views", "status": "ok"}
    write(tmp_path, "counter", gone, RUNS, f"{RUNS}_total", job, 3)
    write(tmp_path, "counter", alive, RUNS, f"{RUNS}_total", job, 2)
    watermark = metrics.WATERMARK
    write(tmp_path, "gauge_max", gone, watermark, watermark, {"source": "views"}, 900.0)
    write(tmp_path, "gauge_max", alive, watermark, watermark, {"source": "views"}, 700.0)
    for pid in (gone, alive):
        write(tmp_path, "gauge_livesum", pid, "lectern_migration_workers", "lectern_migration_workers", {}, 1)

    found = samples(collect_directory(tmp_path, now=lambda: 1000.0))

    assert found[(f"{RUNS}_total", (("job", "views"), ("status", "ok")))] == 5  # an ended process still counts
    assert found[(watermark, (("source", "views"),))] == 900.0
    assert found[(metrics.LAG, (("source", "views"),))] == 100.0  # now - the watermark
    assert found[("lectern_migration_workers", ())] == 1  # the ended worker's 1 is gone
    assert not (tmp_path / f"gauge_livesum_{gone}.db").exists()


def test_alert_rules_left_out_of_a_later_evaluation_go_to_zero() -> None:
    metrics.set_alerts_firing({"budget": 2, "errors": 1})
    metrics.set_alerts_firing({"budget": 1})
    registry = metrics.registry()
    assert registry.get_sample_value("lectern_alerts_firing", {"rule": "budget"}) == 1
    assert registry.get_sample_value("lectern_alerts_firing", {"rule": "errors"}) == 0


SWITCH = """
import sys
from datetime import UTC, datetime
from pathlib import Path
import prometheus_client  # imported before the directory is chosen, as `lectern api` does
from core import metrics
directory = Path(sys.argv[1])
metrics.use_directory(directory)
metrics.record_sync_job("views", status="ok", duration_s=1.0, rows=5, watermark=datetime.now(UTC))
assert metrics.multiprocess_dir() == directory.resolve()
sys.stdout.write(metrics.collect_directory(directory).decode())
"""


def test_a_process_switches_to_the_directory_after_importing_prometheus_client(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != metrics.MULTIPROC_ENV}
    out = subprocess.run(
        [sys.executable, "-c", SWITCH, str(tmp_path / "metrics")], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert samples(out.encode())[("lectern_sync_job_rows_total", (("job", "views"),))] == 5
    assert [p.name.split("_")[0] for p in (tmp_path / "metrics").glob("*.db")]  # written to files, not memory

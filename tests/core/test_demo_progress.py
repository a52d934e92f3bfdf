"""The demo's progress file: written whole or not at all, read back the same, unreadable means nothing to show."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from core.demo_progress import DemoProgress, StepProgress, read_progress, write_progress


def progress(*states: str) -> DemoProgress:
    steps = tuple(StepProgress(f"s{i}", f"step {i}", state=state) for i, state in enumerate(states, 1))  # type: ignore[arg-type]
    return DemoProgress(state="preparing", started_at=1000.0, steps=steps)


def test_it_reads_back_what_was_written(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "demo-progress.json"
    written = progress("done", "running", "pending").with_step("s2", started_at=1001.5, log="/var/logs/s2.log")
    write_progress(path, written)
    assert read_progress(path) == written
    assert [p.name for p in path.parent.iterdir()] == ["demo-progress.json"]  # no temporary file left


def test_current_failed_and_finished(tmp_path: Path) -> None:
    assert progress("done", "running", "pending").current == (2, StepProgress("s2", "step 2", state="running"))
    assert progress("done", "done").current is None
    failed = progress("done", "failed", "pending")
    assert failed.failed_step == (2, StepProgress("s2", "step 2", state="failed"))
    assert failed.finished_steps == 1
    assert progress("done", "done").ended("done").state == "done"


def test_missing_or_garbled_files_read_as_nothing(tmp_path: Path) -> None:
    path = tmp_path / "demo-progress.json"
    assert read_progress(path) is None
    for text in ("", "{not json", json.dumps({"steps": []}), json.dumps([1, 2])):
        path.write_text(text)
        assert read_progress(path) is None, text


def test_a_reader_never_sees_a_partial_file(tmp_path: Path) -> None:
    # A writer replacing the file as fast as it can, a reader reading it as fast as it can: every read parses
    # (a plain truncate-and-write would hand the reader empty or half-written files).
    path = tmp_path / "demo-progress.json"
    big = DemoProgress(
        state="preparing",
        started_at=1.0,
        steps=tuple(StepProgress(f"k{i}", "x" * 2000, log="/tmp/log") for i in range(50)),
    )
    write_progress(path, big)
    stop = threading.Event()

    def writer() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            write_progress(path, big.with_step("k0", started_at=float(n)))

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        reads = [read_progress(path) for _ in range(300)]
    finally:
        stop.set()
        thread.join()
    assert all(r is not None and len(r.steps) == 50 for r in reads)
    assert len({r.steps[0].started_at for r in reads if r is not None}) > 1  # it did read while writes went on

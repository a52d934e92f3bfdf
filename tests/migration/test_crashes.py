"""Kill a worker at every state boundary, re-run: no duplicate Mux asset, every lesson migrated exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.db.models import MigrationState
from core.migration.jobs import JobView
from core.migration.worker import CRASH_POINTS
from tests.migration.helpers import MigrationEnv, settings_env
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
URL_POINTS = [p for p in CRASH_POINTS if p not in ("upload_created", "chunk_sent")]


class SimulatedCrash(BaseException):
    """Raised from a hook: unwinds the worker without any of its except/finally clean-up code running."""


def crash_at(point: str):  # type: ignore[no-untyped-def]
    def hook(reached: str, job: JobView) -> None:
        if reached == point:
            raise SimulatedCrash(point)

    return hook


def later(seconds: float):  # type: ignore[no-untyped-def]
    """A clock that far ahead, so a recovering worker sees the dead worker's heartbeats as stale at once."""
    return lambda: datetime.now(UTC) + timedelta(seconds=seconds)


def assert_each_lesson_migrated_once(env: MigrationEnv, lesson_ids: list[int]) -> None:
    assets = env.assets()
    per_lesson = Counter(int(a["passthrough"]) for a in assets)
    assert per_lesson == Counter(lesson_ids), "a lesson got no asset or more than one"
    for lesson_id in lesson_ids:
        job, lesson = env.job(lesson_id), env.lesson(lesson_id)
        assert job.state == MigrationState.done, (lesson_id, job.state, job.error)
        assert lesson.video_provider == "mux" and lesson.mux_asset_id == job.mux_asset_id
    assert len({env.lesson(i).mux_asset_id for i in lesson_ids}) == len(lesson_ids)


def _crash_each(env: MigrationEnv, points: list[str]) -> None:
    """One worker per point, each dying there on its own job; then one worker recovers them all.

    The dying workers never reclaim each other's jobs (a stale threshold of an hour), so job k dies at
    point k; the recovering worker's clock runs ahead, so it sees every dead heartbeat as stale at once.
    Its own threshold is generous: with the suite's 1 s, a loaded machine (CI; ffmpeg in the emulator, SQLite
    writers queueing) could delay one of its heartbeats past a second, and it would reclaim its own live job.
    """
    patient = env.with_settings(migration_stale_after_s=3600.0)
    for point in points:
        with pytest.raises(SimulatedCrash):
            env.run_worker(settings=patient, concurrency=1, hook=crash_at(point))
    recovering = env.with_settings(migration_stale_after_s=30.0)
    env.run_worker(settings=recovering, concurrency=4, clock=later(recovering.migration_stale_after_s + 1))


def test_a_crash_at_every_boundary_in_presigned_mode(env: MigrationEnv, clips: list[Path]) -> None:
    lesson_ids = [env.add_lesson(clips[n % len(clips)]) for n in range(len(URL_POINTS))]
    env.start_all()
    _crash_each(env, URL_POINTS)
    assert_each_lesson_migrated_once(env, lesson_ids)
    for lesson_id, point in zip(lesson_ids, URL_POINTS, strict=True):
        # Each crash cost one claim; at "switched" the switch had committed, so nothing ran again.
        job = env.job(lesson_id)
        stats = env.last_worker.stats if env.last_worker else None
        assert job.attempts == (1 if point == "switched" else 2), (point, job.attempts, job.error, stats)


def test_a_crash_at_every_boundary_in_stream_mode(env: MigrationEnv, big_clip: Path) -> None:
    points = ["upload_created", "chunk_sent", "asset_created", "waiting"]
    lesson_ids = [env.add_lesson(big_clip) for _ in points]
    env.start_all(ingest_mode="stream")
    _crash_each(env, points)
    assert_each_lesson_migrated_once(env, lesson_ids)
    size = big_clip.stat().st_size
    assert size > 2 * env.settings.mux_upload_chunk_bytes  # several chunks: "chunk_sent" died mid-upload
    for lesson_id in lesson_ids:
        job = env.job(lesson_id)
        stats = env.last_worker.stats if env.last_worker else None
        assert job.attempts == 2, (lesson_id, job.attempts, job.error, stats)
        assert job.ingest_mode == "stream" and job.mux_upload_id is not None
        assert job.bytes_proxied == size
    # Each lesson used one direct upload, however often its worker died mid-way.
    assert env.emu.stats()["uploads"]["total"] == len(lesson_ids)


def _worker_process(env: MigrationEnv, *args: str, crash_at: str | None = None) -> subprocess.Popen[bytes]:
    environ = {**os.environ, **settings_env(env.settings), "PYTHONPATH": str(ROOT)}
    if crash_at:
        environ["MIGRATION_TEST_CRASH_AT"] = crash_at
    return subprocess.Popen(
        [sys.executable, "-m", "tests.migration.worker_process", *args],
        cwd=ROOT,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_os_exit_right_after_mux_created_the_asset(sqlite_env: MigrationEnv, clips: list[Path]) -> None:
    """The classic duplicate window, in a process that really vanishes: the asset exists at Mux, its id is
    not in our database. (SQLite, the embedded default; the PostgreSQL case is the kill -9 below.)"""
    env = sqlite_env
    lesson_ids = [env.add_lesson(c) for c in clips[:3]]
    env.start_all()
    proc = _worker_process(env, crash_at="asset_created")
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 137, stderr.decode()[-2000:]
    # Several threads may have been mid-create when the process vanished: each such asset is unrecorded.
    orphaned = [j for j in env.store.list() if j.state == MigrationState.ingesting]
    assert orphaned and all(j.mux_asset_id is None and j.worker_id for j in orphaned)
    assert 1 <= len(env.assets()) <= len(orphaned)
    # Real time: the jobs become claimable only once the dead process's heartbeats are stale.
    env.run_worker()
    assert_each_lesson_migrated_once(env, lesson_ids)
    assert all(env.job(j.lesson_id).attempts == 2 for j in orphaned)


@pytest.mark.postgres
def test_kill_9_of_a_cli_worker_while_mux_is_processing(pg_env: MigrationEnv, clips: list[Path]) -> None:
    env = pg_env
    # Assets stay `preparing` until the emulator clock passes their ready time: a wide window for the kill.
    env.emu.configure(processing_delay=30.0)
    lesson_ids = [env.add_lesson(c) for c in clips[:2]]
    env.start_all()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from lectern.commands.migrate import app; app()", "worker", "--concurrency", "2"],
        cwd=ROOT,
        env={**os.environ, **settings_env(env.settings), "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(lambda: all(j.state == MigrationState.waiting for j in env.store.list()), timeout=60)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    env.emu.configure(processing_delay=0.0)
    env.emu.advance_clock(31)
    held = env.store.list()
    assert all(j.worker_id is not None and j.mux_asset_id for j in held)
    env.run_worker()
    assert_each_lesson_migrated_once(env, lesson_ids)
    assert [env.job(i).mux_asset_id for i in lesson_ids] == [j.mux_asset_id for j in held]

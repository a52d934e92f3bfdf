"""Mux answering 429 and 5xx on 20 % of its calls (the emulator's fault injection, over real HTTP) during the
warehouse sync and the S3-to-Mux migration.

Each runs twice against the same data, once fault-free and once with every Mux route failing 10 % of the time
with 429, 5 % with 500 and 5 % with 503 (seeded, so a run is repeatable). The retries are core/retry.py's, as in
production, with short waits. Checked: both complete; the warehouse the faulty sync publishes holds the same
numbers as the fault-free one (views, rollups, usage, assets, platform, watermarks, no duplicate keys); the
faulty migration moves every lesson as the fault-free one did (state, provider, status, duration), with exactly
one Mux asset per lesson; and the faults really happened. Quick: a week of views and 3 lessons; `make soak`:
90 days and 12 lessons.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.db.engine import make_engine, make_session_factory
from core.db.migrate import upgrade
from core.db.models import MigrationState
from core.mux.service import MuxService
from core.retry import RetryPolicy
from core.storage import StorageService, build_s3_client
from emulator.testing import EmulatorServer
from lectern.sample_data import SeedConfig, build_platform
from lectern.sample_media import make_clip
from tests.conftest import S3Server
from tests.migration.helpers import MigrationEnv, build_env
from tests.sync.emulator_world import build_world, quiet_end, simulate
from tests.sync.test_emulator_sync import fingerprint, make_settings, sync

FAULTS = {"seed": 11, "routes": {"*": {"p429": 0.10, "p500": 0.05, "p503": 0.05, "retry_after": 0}}}
# core/retry.py's policy, with waits short enough for a test (production waits from 0.5 s).
FAST_RETRY = RetryPolicy(attempts=10, base_s=0.01, cap_s=0.1)


def faults_seen(emu: EmulatorServer) -> int:
    requests = emu.stats()["requests"]
    return sum(sum(n for code, n in v["by_status"].items() if code in ("429", "500", "503")) for v in requests.values())


# --- the sync ---------------------------------------------------------------------------------------


def sync_under_faults(tmp_path: Path, days: int, views: int) -> None:
    platform = build_platform(SeedConfig(seed=3, teachers=2, courses=3, students=40, days=30, now=datetime.now(UTC)))
    world = build_world(tmp_path, platform)
    with EmulatorServer(state_file=world.state_file, data_dir=tmp_path / "media", log_level="warning") as emu:
        end = quiet_end()
        simulate(emu, world, days=days, views=views, seed=5, end=end.timestamp())
        now = end + timedelta(minutes=30)
        clean = tmp_path / "clean" / "warehouse.duckdb"
        sync(make_settings(world, emu, clean), now)
        expected = fingerprint(clean)
        assert expected["views"][0] > 0 and expected["assets"][0] > 0

        emu.set_faults(FAULTS)
        try:
            faulty = tmp_path / "faulty" / "warehouse.duckdb"
            sync(make_settings(world, emu, faulty), now)
            failed = faults_seen(emu)
        finally:
            emu.clear_faults()
        assert failed > 0
        assert fingerprint(faulty) == expected
        print(f"sync: {failed} Mux calls answered 429/5xx; the warehouse is the fault-free one")


def test_sync_under_mux_faults_quick(tmp_path: Path) -> None:
    sync_under_faults(tmp_path, days=7, views=150)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_sync_under_mux_faults_soak(tmp_path: Path) -> None:
    sync_under_faults(tmp_path, days=90, views=3000)


# --- the migration ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("clips")
    return [make_clip(folder / f"clip-{i}.mp4", seconds=1.0 + i / 2, width=160, height=120, fps=10) for i in range(3)]


@pytest.fixture
def envs(tmp_path: Path, s3: S3Server, fresh_emu: EmulatorServer) -> Iterator[Any]:
    """A migration setup per run, each on its own platform DB (SQLite: the point is Mux, not the database)."""
    made: list[MigrationEnv] = []

    def make(name: str) -> MigrationEnv:
        url = f"sqlite:///{tmp_path / name / 'lectern.db'}"
        upgrade(url)
        env = build_env(url, s3, fresh_emu, make_session_factory(make_engine(url)))
        env.mux.close()
        env.mux = MuxService(env.settings, retry_policy=FAST_RETRY)
        env.storage = StorageService(env.settings, build_s3_client(env.settings), mux=env.mux)
        made.append(env)
        return env

    yield make
    for env in made:
        env.close()


def migrate_all(env: MigrationEnv, clips: list[Path], lessons: int) -> list[tuple[Any, ...]]:
    ids = [env.add_lesson(clips[i % len(clips)], key=f"lessons/{i}.mp4") for i in range(lessons)]
    env.start_all()
    env.run_worker(timeout=600)
    outcome = []
    for lesson_id in ids:
        lesson, job = env.lesson(lesson_id), env.job(lesson_id)
        assert job.state == MigrationState.done, (job.state, job.error)
        outcome.append((job.state, lesson.video_provider, lesson.video_status, round(lesson.video_duration_s or 0, 1)))
    assets = env.assets()
    assert len(assets) == lessons and {int(a["passthrough"]) for a in assets} == set(ids)  # one asset per lesson
    return outcome


def migration_under_faults(envs: Any, clips: list[Path], lessons: int) -> None:
    clean = envs("clean")
    expected = migrate_all(clean, clips, lessons)
    clean.emu.reset()
    faulty = envs("faulty")
    faulty.emu.set_faults(FAULTS)
    try:
        got = migrate_all(faulty, clips, lessons)
        failed = faults_seen(faulty.emu)
    finally:
        faulty.emu.clear_faults()
    assert failed > 0
    assert got == expected
    print(f"migration: {failed} Mux calls answered 429/5xx; every lesson moved as in the fault-free run")


def test_migration_under_mux_faults_quick(envs: Any, clips: list[Path]) -> None:
    migration_under_faults(envs, clips, lessons=3)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_migration_under_mux_faults_soak(envs: Any, clips: list[Path]) -> None:
    migration_under_faults(envs, clips, lessons=12)

"""Migration fixtures: the Mux emulator, moto S3 with real tiny clips, and a ready-made migration setup."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core.db.engine import make_engine, make_session_factory
from core.db.migrate import upgrade
from emulator.testing import EmulatorServer
from lectern.sample_media import make_clip
from tests.conftest import S3Server
from tests.migration.helpers import MigrationEnv, build_env


@pytest.fixture(scope="session")
def mux_emu() -> Iterator[EmulatorServer]:
    with EmulatorServer(processing_delay=0.0) as server:
        yield server


@pytest.fixture
def emu(mux_emu: EmulatorServer) -> Iterator[EmulatorServer]:
    mux_emu.reset()
    mux_emu.clear_faults()
    yield mux_emu
    mux_emu.clear_faults()


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Four real H.264/AAC clips, tiny so the emulator's ffmpeg finishes each in a fraction of a second."""
    folder = tmp_path_factory.mktemp("clips")
    specs = [(1.5, "testsrc"), (2.0, "smptebars"), (2.5, "testsrc2"), (3.0, "rgbtestsrc")]
    return [
        make_clip(folder / f"clip-{i}.mp4", seconds=s, width=160, height=120, pattern=p, fps=10)
        for i, (s, p) in enumerate(specs)
    ]


@pytest.fixture(scope="session")
def big_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clip of several 256 KiB upload chunks (busy pattern, so H.264 cannot squeeze it small)."""
    path = tmp_path_factory.mktemp("big") / "big.mp4"
    return make_clip(path, seconds=2.0, width=480, height=360, pattern="mandelbrot", fps=25)


@pytest.fixture(scope="session")
def corrupt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("corrupt") / "broken.mp4"
    path.write_bytes(os.urandom(64 * 1024))
    return path


@pytest.fixture
def env(
    db_url: str, s3: S3Server, emu: EmulatorServer, session_factory: sessionmaker[Session]
) -> Iterator[MigrationEnv]:
    built = build_env(db_url, s3, emu, session_factory)
    yield built
    built.close()


@pytest.fixture
def sqlite_env(tmp_path: Path, s3: S3Server, emu: EmulatorServer) -> Iterator[MigrationEnv]:
    """For the few tests whose point is not the database (a process dying): SQLite only."""
    url = f"sqlite:///{tmp_path / 'lectern.db'}"
    upgrade(url)
    engine = make_engine(url)
    built = build_env(url, s3, emu, make_session_factory(engine))
    yield built
    built.close()
    engine.dispose()


@pytest.fixture
def pg_env(pg_url: str, s3: S3Server, emu: EmulatorServer) -> Iterator[MigrationEnv]:
    """PostgreSQL only: where several worker processes run in production."""
    engine = make_engine(pg_url)
    built = build_env(pg_url, s3, emu, make_session_factory(engine))
    yield built
    built.close()
    engine.dispose()

"""Fixtures for sync tests: a seeded platform on each backend, a warehouse writer in a temp directory."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from sqlalchemy import Engine

from lectern.sample_data import SamplePlatform, SeedConfig, build_platform
from lectern.seed import write_platform
from warehouse.schema import migrate
from warehouse.store import WarehouseLayout, WarehouseWriter

NOW = datetime(2025, 3, 11, tzinfo=UTC)


@pytest.fixture(scope="session")
def sample_platform() -> SamplePlatform:
    return build_platform(SeedConfig(seed=3, teachers=2, courses=3, students=40, days=30, now=NOW))


@pytest.fixture
def seeded(engine: Engine, sample_platform: SamplePlatform) -> Engine:
    """The migrated platform DB (SQLite and PostgreSQL) filled with the sample platform."""
    write_platform(engine, sample_platform)
    return engine


@pytest.fixture
def writer(tmp_path: Path) -> WarehouseWriter:
    return WarehouseWriter(WarehouseLayout(tmp_path / "warehouse.duckdb"))


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    """A migrated working warehouse on disk (tests that need an in-memory one define their own)."""
    connection = duckdb.connect(str(tmp_path / "work.duckdb"))
    migrate(connection)
    return connection

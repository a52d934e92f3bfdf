"""A small published warehouse over a seeded SQLite platform, with views designed for exact answers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.db.engine import make_engine
from core.db.migrate import upgrade
from lectern.sample_data import SamplePlatform, SeedConfig, build_platform
from lectern.seed import write_platform
from sync.platform import run_platform
from sync.usage import run_usage
from sync.views import ViewsConfig, run_views
from tests.warehouse.factories import PSEUDONYM_SECRET, FakeUsage, FakeViews, as_player_sends, make_view
from warehouse.store import WarehouseLayout, WarehouseWriter

NOW = datetime(2025, 3, 11, tzinfo=UTC)


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2025, 3, day, hour, tzinfo=UTC)


# Lesson 1 is course 1 (teacher 3), lesson 13 is course 2 (teacher 4) in SeedConfig(seed=3) below.
DESIGNED_VIEWS = [
    make_view(1, end=at(5), lesson_id=1, viewer=5, playhead_ms=600_000, watch_ms=610_000, startup_ms=500),
    make_view(2, end=at(6), lesson_id=1, viewer=5, playhead_ms=300_000, watch_ms=300_000, startup_ms=700),
    make_view(3, end=at(6, 12), lesson_id=1, viewer=6, playhead_ms=540_000, watch_ms=550_000, browser="Safari"),
    make_view(4, end=at(6), lesson_id=13, viewer=5, playhead_ms=60_000, watch_ms=60_000, browser="Firefox"),
    make_view(5, end=at(7), lesson_id=2, viewer=9, playhead_ms=0, watch_ms=4_000, exit_before_video_start=True),
]
USAGE = {("asset-1", at(5, h)): 100.0 for h in range(3)} | {("asset-13", at(6)): 40.0}


@dataclass
class Built:
    pointer: Path
    platform: SamplePlatform
    database_url: str


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    root = tmp_path_factory.mktemp("warehouse")
    url = f"sqlite:///{root / 'platform.db'}"
    upgrade(url)
    engine = make_engine(url)
    platform = build_platform(SeedConfig(seed=3, teachers=2, courses=3, students=40, days=30, now=NOW))
    write_platform(engine, platform)
    writer = WarehouseWriter(WarehouseLayout(root / "warehouse.duckdb"))
    with writer.open() as con:
        run_platform(con, engine, now=NOW, pseudonym_secret=PSEUDONYM_SECRET)
        run_views(con, FakeViews(as_player_sends(DESIGNED_VIEWS)), now=NOW, cfg=ViewsConfig(backfill_days=30))
        run_usage(con, FakeUsage(USAGE), now=NOW + timedelta(days=2))
    engine.dispose()
    yield Built(writer.layout.pointer, platform, url)

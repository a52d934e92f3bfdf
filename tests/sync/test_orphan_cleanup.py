"""The orphan list from the real `assets` sync, and the `orphan_cleanup` job deleting after the grace period.

The Mux emulator (real HTTP) holds the assets of tests/assets_world.py; the platform DB is SQLite and
PostgreSQL; the sync runs as the scheduler runs it (its own container) on an injected clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.assets.orphans import OrphanPlan
from core.container import Lectern
from core.db.models import OperatorAction
from core.settings import Settings
from emulator.testing import EmulatorServer
from sync.runner import JOBS
from tests.assets_world import (
    ELIGIBLE,
    GRACE_DAYS,
    IN_USE,
    NOW,
    ORPHANS,
    World,
    aid,
    build_world,
    emulator_with,
    on_mux,
    settings_for,
    sync,
)
from warehouse.orphans import orphaned_assets
from warehouse.reader import WarehouseReader

NAME_OF = {aid(name): name for name in ORPHANS | IN_USE}


@pytest.fixture
def env(tmp_path: Path, session_factory: sessionmaker[Session], db_url: str) -> Iterator[tuple[World, EmulatorServer]]:
    world = build_world(session_factory)
    with emulator_with(tmp_path, world.assets) as emu:
        yield world, emu


def published_orphans(settings: Settings) -> OrphanPlan:
    """The Operations page's read: the published warehouse snapshot and the platform DB."""
    reader = WarehouseReader(settings.warehouse_path)
    try:
        with Lectern.from_settings(settings) as lectern, reader.connect() as con:
            return orphaned_assets(con, lectern.orphans, now=NOW)
    finally:
        reader.close()


def deletions(session_factory: sessionmaker[Session]) -> list[tuple[str, str, str]]:
    with session_factory() as s:
        rows = s.execute(
            select(OperatorAction.actor, OperatorAction.target, OperatorAction.outcome).order_by(OperatorAction.id)
        ).all()
    return [(actor, NAME_OF[target.removeprefix("asset:")], outcome) for actor, target, outcome in rows]


def test_the_assets_sync_feeds_the_orphan_list_with_costs(
    env: tuple[World, EmulatorServer], db_url: str, tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    world, emu = env
    settings = settings_for(db_url, emu, tmp_path / "var" / "warehouse.duckdb")  # automatic deletion off
    results = sync(settings, NOW, ("assets", "orphan_cleanup"))
    assert results["orphan_cleanup"].details == {"enabled": False}

    plan = published_orphans(settings)
    by_name = {NAME_OF[o.asset_id]: o for o in plan.orphans}
    assert set(by_name) == ORPHANS
    assert {name: o.why for name, o in by_name.items() if not name.startswith("many")} == {
        "rep_old": f"replaced upload of lesson {world.lessons['replaced']}",
        "recent_old": f"replaced upload of lesson {world.lessons['recent']}",
        "twice_a": f"replaced upload of lesson {world.lessons['twice']}",
        "mig_failed": f"failed migration copy of lesson {world.lessons['failed']}",
        "stray": "unknown passthrough '99999'",
        "nopass": "no passthrough",
    }
    assert by_name["rep_old"].since == NOW - timedelta(days=20) and by_name["recent_old"].since == NOW - timedelta(2)
    # Nobody played them: cold storage. 10 min basic 1080p = $0.012 a month, 10 min basic 720p $0.0096,
    # 20 min plus 1080p $0.024, an errored asset nothing.
    assert by_name["rep_old"].monthly_micros == 12_000 and by_name["many1_old"].monthly_micros == 9_600
    assert by_name["nopass"].monthly_micros == 24_000
    assert plan.total_monthly_micros == 12_000 * 5 + 9_600 * 3 + 24_000
    assert plan.eligible == [] and deletions(session_factory) == []
    assert all(on_mux(emu, aid(name)) for name in ORPHANS | IN_USE)


def test_cleanup_deletes_only_eligible_assets_after_the_grace_period_and_respects_the_cap(
    env: tuple[World, EmulatorServer], db_url: str, tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    _, emu = env
    settings = settings_for(
        db_url,
        emu,
        tmp_path / "var" / "warehouse.duckdb",
        delete_replaced_assets_after_days=GRACE_DAYS,
        orphan_cleanup_max_per_run=2,
    )
    assert JOBS.index("orphan_cleanup") == JOBS.index("assets") + 1

    # 24 days before NOW the longest-orphaned asset (30 days before NOW) is 6 days into its 7-day grace.
    early = sync(settings, NOW - timedelta(days=24), ("assets", "orphan_cleanup"))["orphan_cleanup"]
    assert (early.rows, early.details["eligible"]) == (0, 0)

    first = sync(settings, NOW, ("assets", "orphan_cleanup"))["orphan_cleanup"]
    assert first.details == {
        "enabled": True,
        "orphans": len(ORPHANS),
        "eligible": 4,
        "deleted": 2,
        "refused": 0,
        "left_for_next_run": 2,
    }
    assert deletions(session_factory) == [("scheduler", name, "deleted") for name in ELIGIBLE[:2]]
    # The published list drops them at once (the cleanup marked them in the warehouse).
    assert {NAME_OF[o.asset_id] for o in published_orphans(settings).orphans} == ORPHANS - set(ELIGIBLE[:2])

    second = sync(settings, NOW + timedelta(hours=1), ("assets", "orphan_cleanup"))["orphan_cleanup"]
    assert (second.rows, second.details["left_for_next_run"]) == (2, 0)
    third = sync(settings, NOW + timedelta(hours=2), ("assets", "orphan_cleanup"))["orphan_cleanup"]
    assert third.rows == 0

    assert deletions(session_factory) == [("scheduler", name, "deleted") for name in ELIGIBLE]
    assert [name for name in sorted(ORPHANS | IN_USE) if not on_mux(emu, aid(name))] == sorted(ELIGIBLE)
    left = published_orphans(settings)
    assert {NAME_OF[o.asset_id] for o in left.orphans} == ORPHANS - set(ELIGIBLE)
    holds: dict[str, Any] = {NAME_OF[o.asset_id]: o.hold for o in left.orphans}
    assert "grace period until" in holds["recent_old"] and "only playable copy" in holds["twice_a"]

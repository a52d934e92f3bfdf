"""Values Mux may add (a new asset status, error type, resolution tier, field) never abort a sync job.

Real HTTP: the emulator serves assets with values mux-python 5.1.0's models reject (its setters raise
ValueError on them); the `assets` job and every asset read finish, keep the raw values, and log each
novelty once per process.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import mux_python
import pytest
from sqlalchemy import create_engine, select

from core.db.models import Lesson
from core.logging import record_fields
from core.mux import MuxService, unknown
from core.settings import load_settings
from emulator.testing import EmulatorServer
from lectern.sample_data import SamplePlatform
from sync.runner import SyncContext, run_jobs
from tests.sync.emulator_world import ORPHAN, World, asset_id, build_world

NOVEL = {
    "status": "archived",
    "resolution_tier": "4320p",
    "errors": {"type": "storage_quota_exceeded", "messages": ["Your plan's storage is full."]},
    "carbon_grams": {"per_hour": 1.5},
}


@pytest.fixture(autouse=True)
def fresh_unknown_log() -> Iterator[None]:
    unknown.reset()
    yield
    unknown.reset()


@pytest.fixture
def world(tmp_path: Path, sample_platform: SamplePlatform) -> World:
    return build_world(tmp_path, sample_platform)


@pytest.fixture
def emu(world: World, tmp_path: Path) -> Iterator[EmulatorServer]:
    with EmulatorServer(state_file=world.state_file, data_dir=tmp_path / "media") as server:
        yield server


def novelty_events(caplog: pytest.LogCaptureFixture) -> list[tuple[str, dict[str, object]]]:
    return [
        (r.getMessage(), record_fields(r))
        for r in caplog.records
        if r.getMessage() in ("mux.unknown_value", "mux.unknown_field")
    ]


def test_unknown_asset_values_are_kept_logged_once_and_never_abort_the_assets_job(
    emu: EmulatorServer, world: World, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missed_asset = asset_id(world.missed)  # ready on Mux, its webhooks missed: the job would heal it
    emu.set_asset_raw(ORPHAN, NOVEL)
    emu.set_asset_raw(missed_asset, {"status": "archived"})

    # The SDK's own models refuse these answers: this is what used to abort the job.
    config = mux_python.Configuration(host=emu.url, username=emu.token_id, password=emu.token_secret)
    with mux_python.ApiClient(config) as client, pytest.raises(ValueError, match="status"):
        mux_python.AssetsApi(client).get_asset(ORPHAN)

    warehouse = tmp_path / "warehouse.duckdb"
    settings = load_settings(
        DATABASE_URL=world.db_url,
        LECTERN_WAREHOUSE_PATH=str(warehouse),
        MUX_API_URL=emu.url,
        MUX_TOKEN_ID=emu.token_id,
        MUX_TOKEN_SECRET=emu.token_secret,
    )
    now = datetime.now().astimezone()
    caplog.set_level(logging.WARNING, logger="core.mux.unknown")
    for run in range(2):
        ctx = SyncContext.from_settings(settings)
        ctx.clock = lambda run=run: now + timedelta(minutes=run)
        try:
            (result,) = run_jobs(ctx, ("assets",))
        finally:
            ctx.close()
        assert result.status == "ok", result.error

    # Each novelty logged exactly once although two runs listed both assets.
    events = novelty_events(caplog)
    assert sorted((e, f.get("field"), f.get("value")) for e, f in events) == sorted(
        [
            ("mux.unknown_value", "asset.status", "archived"),
            ("mux.unknown_value", "asset.errors.type", "storage_quota_exceeded"),
            ("mux.unknown_field", "carbon_grams", None),
        ]
    )

    # The raw values are kept: in the warehouse, and on Lectern's Asset.
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = dict(
            con.execute(
                "SELECT asset_id, status || '/' || coalesce(resolution_tier, '') FROM assets WHERE asset_id IN (?, ?)",
                [ORPHAN, missed_asset],
            ).fetchall()
        )
    finally:
        con.close()
    assert rows[ORPHAN] == "archived/4320p"
    assert rows[missed_asset].startswith("archived/")
    service = MuxService(settings)
    try:
        asset = service.get_asset(ORPHAN)
        listed = {a.id: a for a in service.iter_assets()}
    finally:
        service.close()
    assert (asset.status, asset.error_type) == ("archived", "storage_quota_exceeded")
    assert asset.error_messages == ("Your plan's storage is full.",)
    assert asset.raw["carbon_grams"] == {"per_hour": 1.5} and asset.raw["resolution_tier"] == "4320p"
    assert listed[ORPHAN].raw == asset.raw
    assert len(novelty_events(caplog)) == 3  # still once each

    # An unknown status is neither ready nor errored: the lesson waits, nothing is healed from it.
    engine = create_engine(world.db_url)
    try:
        with engine.connect() as conn:
            status = conn.execute(select(Lesson.video_status).where(Lesson.id == world.missed)).scalar_one()
    finally:
        engine.dispose()
    assert status == "waiting_upload"

"""Every list walk reads every row when the server caps `limit` below what was asked (as Mux may).

Real HTTP: core's MuxService (mux-python) and sync's MuxSources against the emulator with
`max_page_limit=7`, far below every walker's page size (views 1000, usage/assets/keys 100).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.mux import MuxService
from core.settings import load_settings
from emulator.state import AssetRecord, Store
from emulator.testing import EmulatorServer
from lectern.sample_data import SamplePlatform
from sync.sources import MuxSources
from tests.sync.emulator_world import World, build_world, simulate

CAP = 7
EXTRA_ASSETS = 30  # more assets than fit in four capped pages, all watched, so usage has as many rows


@pytest.fixture
def world(tmp_path: Path, sample_platform: SamplePlatform) -> World:
    world = build_world(tmp_path, sample_platform)
    store = Store(world.state_file)
    store.load()
    base = next(iter(store.assets.values())).data
    for n in range(EXTRA_ASSETS):
        aid = f"extraAsset{n:04d}" + "y" * 30
        store.seq += 1
        store.assets[aid] = AssetRecord(
            data={**base, "id": aid, "passthrough": None, "playback_ids": [{"id": f"extra{n}", "policy": "public"}]},
            seq=store.seq,
            has_video=True,
        )
        course = next(iter(world.students))
        world.lessons[str(100_000 + n)] = {"asset_id": aid, "course": course, "position": 1}
    store.commit()
    return world


@pytest.fixture
def emu(world: World, tmp_path: Path) -> Iterator[EmulatorServer]:
    with EmulatorServer(state_file=world.state_file, data_dir=tmp_path / "media", max_page_limit=CAP) as server:
        yield server


def test_every_list_walk_reads_every_row_through_a_capped_limit(emu: EmulatorServer, world: World) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    simulate(emu, world, days=3, views=300, seed=11, end=(now - timedelta(hours=1)).timestamp())
    settings = load_settings(mux_api_url=emu.url, mux_token_id=emu.token_id, mux_token_secret=emu.token_secret)
    service = MuxService(settings)
    sources = MuxSources(service)
    auth = (emu.token_id, emu.token_secret)
    try:
        for _ in range(20):
            service.create_signing_key()

        # The server really caps: asking for 1000 views gets 7.
        start, end = now - timedelta(days=4), now
        tf = {"timeframe[]": [str(int(start.timestamp())), str(int(end.timestamp()))]}
        first = emu.http.get("/data/v1/video-views", params={"limit": 1000, **tf}, auth=auth).json()
        assert len(first["data"]) == CAP
        assert first["total_row_count"] > 4 * CAP

        views = [v for page in sources.iter_view_pages(start, end) for v in page]
        assert len({v["id"] for v in views}) == len(views) == first["total_row_count"]

        usage_end = (now - timedelta(hours=13)).replace(minute=0, second=0)
        usage_start = usage_end - timedelta(days=2)
        utf = {"timeframe[]": [str(int(usage_start.timestamp())), str(int(usage_end.timestamp()))]}
        usage_total = emu.http.get("/video/v1/delivery-usage", params=utf, auth=auth).json()["total_row_count"]
        assert usage_total > 2 * CAP
        usage = [r for page in sources.iter_usage_pages(usage_start, usage_end) for r in page]
        assert len({r["asset_id"] for r in usage}) == len(usage) == usage_total

        asset_total = emu.stats()["assets"]["total"]
        assert asset_total > 2 * CAP
        asset_pages = list(sources.iter_asset_pages())
        assert len({a["id"] for page in asset_pages for a in page}) == asset_total
        assert max(len(page) for page in asset_pages) == CAP

        keys = list(service.iter_signing_keys())
        assert len({k.id for k in keys}) == 20
    finally:
        sources.close()
        service.close()

"""10,000,000 simulated views: pages stay fast and serving them does not grow memory (`make soak`)."""

from __future__ import annotations

import random
import statistics
import time
from pathlib import Path

import httpx
import pytest

from emulator.testing import EmulatorServer
from tests.emulator_data.helpers import Catalogue, simulate, write_state


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@pytest.mark.slow
def test_ten_million_views_bounded_memory(tmp_path: Path, catalogue: Catalogue) -> None:
    write_state(tmp_path / "state.json", catalogue)
    with EmulatorServer(state_file=tmp_path / "state.json", data_dir=tmp_path / "media") as emu:
        summary = simulate(
            emu, views=10_000_000, days=90, seed=1, lessons=catalogue.lessons, students=catalogue.students
        )
        assert summary["generate_seconds"] < 120
        window = {"timeframe[]": [str(summary["time_range"]["start"] - 86_400), str(summary["time_range"]["end"])]}
        rng = random.Random(2)
        timings: list[float] = []
        with httpx.Client(base_url=emu.url, auth=(emu.token_id, emu.token_secret), timeout=60) as client:
            total = client.get("/data/v1/video-views", params={"limit": 1, **window}).json()["total_row_count"]
            for _ in range(50):  # warm-up: allocator pools, caches
                client.get(
                    "/data/v1/video-views", params={"limit": 100, "page": rng.randint(1, total // 100), **window}
                )
            before = _rss_mb()
            for i in range(600):
                params = {"limit": 100, "page": rng.randint(1, total // 100), **window}
                if i % 3 == 0:
                    params["filters[]"] = "browser:Chrome"
                    params["page"] = rng.randint(1, total // 300)
                began = time.perf_counter()
                response = client.get("/data/v1/video-views", params=params)
                timings.append(time.perf_counter() - began)
                assert response.status_code == 200 and len(response.json()["data"]) == 100
            after = _rss_mb()
    assert after - before < 50, f"RSS grew from {before:.0f} MB to {after:.0f} MB over 600 pages"
    assert statistics.median(timings) < 0.05

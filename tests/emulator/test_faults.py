"""HTTP fault injection and rate limits, observed through mux-python."""

from __future__ import annotations

import collections
import json

import httpx
import mux_python
import pytest
from mux_python.rest import ApiException

from emulator.testing import EmulatorServer
from tests.emulator.helpers import make_client

CALLS = 1000


def _outcomes(api: mux_python.AssetsApi, asset_id: str, calls: int) -> list[int]:
    outcomes: list[int] = []
    for _ in range(calls):
        try:
            api.get_asset(asset_id)
            outcomes.append(200)
        except ApiException as exc:
            outcomes.append(exc.status)
            if exc.status == 429:
                assert exc.headers["Retry-After"] == "2"
                assert json.loads(exc.body) == {"errors": ["Too many requests, retry later."]}
    return outcomes


def test_fault_rates_on_get_asset_are_seeded_and_repeatable(emu: EmulatorServer) -> None:
    # urllib3 (under mux-python) would silently retry 429s that carry Retry-After; count raw answers.
    client = make_client(emu, retries=0)
    api = mux_python.AssetsApi(client)
    asset = api.create_asset(
        mux_python.CreateAssetRequest(inputs=[mux_python.InputSettings(url=f"{emu.url}/_emulator/x.mp4")])
    ).data
    faults = {
        "seed": 1234,
        "routes": {"GET /video/v1/assets/{ASSET_ID}": {"p429": 0.2, "p503": 0.1, "retry_after": 2}},
    }
    emu.set_faults(faults)
    outcomes = _outcomes(api, asset.id, CALLS)
    counts = collections.Counter(outcomes)
    assert abs(counts[429] / CALLS - 0.2) <= 0.04
    assert abs(counts[503] / CALLS - 0.1) <= 0.04
    assert counts[200] + counts[429] + counts[503] == CALLS
    # Other routes are untouched.
    assert api.list_assets().data

    emu.set_faults(faults)  # re-applying the config restarts the seeded sequence
    assert _outcomes(api, asset.id, 200) == outcomes[:200]
    stats = emu.stats()["requests"]["GET /video/v1/assets/{asset_id}"]
    assert stats["count"] == CALLS + 200 and stats["by_status"]["429"] == outcomes.count(429) + outcomes[:200].count(
        429
    )

    emu.clear_faults()
    assert emu.http.get("/_emulator/faults").json()["data"]["routes"] == {}
    assert _outcomes(api, asset.id, 20) == [200] * 20
    client.close()


def test_latency_wildcard_and_invalid_config(emu: EmulatorServer) -> None:
    emu.set_faults({"routes": {"*": {"p500": 1.0, "latency_ms": 20}}})
    response = emu.http.get("/video/v1/assets", auth=(emu.token_id, emu.token_secret))
    assert response.status_code == 500 and response.json()["error"]["type"] == "internal_server_error"
    assert response.elapsed.total_seconds() >= 0.02
    assert emu.http.get("/_emulator/health").status_code == 200  # controls are never faulted
    bad = emu.http.put("/_emulator/faults", json={"routes": {"*": {"p429": 0.7, "p503": 0.7}}})
    assert bad.status_code == 400 and "must not exceed 1" in bad.json()["error"]["messages"][0]


def test_rate_limits(emu: EmulatorServer) -> None:
    # Buckets that refill far slower than the test runs: the bursts decide, however loaded the machine is.
    limits = {"enabled": True, "write_per_second": 0.01, "write_burst": 2, "read_per_second": 0.01, "read_burst": 3}
    emu.set_faults({"rate_limits": limits})
    auth = (emu.token_id, emu.token_secret)
    reads = [emu.http.get("/video/v1/assets", auth=auth) for _ in range(4)]
    assert [r.status_code for r in reads] == [200, 200, 200, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in reads[:3]] == ["2", "1", "0"]
    assert reads[0].headers["X-RateLimit-Limit"] == "3" and int(reads[3].headers["Retry-After"]) >= 1
    writes = [emu.http.post("/video/v1/uploads", json={}, auth=auth).status_code for _ in range(3)]
    assert writes == [201, 201, 429]


@pytest.mark.parametrize("retry_after", [None, 3])
def test_retry_after_header_is_optional(emu: EmulatorServer, retry_after: int | None) -> None:
    emu.set_faults({"routes": {"GET /video/v1/uploads": {"p429": 1.0, "retry_after": retry_after}}})
    response = httpx.get(f"{emu.url}/video/v1/uploads", auth=(emu.token_id, emu.token_secret))
    assert response.status_code == 429
    assert response.headers.get("Retry-After") == (None if retry_after is None else str(retry_after))

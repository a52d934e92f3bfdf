"""GET /video/v1/delivery-usage through mux-python: window rules, shapes, and agreement with Mux Data."""

from __future__ import annotations

import math
import time
from typing import Any

import mux_python
import pytest
from mux_python.exceptions import ApiException

from emulator.testing import EmulatorServer
from tests.emulator_data.helpers import Catalogue

HOUR = 3600


def _window(days: int) -> list[str]:
    end = (int(time.time()) - 13 * HOUR) // HOUR * HOUR
    return [str(end - days * 86_400), str(end)]


def _all_rows(usage_api: mux_python.DeliveryUsageApi, **kwargs: Any) -> list[mux_python.DeliveryReport]:
    rows: list[mux_python.DeliveryReport] = []
    page = 1
    while True:
        resp = usage_api.list_delivery_usage(page=page, **kwargs)
        rows += resp.data
        if not resp.data or len(rows) >= resp.total_row_count:
            return rows
        page += 1


def test_delivered_seconds_match_the_views_playing_time(
    usage_api: mux_python.DeliveryUsageApi, metrics_api: mux_python.MetricsApi, catalogue: Catalogue
) -> None:
    window = _window(14)
    first = usage_api.list_delivery_usage(timeframe=window, limit=5)
    assert first.timeframe == [int(w) for w in window]
    assert first.limit == 5 and len(first.data) == 5
    rows = _all_rows(usage_api, timeframe=window, limit=5)
    assert len(rows) == first.total_row_count == len(catalogue.assets)
    delivered = [r.delivered_seconds for r in rows]
    assert delivered == sorted(delivered, reverse=True) and min(delivered) > 0

    playing_ms = metrics_api.get_overall_values("playing_time", timeframe=window).data.value
    assert math.isclose(sum(delivered), playing_ms / 1000, abs_tol=0.001 * len(rows) + 1e-6)
    for row in rows[:4]:
        per_asset = metrics_api.get_overall_values(
            "playing_time", timeframe=window, filters=[f"asset_id:{row.asset_id}"]
        ).data.value
        assert math.isclose(row.delivered_seconds, per_asset / 1000, abs_tol=0.001)


def test_rows_describe_the_asset(usage_api: mux_python.DeliveryUsageApi, catalogue: Catalogue) -> None:
    rows = _all_rows(usage_api, timeframe=_window(30), limit=100)
    for row in rows:
        asset = catalogue.assets[row.asset_id]
        assert row.passthrough == asset["passthrough"]
        assert row.created_at == asset["created_at"]
        assert row.asset_state == "ready"
        assert row.asset_duration == asset["duration"]
        assert row.asset_resolution_tier == asset["resolution_tier"]
        assert row.asset_video_quality == asset["video_quality"]
        tiers = row.delivered_seconds_by_resolution.to_dict()
        present = {k: v for k, v in tiers.items() if v is not None}
        assert all(v > 0 for v in present.values())
        assert math.isclose(sum(present.values()), row.delivered_seconds, abs_tol=0.002)
        own = "tier_" + asset["resolution_tier"]
        if asset["resolution_tier"] == "720p":
            assert set(present) == {"tier_720p"}
        else:  # phones get at most 720p
            assert set(present) == {own, "tier_720p"} and present[own] > present["tier_720p"]


def test_filter_by_asset(usage_api: mux_python.DeliveryUsageApi, catalogue: Catalogue) -> None:
    asset_id = next(iter(catalogue.assets))
    resp = usage_api.list_delivery_usage(timeframe=_window(30), asset_id=asset_id)
    assert [r.asset_id for r in resp.data] == [asset_id] and resp.total_row_count == 1
    live = usage_api.list_delivery_usage(timeframe=_window(30), live_stream_id="no-such-stream")
    assert live.data == [] and live.total_row_count == 0


def test_default_window_is_the_hour_twelve_hours_ago(usage_api: mux_python.DeliveryUsageApi) -> None:
    before = time.time()
    resp = usage_api.list_delivery_usage()
    start, end = resp.timeframe
    assert end - start == HOUR and end % HOUR == 0
    assert before - 13 * HOUR - 5 <= end <= time.time() - 12 * HOUR
    assert resp.limit == 100


@pytest.mark.parametrize(
    ("timeframe", "fragment"),
    [
        (lambda now: [now - 86_400, now - 6 * HOUR], "12 hours"),
        (lambda now: [now - 91 * 86_400, now - 20 * HOUR], "90 days"),
        (lambda now: [now - 20 * HOUR, now - 30 * HOUR], "before its end"),
        (lambda now: [now - 20 * HOUR], "two epoch"),
    ],
)
def test_window_rules(usage_api: mux_python.DeliveryUsageApi, timeframe: Any, fragment: str) -> None:
    with pytest.raises(ApiException) as caught:
        usage_api.list_delivery_usage(timeframe=[str(t) for t in timeframe(int(time.time()))])
    assert caught.value.status == 400
    assert "invalid_parameters" in caught.value.body and fragment in caught.value.body


def test_asset_and_live_stream_together_are_rejected(usage_api: mux_python.DeliveryUsageApi) -> None:
    with pytest.raises(ApiException) as caught:
        usage_api.list_delivery_usage(asset_id="a", live_stream_id="b")
    assert caught.value.status == 400


def test_window_follows_the_emulator_clock(fresh_emu: EmulatorServer, catalogue: Catalogue) -> None:
    now = int(time.time())
    fresh_emu.http.post(
        "/_emulator/simulate",
        json={
            "views": 5_000,
            "days": 2,
            "seed": 1,
            "end": now,
            "lessons": catalogue.lessons,
            "students": catalogue.students,
        },
        timeout=60,
    ).raise_for_status()
    auth = (fresh_emu.token_id, fresh_emu.token_secret)
    recent = [str(now - 2 * 86_400), str((now // HOUR + 1) * HOUR)]
    assert fresh_emu.http.get("/video/v1/delivery-usage", params={"timeframe[]": recent}, auth=auth).status_code == 400
    fresh_emu.advance_clock(13 * HOUR)
    resp = fresh_emu.http.get("/video/v1/delivery-usage", params={"timeframe[]": recent}, auth=auth)
    assert resp.status_code == 200 and resp.json()["total_row_count"] > 0


def test_deleted_assets_keep_their_usage(fresh_emu: EmulatorServer, catalogue: Catalogue) -> None:
    now = int(time.time())
    body = {"views": 3_000, "days": 3, "seed": 2, "end": now - 13 * HOUR}
    fresh_emu.http.post(
        "/_emulator/simulate", json={**body, "lessons": catalogue.lessons, "students": catalogue.students}, timeout=60
    ).raise_for_status()
    auth = (fresh_emu.token_id, fresh_emu.token_secret)
    window = {"timeframe[]": [str(now - 4 * 86_400), str(now - 13 * HOUR)]}
    top = fresh_emu.http.get("/video/v1/delivery-usage", params=window, auth=auth).json()["data"][0]
    assert fresh_emu.http.delete(f"/video/v1/assets/{top['asset_id']}", auth=auth).status_code == 204
    rows = fresh_emu.http.get("/video/v1/delivery-usage", params=window, auth=auth).json()["data"]
    gone = next(r for r in rows if r["asset_id"] == top["asset_id"])
    assert gone["asset_state"] == "deleted" and gone["delivered_seconds"] == top["delivered_seconds"]

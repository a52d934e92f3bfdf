"""GET /data/v1/video-views and /video-views/{id}, through mux-python."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import mux_python
import pytest
from mux_python.exceptions import ApiException, NotFoundException, ServiceException, UnauthorizedException

from emulator.testing import EmulatorServer
from tests.emulator_data.helpers import Catalogue


def _epoch(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def _window(simulated: dict[str, Any], days_back: float, days: float) -> list[str]:
    end = simulated["time_range"]["end"] - int(days_back * 86_400)
    return [str(end - int(days * 86_400)), str(end)]


def test_pages_with_timeframe_and_filter(views_api: mux_python.VideoViewsApi, simulated: dict[str, Any]) -> None:
    window = _window(simulated, 3, 4)
    first = views_api.list_video_views(limit=100, page=1, timeframe=window, filters=["browser:Chrome"])
    total = first.total_row_count
    assert 1_000 < total < 20_000
    assert first.timeframe == [int(window[0]), int(window[1])]
    seen: list[str] = []
    ends: list[int] = []
    page = 1
    while True:
        resp = views_api.list_video_views(
            limit=100, page=page, timeframe=window, filters=["browser:Chrome"], order_direction="asc"
        )
        if not resp.data:
            break
        for view in resp.data:
            assert view.viewer_application_name == "Chrome"
            assert view.total_row_count == total
            assert int(window[0]) <= _epoch(view.view_end) <= int(window[1])
            seen.append(view.id)
            ends.append(_epoch(view.view_end))
        page += 1
    assert len(seen) == total == len(set(seen))
    assert ends == sorted(ends)


def test_default_order_is_newest_first_and_limit_is_capped(views_api: mux_python.VideoViewsApi) -> None:
    resp = views_api.list_video_views(limit=500, timeframe=["7:days"])
    assert len(resp.data) == 100  # Mux caps the page size; a client must page by what it got
    ends = [_epoch(v.view_end) for v in resp.data]
    assert ends == sorted(ends, reverse=True)
    default = views_api.list_video_views(timeframe=["7:days"])
    assert len(default.data) == 25


def test_negated_filter_and_duration_timeframe(views_api: mux_python.VideoViewsApi) -> None:
    everything = views_api.list_video_views(limit=1, timeframe=["24:hours"]).total_row_count
    chrome = views_api.list_video_views(limit=1, timeframe=["24:hours"], filters=["browser:chrome"]).total_row_count
    others = views_api.list_video_views(limit=1, timeframe=["24:hours"], filters=["!browser:Chrome"]).total_row_count
    assert chrome > 0 and others > 0
    assert chrome + others == everything


def test_filter_by_video_and_country_combine(views_api: mux_python.VideoViewsApi, catalogue: Catalogue) -> None:
    lesson = next(iter(catalogue.lessons))
    resp = views_api.list_video_views(limit=100, timeframe=["30:days"], filters=[f"video_id:{lesson}", "country:US"])
    assert resp.total_row_count > 0
    title = catalogue.lessons[lesson]["title"]
    assert all(v.video_title == title and v.country_code == "US" for v in resp.data)


def test_get_view_has_sdk_types(
    views_api: mux_python.VideoViewsApi, catalogue: Catalogue, simulated: dict[str, Any]
) -> None:
    listed = views_api.list_video_views(limit=100, timeframe=["7:days"]).data
    item = next(v for v in listed if not v.playback_failure)
    view = views_api.get_video_view(item.id).data
    # Two identifiers, as on Mux: the opaque id (list item, GET key) and the UUID view_id (exports).
    assert view.id == item.id != view.view_id
    assert str(uuid.UUID(view.view_id)) == view.view_id
    with pytest.raises(NotFoundException):
        views_api.get_video_view(view.view_id)
    assert view.video_id in catalogue.lessons
    spec = catalogue.lessons[view.video_id]
    assert view.asset_id == spec["asset_id"]
    assert view.video_title == spec["title"] == item.video_title
    assert view.viewer_user_id in catalogue.students[spec["course"]]
    assert isinstance(view.view_playing_time, str) and int(view.view_playing_time) >= 0
    assert isinstance(view.view_max_playhead_position, str)
    assert int(view.view_max_playhead_position) <= view.video_duration
    assert view.video_duration == round(catalogue.assets[spec["asset_id"]]["duration"] * 1000)
    assert isinstance(view.watch_time, int) and view.watch_time == item.watch_time
    assert isinstance(view.rebuffer_percentage, str) and isinstance(view.viewer_experience_score, str)
    assert view.view_start == item.view_start and view.view_end == item.view_end
    assert view.viewer_os_family == item.viewer_os_family
    assert view.viewer_device_category in ("desktop", "phone", "tablet")
    assert view.playback_id == catalogue.assets[spec["asset_id"]]["playback_ids"][0]["id"]
    assert view.events[0].name == "playerready" and view.events[-1].name == "viewend"
    if not view.exit_before_video_start:
        assert view.time_to_first_frame and view.time_to_first_frame > 0
        assert view.view_content_startup_time == view.time_to_first_frame  # no preroll ads here
    assert isinstance(view.player_startup_time, int) and 100 <= view.player_startup_time < 1_000
    raw = json.loads(views_api.get_video_view(item.id, _preload_content=False).data)["data"]
    assert "video_startup_time" not in raw  # a metric id, not a field of a view
    assert set(raw) <= set(mux_python.VideoView.attribute_map)  # every key is one mux-python knows


def test_unknown_view_is_404(views_api: mux_python.VideoViewsApi) -> None:
    with pytest.raises(NotFoundException):
        views_api.get_video_view("00000000-0000-0000-0000-000000000000")
    with pytest.raises(NotFoundException):
        views_api.get_video_view("not-a-view")


def test_viewer_and_error_filters(views_api: mux_python.VideoViewsApi, catalogue: Catalogue) -> None:
    failed = views_api.list_video_views(limit=100, timeframe=["30:days"], error_id="any")
    assert failed.total_row_count > 0
    assert all(v.playback_failure and v.error_type_id and v.player_error_code for v in failed.data)
    type_id = failed.data[0].error_type_id
    one_type = views_api.list_video_views(limit=100, timeframe=["30:days"], error_id=type_id)
    assert 0 < one_type.total_row_count <= failed.total_row_count
    assert {v.error_type_id for v in one_type.data} == {type_id}

    student = catalogue.students["1"][0]
    mine = views_api.list_video_views(limit=100, timeframe=["30:days"], viewer_id=student)
    assert mine.total_row_count > 0
    for item in mine.data[:3]:
        assert views_api.get_video_view(item.id).data.viewer_user_id == student
    device = views_api.get_video_view(mine.data[0].id).data.mux_viewer_id
    on_device = views_api.list_video_views(limit=100, timeframe=["30:days"], viewer_id=device)
    assert 0 < on_device.total_row_count <= mine.total_row_count
    assert {views_api.get_video_view(v.id).data.mux_viewer_id for v in on_device.data[:3]} == {device}


def test_metric_filters(views_api: mux_python.VideoViewsApi) -> None:
    slow = views_api.list_video_views(limit=100, timeframe=["30:days"], metric_filters=["video_startup_time>=3000"])
    fast = views_api.list_video_views(limit=1, timeframe=["30:days"], metric_filters=["video_startup_time<3000"])
    started = views_api.list_video_views(limit=1, timeframe=["30:days"], metric_filters=["video_startup_time>=0"])
    assert 0 < slow.total_row_count < fast.total_row_count
    assert slow.total_row_count + fast.total_row_count == started.total_row_count
    for item in slow.data[:5]:
        assert views_api.get_video_view(item.id).data.time_to_first_frame >= 3000


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"timeframe": ["7:fortnights"]}, "timeframe"),
        ({"timeframe": ["10", "5"]}, "start must be before"),
        ({"filters": ["browser"]}, "dimension:value"),
        ({"filters": ["not_a_dimension:x"]}, "not a valid dimension"),
        ({"metric_filters": ["views>3"]}, "cannot be used"),
        ({"order_direction": "sideways"}, "order_direction"),
    ],
)
def test_bad_parameters_are_400(views_api: mux_python.VideoViewsApi, kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ApiException) as caught:
        views_api.list_video_views(**kwargs)
    assert caught.value.status == 400
    assert "invalid_parameters" in caught.value.body and fragment in caught.value.body


def test_data_routes_need_basic_auth(emu: EmulatorServer) -> None:
    bad = mux_python.ApiClient(mux_python.Configuration(host=emu.url, username=emu.token_id, password="wrong"))
    with pytest.raises(UnauthorizedException):
        mux_python.VideoViewsApi(bad).list_video_views()
    with pytest.raises(UnauthorizedException):
        mux_python.MetricsApi(bad).get_overall_values("views")
    with pytest.raises(UnauthorizedException):
        mux_python.DeliveryUsageApi(bad).list_delivery_usage()
    bad.close()
    assert emu.http.get("/data/v1/video-views").status_code == 401
    assert emu.http.get("/video/v1/delivery-usage").json()["error"]["type"] == "unauthorized"


def test_data_routes_obey_injected_faults(emu: EmulatorServer, views_api: mux_python.VideoViewsApi) -> None:
    emu.set_faults({"routes": {"GET /data/v1/video-views": {"p503": 1.0}}})
    with pytest.raises(ServiceException) as caught:
        views_api.list_video_views(limit=1)
    assert caught.value.status == 503
    emu.set_faults({"routes": {"GET /data/v1/metrics/{metric_id}/overall": {"p429": 1.0, "retry_after": None}}})
    with pytest.raises(ApiException) as limited:
        mux_python.MetricsApi(views_api.api_client).get_overall_values("views")
    assert limited.value.status == 429 and "Too many requests" in limited.value.body
    assert views_api.list_video_views(limit=1).data  # other routes unaffected
    # No Retry-After: urllib3 (inside mux-python) would otherwise sleep and retry on its own.
    limits = {"enabled": True, "read_per_second": 0.01, "read_burst": 1, "retry_after_header": False}
    emu.set_faults({"rate_limits": limits})
    views_api.list_video_views(limit=1)
    with pytest.raises(ApiException) as throttled:
        views_api.list_video_views(limit=1)
    assert throttled.value.status == 429

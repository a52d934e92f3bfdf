"""GET /data/v1/metrics/{id}/overall|breakdown|timeseries, through mux-python, and how they agree."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import mux_python
import pytest
from mux_python.exceptions import ApiException

from emulator.data.catalog import HIGH_ERROR_BROWSERS
from tests.emulator_data.helpers import Catalogue

METRICS = [
    "views",
    "unique_viewers",
    "playing_time",
    "video_startup_time",
    "rebuffer_percentage",
    "playback_failure_percentage",
    "viewer_experience_score",
]


@pytest.fixture
def window(simulated: dict[str, Any]) -> list[str]:
    end = simulated["time_range"]["end"] - 86_400
    return [str(end - 10 * 86_400), str(end)]


@pytest.mark.parametrize("metric", METRICS)
def test_each_metric_overall_breakdown_timeseries_agree(
    metrics_api: mux_python.MetricsApi, views_api: mux_python.VideoViewsApi, metric: str, window: list[str]
) -> None:
    overall = metrics_api.get_overall_values(metric, timeframe=window)
    assert isinstance(overall, mux_python.GetOverallValuesResponse)
    assert overall.timeframe == [int(w) for w in window] and overall.meta.aggregation == "view_end"
    data = overall.data
    listed = views_api.list_video_views(limit=1, timeframe=window).total_row_count
    assert data.total_views == listed > 0
    assert data.value is not None and data.value >= 0
    assert data.total_playing_time <= data.total_watch_time

    breakdown = metrics_api.list_breakdown_values(metric, group_by="browser", timeframe=window, limit=100)
    rows = breakdown.data
    assert breakdown.total_row_count == len(rows) > 3
    assert sum(r.views for r in rows) == data.total_views
    assert sum(r.total_playing_time for r in rows) == data.total_playing_time
    assert sorted(r.negative_impact for r in rows) == list(range(1, len(rows) + 1))
    if metric in ("views", "playing_time"):
        assert math.isclose(sum(r.value for r in rows), data.value, rel_tol=1e-9)
    if metric == "unique_viewers":
        assert sum(r.value for r in rows) >= data.value  # a student on two browsers counts in both

    series = metrics_api.get_metric_timeseries_data(metric, timeframe=window)
    assert series.meta.granularity == "hour"  # 6 h < 10 days <= 15 days
    assert series.total_row_count == len(series.data) in (240, 241)
    stamps = [row[0] for row in series.data]
    assert stamps == sorted(stamps) and stamps[0].endswith(":00:00Z")
    counted = sum(int(row[2]) for row in series.data)
    if metric in ("views", "unique_viewers", "playing_time", "playback_failure_percentage"):
        assert counted == data.total_views
    else:
        assert 0 < counted <= data.total_views
    if metric in ("views", "playing_time"):
        assert math.isclose(sum(float(row[1]) for row in series.data if row[1] is not None), data.value, rel_tol=1e-6)


def test_measurements_defaults_and_explicit(metrics_api: mux_python.MetricsApi, window: list[str]) -> None:
    median = metrics_api.get_overall_values("video_startup_time", timeframe=window).data.value
    p95 = metrics_api.get_overall_values("video_startup_time", timeframe=window, measurement="95th").data.value
    avg = metrics_api.get_overall_values("video_startup_time", timeframe=window, measurement="avg").data.value
    assert 300 < median < avg < p95 < 10_000
    assert (
        metrics_api.get_overall_values("video_startup_time", timeframe=window, measurement="median").data.value
        == median
    )
    total = metrics_api.get_overall_values("playing_time", timeframe=window)
    assert total.data.value == total.data.total_playing_time  # default measurement for playing_time: sum
    failures = metrics_api.get_overall_values("playback_failure_percentage", timeframe=window).data.value
    assert 0.001 < failures < 0.05  # a fraction, not percent
    with pytest.raises(ApiException) as caught:
        metrics_api.get_overall_values("views", timeframe=window, measurement="median")
    assert caught.value.status == 400


@pytest.mark.parametrize(
    "group_by",
    ["browser", "operating_system", "country", "video_id", "asset_id", "viewer_device_category", "player_name"],
)
def test_breakdown_dimensions_partition_the_views(
    metrics_api: mux_python.MetricsApi, window: list[str], group_by: str
) -> None:
    total = metrics_api.get_overall_values("views", timeframe=window).data.total_views
    rows: list[mux_python.BreakdownValue] = []
    page = 1
    while True:
        resp = metrics_api.list_breakdown_values("views", group_by=group_by, timeframe=window, limit=10, page=page)
        rows += resp.data
        if len(resp.data) < 10:
            break
        page += 1
    assert len(rows) == resp.total_row_count
    assert sum(r.views for r in rows) == total
    assert len({r.field for r in rows}) == len(rows)
    assert [r.views for r in rows] == sorted((r.views for r in rows), reverse=True)


def test_breakdown_rejects_unknown_dimensions(metrics_api: mux_python.MetricsApi) -> None:
    # Mux calls the device type `viewer_device_category`; `device_type` is not a Mux dimension.
    for bad in ("device_type", "nonsense"):
        with pytest.raises(ApiException) as caught:
            metrics_api.list_breakdown_values("views", group_by=bad)
        assert caught.value.status == 400


def test_breakdown_ordering(metrics_api: mux_python.MetricsApi, window: list[str]) -> None:
    by_field = metrics_api.list_breakdown_values(
        "video_startup_time", group_by="country", timeframe=window, order_by="field", order_direction="asc"
    ).data
    assert [r.field for r in by_field] == sorted(r.field for r in by_field)
    by_value = metrics_api.list_breakdown_values(
        "video_startup_time", group_by="country", timeframe=window, order_by="value", order_direction="desc"
    ).data
    assert [r.value for r in by_value] == sorted((r.value for r in by_value), reverse=True)
    worst = metrics_api.list_breakdown_values("video_startup_time", group_by="country", timeframe=window).data
    assert worst[0].negative_impact == 1


@pytest.mark.parametrize(
    ("timeframe", "granularity"),
    [(["60:minutes"], "minute"), (["3:hours"], "ten_minutes"), (["7:days"], "hour"), (["30:days"], "day")],
)
def test_timeseries_default_granularity(
    metrics_api: mux_python.MetricsApi, timeframe: list[str], granularity: str
) -> None:
    series = metrics_api.get_metric_timeseries_data("views", timeframe=timeframe)
    assert series.meta.granularity == granularity
    explicit = metrics_api.get_metric_timeseries_data("views", timeframe=timeframe, group_by="hour")
    assert explicit.meta.granularity == "hour"
    assert sum(int(r[2]) for r in series.data) == sum(int(r[2]) for r in explicit.data)
    desc = metrics_api.get_metric_timeseries_data("views", timeframe=timeframe, order_direction="desc")
    assert [r[0] for r in desc.data] == [r[0] for r in series.data][::-1]


def test_high_error_browsers_fail_more(metrics_api: mux_python.MetricsApi, simulated: dict[str, Any]) -> None:
    rows = metrics_api.list_breakdown_values(
        "playback_failure_percentage", group_by="browser", timeframe=["60:days"], limit=100
    ).data
    rate = {r.field: r.value for r in rows}
    worst_others = max(v for k, v in rate.items() if k not in HIGH_ERROR_BROWSERS)
    for browser in HIGH_ERROR_BROWSERS:
        assert rate[browser] > worst_others, rate
    overall = metrics_api.get_overall_values("playback_failure_percentage", timeframe=["60:days"]).data.value
    assert min(rate[b] for b in HIGH_ERROR_BROWSERS) > overall


def test_weekends_are_quieter(metrics_api: mux_python.MetricsApi, simulated: dict[str, Any]) -> None:
    end = simulated["time_range"]["end"] // 86_400 * 86_400
    series = metrics_api.get_metric_timeseries_data(
        "views", timeframe=[str(end - 56 * 86_400), str(end)], group_by="day"
    ).data
    weekend, weekday = [], []
    for stamp, _, views in series:
        day = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        (weekend if day.weekday() >= 5 else weekday).append(int(views))
    assert len(weekend) == 16 and len(weekday) == 40
    assert sum(weekend) / len(weekend) < 0.85 * sum(weekday) / len(weekday)


def test_later_lessons_are_watched_less(
    metrics_api: mux_python.MetricsApi, catalogue: Catalogue, simulated: dict[str, Any]
) -> None:
    rows = metrics_api.list_breakdown_values("views", group_by="video_id", timeframe=["60:days"], limit=100).data
    views = {r.field: r.views for r in rows}
    for course in catalogue.students:
        ordered = sorted(
            (spec["position"], views.get(lesson, 0))
            for lesson, spec in catalogue.lessons.items()
            if spec["course"] == course
        )
        counts = [count for _, count in ordered]
        assert counts[0] > 1.6 * counts[-1], counts
        first_half, second_half = counts[: len(counts) // 2], counts[len(counts) // 2 :]
        assert sum(first_half) > sum(second_half)
    uniques = metrics_api.list_breakdown_values(
        "unique_viewers", group_by="video_id", timeframe=["60:days"], limit=100
    ).data
    students = {lesson: catalogue.students[spec["course"]] for lesson, spec in catalogue.lessons.items()}
    assert all(r.value <= len(students[r.field]) for r in uniques)

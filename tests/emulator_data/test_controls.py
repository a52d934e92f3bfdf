"""/_emulator/simulate and /_emulator/views/...: validation, determinism, merging, reset, persistence."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import mux_python
import pytest

from emulator.testing import EmulatorServer
from tests.emulator_data.helpers import Catalogue, make_client, simulate, write_state


def _ids(emu: EmulatorServer, limit: int = 100, **params: Any) -> list[str]:
    query = {"limit": limit, "timeframe[]": "30:days", "order_direction": "asc", **params}
    response = emu.http.get("/data/v1/video-views", params=query, auth=(emu.token_id, emu.token_secret))
    response.raise_for_status()
    return [row["id"] for row in response.json()["data"]]


def test_summary_describes_the_run(simulated: dict[str, Any], catalogue: Catalogue) -> None:
    assert simulated["views"] == simulated["total_views"] == 150_000
    assert sum(simulated["assets"].values()) == 150_000
    assert set(simulated["assets"]) == set(catalogue.assets)
    assert simulated["skipped"] == []
    assert simulated["seconds"] < 30
    window = simulated["time_range"]
    assert window["end"] - window["start"] == 60 * 86_400
    assert window["start"] <= window["first_view_end"] <= window["last_view_end"]
    lesson = simulated["lessons"][0]
    assert 1 <= len(lesson["drop_offs"]) <= 3
    assert all(0 < d["fraction"] < 1 and 0 < d["strength"] < 1 for d in lesson["drop_offs"])


def test_same_seed_same_views(fresh_emu: EmulatorServer, catalogue: Catalogue) -> None:
    end = int(time.time()) - 3600
    body = {"views": 20_000, "days": 10, "seed": 3, "end": end, "lessons": catalogue.lessons}
    body["students"] = catalogue.students
    first = simulate(fresh_emu, **body)
    ids = _ids(fresh_emu, limit=100)
    view = fresh_emu.http.get(f"/data/v1/video-views/{ids[7]}", auth=(fresh_emu.token_id, fresh_emu.token_secret))
    second = simulate(fresh_emu, **body)
    assert _ids(fresh_emu, limit=100) == ids
    again = fresh_emu.http.get(f"/data/v1/video-views/{ids[7]}", auth=(fresh_emu.token_id, fresh_emu.token_secret))
    assert again.json()["data"] == view.json()["data"]
    timings = {"seconds", "generate_seconds"}
    assert {k: v for k, v in first.items() if k not in timings} == {k: v for k, v in second.items() if k not in timings}
    simulate(fresh_emu, **{**body, "seed": 4})
    assert _ids(fresh_emu, limit=100) != ids


def test_merge_keeps_existing_ids(fresh_emu: EmulatorServer, catalogue: Catalogue) -> None:
    now = int(time.time())
    common = {"lessons": catalogue.lessons, "students": catalogue.students, "days": 5}
    simulate(fresh_emu, views=8_000, seed=1, end=now - 86_400, **common)
    before = _ids(fresh_emu, limit=100)
    summary = simulate(fresh_emu, views=2_000, seed=2, end=now, replace=False, **common)
    assert summary["views"] == 2_000 and summary["total_views"] == 10_000
    client = make_client(fresh_emu)
    api = mux_python.VideoViewsApi(client)
    for view_id in before[:5]:
        assert api.get_video_view(view_id).data.id == view_id
    total = api.list_video_views(limit=1, timeframe=["30:days"]).total_row_count
    client.close()
    assert total == fresh_emu.http.get("/_emulator/views").json()["data"]["visible"] > 9_000


def test_views_appear_only_once_they_have_ended(fresh_emu: EmulatorServer, catalogue: Catalogue) -> None:
    future = int(time.time()) + 2 * 86_400
    simulate(fresh_emu, views=5_000, days=3, seed=5, end=future, lessons=catalogue.lessons, students=catalogue.students)
    state = fresh_emu.http.get("/_emulator/views").json()["data"]
    assert 0 < state["visible"] < state["views"] == 5_000
    fresh_emu.advance_clock(3 * 86_400)
    assert fresh_emu.http.get("/_emulator/views").json()["data"]["visible"] == 5_000


def test_without_mapping_every_ready_asset_gets_invented_viewers(
    fresh_emu: EmulatorServer, catalogue: Catalogue
) -> None:
    summary = simulate(fresh_emu, views=10_000, days=7, seed=9, viewers=80)
    assert set(summary["assets"]) == set(catalogue.assets)
    assert summary["viewers"] == 80
    rows = fresh_emu.http.get("/_emulator/views/progress", params={"limit": 10_000}).json()["data"]
    assert {row["video_id"] for row in rows} == {a["passthrough"] for a in catalogue.assets.values()}
    assert all(row["viewer_user_id"].startswith("viewer-") for row in rows)


def test_unknown_or_unready_assets_are_skipped(fresh_emu: EmulatorServer, catalogue: Catalogue) -> None:
    lessons = dict(list(catalogue.lessons.items())[:3])
    lessons["999999"] = {"asset_id": "missing-asset", "course": "1", "position": 9}
    summary = simulate(fresh_emu, views=1_000, days=2, seed=1, lessons=lessons, students=catalogue.students)
    assert summary["skipped"] == [{"lesson_id": "999999", "asset_id": "missing-asset", "reason": "unknown asset"}]
    assert len(summary["assets"]) == 3


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"views": -1}, "views"),
        ({"views": "many"}, "views"),
        ({"days": 0}, "days"),
        ({"seed": 1.5}, "seed"),
        ({"replace": "yes"}, "replace"),
        ({"lessons": {"1": 5}}, "lessons"),
        ({"students": "everyone"}, "students"),
        ({"knobs": {"weekend_factor": -1}}, "weekend_factor"),
        ({"knobs": {"volume": 3}}, "unknown knobs"),
        ({"colour": "blue"}, "unknown fields"),
        ({"lessons": {"1": "missing-asset"}}, "no ready assets"),
    ],
)
def test_simulate_validates_its_body(emu: EmulatorServer, body: dict[str, Any], fragment: str) -> None:
    response = emu.http.post("/_emulator/simulate", json={"views": 10, **body})
    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]["messages"][0]


def test_status_reports_the_last_run(fresh_emu: EmulatorServer, catalogue: Catalogue) -> None:
    assert fresh_emu.http.get("/_emulator/simulate").json()["data"]["state"] == "idle"
    simulate(fresh_emu, views=1_234, days=2, seed=1, lessons=catalogue.lessons, students=catalogue.students)
    status = fresh_emu.http.get("/_emulator/simulate").json()["data"]
    assert status["state"] == "done" and status["generated"] == status["total"] == 1_234
    fresh_emu.http.post("/_emulator/simulate", json={"lessons": {"1": "missing-asset"}})
    failed = fresh_emu.http.get("/_emulator/simulate").json()["data"]
    assert failed["state"] == "failed" and "no ready assets" in failed["error"]


def test_progress_pages_cover_every_view(emu: EmulatorServer, catalogue: Catalogue) -> None:
    first = emu.http.get("/_emulator/views/progress", params={"limit": 500}).json()
    total = first["total_row_count"]
    rows: list[dict[str, Any]] = []
    page = 1
    while len(rows) < total:
        rows += emu.http.get("/_emulator/views/progress", params={"limit": 500, "page": page}).json()["data"]
        page += 1
    assert len({(r["viewer_user_id"], r["video_id"]) for r in rows}) == total
    visible = emu.http.get("/_emulator/views").json()["data"]["visible"]
    assert sum(r["views"] for r in rows) == visible
    for row in rows[:200]:
        spec = catalogue.lessons[row["video_id"]]
        assert row["viewer_user_id"] in catalogue.students[spec["course"]]
        assert 0 <= row["max_position_s"] <= row["video_duration_s"] + 0.001
        assert row["first_view_at"] <= row["last_view_at"]
    assert emu.http.get("/_emulator/views/progress", params={"limit": 0}).status_code == 400


def test_reset_drops_views_and_restart_keeps_them(tmp_path: Path, catalogue: Catalogue) -> None:
    state = tmp_path / "state.json"
    write_state(state, catalogue)
    with EmulatorServer(state_file=state, data_dir=tmp_path / "media") as first:
        simulate(first, views=3_000, days=3, seed=2, lessons=catalogue.lessons, students=catalogue.students)
        ids = _ids(first)
    assert (tmp_path / "state.views.npz").exists()
    with EmulatorServer(state_file=state, data_dir=tmp_path / "media") as second:
        assert _ids(second) == ids
        second.reset()
        assert _ids(second) == []
        assert not (tmp_path / "state.views.npz").exists()


def test_every_route_answers_before_any_simulation(fresh_emu: EmulatorServer) -> None:
    client = make_client(fresh_emu)
    views, metrics = mux_python.VideoViewsApi(client), mux_python.MetricsApi(client)
    assert views.list_video_views().data == [] and views.list_video_views().total_row_count == 0
    assert metrics.get_overall_values("views").data.value == 0
    assert metrics.get_overall_values("video_startup_time").data.value is None
    assert metrics.list_breakdown_values("views", group_by="browser").data == []
    series = metrics.get_metric_timeseries_data("rebuffer_percentage", timeframe=["3:hours"]).data
    assert series and all(row[1] is None and row[2] == "0" for row in series)
    assert mux_python.DeliveryUsageApi(client).list_delivery_usage().data == []
    client.close()
    assert fresh_emu.http.get("/_emulator/views/progress").json()["total_row_count"] == 0

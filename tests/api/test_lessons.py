"""Lesson status and its server-sent-events stream over HTTP."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from core.db.engine import transaction
from core.db.models import Lesson
from tests.api.conftest import ApiFactory, RunningApi, api_settings
from tests.factories import enroll, make_course, make_lesson, make_user


@pytest.fixture
def api(db_url: str, start_api: ApiFactory) -> RunningApi:
    return start_api(api_settings(db_url))


@pytest.fixture
def world(api: RunningApi) -> dict[str, int]:
    with transaction(api.session_factory) as s:
        teacher, student, stranger = make_user(s, "teacher"), make_user(s), make_user(s)
        course = make_course(s, teacher=teacher)
        enroll(s, student, course)
        lesson = make_lesson(s, course, video_status="waiting_upload", mux_upload_id="U1")
        return {"teacher": teacher.id, "student": student.id, "stranger": stranger.id, "lesson": lesson.id}


def set_status(api: RunningApi, lesson_id: int, **changes: Any) -> None:
    with transaction(api.session_factory) as s:
        lesson = s.get(Lesson, lesson_id)
        assert lesson is not None
        for key, value in changes.items():
            setattr(lesson, key, value)


def sse_events(text: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        if "event" in lines:
            out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_status_access(api: RunningApi, world: dict[str, int]) -> None:
    path = f"/api/lessons/{world['lesson']}/status"
    body = api.http.get(path, headers=api.auth(world["student"])).json()
    assert (body["status"], body["upload_id"], body["provider"]) == ("waiting_upload", "U1", None)
    assert api.http.get(path, headers=api.auth(world["teacher"])).status_code == 200
    # Not enrolled: the same 404 as an id that does not exist (no probing for lesson ids).
    assert api.http.get(path, headers=api.auth(world["stranger"])).status_code == 404
    assert api.http.get(path).status_code == 401
    assert api.http.get("/api/lessons/999999/status", headers=api.auth(world["teacher"])).status_code == 404


def test_events_once_sends_the_current_status_and_ends(api: RunningApi, world: dict[str, int]) -> None:
    resp = api.http.get(f"/api/lessons/{world['lesson']}/events?once=1", headers=api.auth(world["student"]))
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = sse_events(resp.text)
    assert [name for name, _ in events] == ["status", "end"]
    assert events[0][1]["status"] == "waiting_upload"
    assert events[1][1] == {"reason": "once"}


def test_events_stream_each_change_until_final(api: RunningApi, world: dict[str, int]) -> None:
    lesson_id = world["lesson"]

    def progress() -> None:
        time.sleep(0.2)
        set_status(api, lesson_id, video_status="processing", mux_asset_id="A1")
        time.sleep(0.2)
        set_status(api, lesson_id, video_status="ready", mux_playback_id="P1", video_provider="mux")

    worker = threading.Thread(target=progress)
    worker.start()
    token = api.token(world["teacher"])  # EventSource cannot send headers: the token may ride in the query
    resp = api.http.get(f"/api/lessons/{lesson_id}/events?timeout=20&access_token={token}")
    worker.join()
    events = sse_events(resp.text)
    assert [d.get("status") for _, d in events[:-1]] == ["waiting_upload", "processing", "ready"]
    assert events[-2][1]["provider"] == "mux"
    assert events[-1] == ("end", {"reason": "final"})


def test_events_end_after_the_timeout(api: RunningApi, world: dict[str, int]) -> None:
    started = time.monotonic()
    resp = api.http.get(f"/api/lessons/{world['lesson']}/events?timeout=0.3", headers=api.auth(world["student"]))
    assert time.monotonic() - started < 5
    assert sse_events(resp.text)[-1] == ("end", {"reason": "timeout"})


def test_events_check_access_before_streaming(api: RunningApi, world: dict[str, int]) -> None:
    assert api.http.get(f"/api/lessons/{world['lesson']}/events?once=1").status_code == 401
    resp = api.http.get(f"/api/lessons/{world['lesson']}/events?once=1", headers=api.auth(world["stranger"]))
    assert resp.status_code == 404

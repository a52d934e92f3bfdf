"""Lesson status and its server-sent-events stream over HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import delete

from core.auth import mint_token
from core.db.engine import transaction
from core.db.models import Enrollment, Lesson, User
from tests.api.conftest import JWT_SECRET, ApiFactory, RunningApi, api_settings
from tests.factories import enroll, make_course, make_lesson, make_user
from tests.waiting import wait_until


@pytest.fixture
def api(db_url: str, start_api: ApiFactory) -> RunningApi:
    return start_api(api_settings(db_url))


def make_world(api: RunningApi) -> dict[str, int]:
    with transaction(api.session_factory) as s:
        teacher, student, stranger = make_user(s, "teacher"), make_user(s), make_user(s)
        course = make_course(s, teacher=teacher)
        enroll(s, student, course)
        lesson = make_lesson(s, course, video_status="waiting_upload", mux_upload_id="U1")
        second = make_lesson(s, course, video_status="processing", mux_upload_id="U2", mux_asset_id="A2")
        return {
            "teacher": teacher.id, "student": student.id, "stranger": stranger.id, "lesson": lesson.id,
            "second": second.id, "course": course.id,
        }  # fmt: skip


@pytest.fixture
def world(api: RunningApi) -> dict[str, int]:
    return make_world(api)


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

    def progress(name: str, data: dict[str, Any]) -> None:  # each change once the stream has sent the last one
        if data.get("status") == "waiting_upload":
            set_status(api, lesson_id, video_status="processing", mux_asset_id="A1")
        elif data.get("status") == "processing":
            set_status(api, lesson_id, video_status="ready", mux_playback_id="P1", video_provider="mux")

    # EventSource cannot send headers: a ticket rides in the query instead of the bearer token.
    ticket = api.http.post(f"/api/lessons/{lesson_id}/ticket", headers=api.auth(world["teacher"])).json()["ticket"]
    events = stream_events(api, f"/api/lessons/{lesson_id}/events?timeout=20&ticket={ticket}", on=progress)
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


# --- streams outlive neither access nor their token; capped per user and per process (issue 15 item 10) ---


@pytest.fixture
def tight_api(db_url: str, start_api: ApiFactory) -> RunningApi:
    return start_api(
        api_settings(
            db_url, lesson_events_recheck_s=0.2, lesson_events_max_per_user=2, lesson_events_max_streams=3,
            lesson_events_max_ids=3,
        )
    )  # fmt: skip


OnEvent = Callable[[str, dict[str, Any]], None]


def stream_events(
    api: RunningApi, path: str, token: str | None = None, *, until: str = "end", on: OnEvent | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """Read a stream over HTTP event by event until an `until` event (or the server closes it), calling `on`
    with each event as it arrives: a test changes the world right after the stream has shown its last state."""
    out: list[tuple[str, dict[str, Any]]] = []
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with api.http.stream("GET", path, headers=headers, timeout=30) as resp:
        assert resp.status_code == 200, resp.read()
        name: str | None = None
        for line in resp.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: ") and name is not None:
                out.append((name, json.loads(line.removeprefix("data: "))))
                if on is not None:
                    on(*out[-1])
                if name == until:
                    break
    return out


def unenroll(api: RunningApi, student_id: int, course_id: int) -> None:
    with transaction(api.session_factory) as s:
        s.execute(delete(Enrollment).where(Enrollment.user_id == student_id, Enrollment.course_id == course_id))


def on_first(action: Callable[[], None]) -> OnEvent:
    """An `on` for stream_events that runs `action` once, after the stream's first event."""
    done: list[bool] = []

    def react(name: str, data: dict[str, Any]) -> None:
        if not done:
            done.append(True)
            action()

    return react


def test_a_removed_enrolment_ends_the_stream(tight_api: RunningApi) -> None:
    api, world = tight_api, make_world(tight_api)
    started = time.monotonic()
    events = stream_events(
        api,
        f"/api/lessons/{world['lesson']}/events?timeout=60",
        api.token(world["student"]),
        on=on_first(lambda: unenroll(api, world["student"], world["course"])),
    )
    assert events[0][0] == "status"
    assert events[-1] == ("end", {"reason": "access_revoked"})
    assert time.monotonic() - started < 30  # re-checked every 0.2 s, not after the stream's 60 s


def test_a_deleted_user_ends_the_stream(tight_api: RunningApi) -> None:
    api, world = tight_api, make_world(tight_api)

    def delete_student() -> None:
        with transaction(api.session_factory) as s:
            s.execute(delete(User).where(User.id == world["student"]))

    path = f"/api/lessons/{world['lesson']}/events?timeout=8"
    events = stream_events(api, path, api.token(world["student"]), on=on_first(delete_student))
    assert events[-1] == ("end", {"reason": "unauthenticated"})


def test_the_stream_ends_when_its_token_expires(tight_api: RunningApi) -> None:
    api, world = tight_api, make_world(tight_api)
    token = mint_token(JWT_SECRET, world["teacher"], ttl_s=2)
    started = time.monotonic()
    events = stream_events(api, f"/api/lessons/{world['lesson']}/events?timeout=60", token)
    assert events[-1] == ("end", {"reason": "token_expired"})
    assert time.monotonic() - started < 30  # at the token's exp (2 s), not after the stream's 60 s


class OpenStream:
    """A stream held open (its first event read) until `close`."""

    def __init__(self, api: RunningApi, path: str, token: str) -> None:
        self._ctx = api.http.stream("GET", path, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        self.resp = self._ctx.__enter__()
        # Keep the line iterator: dropping it half-read would close the connection (and free the slot).
        self._lines = self.resp.iter_lines()
        if self.resp.status_code == 200:
            next(self._lines)
        else:
            self.resp.read()

    def close(self) -> None:
        self._ctx.__exit__(None, None, None)


def test_streams_are_capped_per_user_and_per_process(tight_api: RunningApi) -> None:
    api, world = tight_api, make_world(tight_api)
    path = f"/api/lessons/{world['lesson']}/events?timeout=20"
    student, teacher = api.token(world["student"]), api.token(world["teacher"])
    opened = [OpenStream(api, path, student), OpenStream(api, path, student)]
    try:
        assert [s.resp.status_code for s in opened] == [200, 200]
        third = OpenStream(api, path, student)
        third.close()
        assert third.resp.status_code == 429
        assert third.resp.headers["Retry-After"] == "5"
        assert "already has 2 event streams open" in third.resp.json()["error"]["message"]
        opened.append(OpenStream(api, path, teacher))  # another user still may: the process holds 3
        assert opened[-1].resp.status_code == 200
        over = OpenStream(api, path, teacher)
        over.close()
        assert over.resp.status_code == 429
        assert "this server has 3 event streams open" in over.resp.json()["error"]["message"]
    finally:
        for stream in opened:
            stream.close()

    def reopened() -> bool:  # closing gives the slots back (the server notices the disconnect)
        stream = OpenStream(api, path, student)
        stream.close()
        return stream.resp.status_code == 200

    wait_until(reopened, timeout=10)


def test_finished_streams_give_their_slot_back(tight_api: RunningApi) -> None:
    api, world = tight_api, make_world(tight_api)
    auth = api.auth(world["student"])
    for _ in range(5):  # the user may hold 2: five in a row only work if each gives its slot back
        resp = api.http.get(f"/api/lessons/{world['lesson']}/events?once=1", headers=auth)
        assert resp.status_code == 200
        assert sse_events(resp.text)[-1] == ("end", {"reason": "once"})


def test_one_stream_for_a_lesson_list(tight_api: RunningApi) -> None:
    api, world = tight_api, make_world(tight_api)
    first, second = world["lesson"], world["second"]

    seen: list[tuple[int, str]] = []

    def progress(name: str, data: dict[str, Any]) -> None:  # each change once the stream has shown the last one
        if name != "status":
            return
        seen.append((data["lesson_id"], data["status"]))
        if len(seen) == 2:
            set_status(api, first, video_status="processing", mux_asset_id="A1")
        elif seen[-1] == (first, "processing"):
            unenroll(api, world["student"], world["course"])

    path = f"/api/lessons/events?ids={first},{second}&timeout=8"
    events = stream_events(api, path, api.token(world["student"]), on=progress)
    statuses = [(d["lesson_id"], d["status"]) for name, d in events if name == "status"]
    assert statuses[:2] == [(first, "waiting_upload"), (second, "processing")]
    assert (first, "processing") in statuses[2:]
    removed = sorted(d["lesson_id"] for name, d in events if name == "removed")
    assert removed == sorted([first, second])
    assert events[-1] == ("end", {"reason": "access_revoked"})


def test_a_lesson_list_stream_checks_every_id_and_its_bounds(tight_api: RunningApi) -> None:
    api, world = tight_api, make_world(tight_api)
    student = api.auth(world["student"])
    ok = api.http.get(f"/api/lessons/events?ids={world['lesson']},{world['second']}&once=1", headers=student)
    assert [name for name, _ in sse_events(ok.text)] == ["status", "status", "end"]
    with transaction(api.session_factory) as s:
        foreign = make_lesson(s).id  # another teacher's course: the student is not enrolled
    denied = api.http.get(f"/api/lessons/events?ids={world['lesson']},{foreign}&once=1", headers=student)
    assert denied.status_code == 404  # as for an id that does not exist
    for ids in ("1,2,3,4", "1,,2", "x", "1;2", "99999999999", "0", "²"):
        resp = api.http.get(f"/api/lessons/events?ids={ids}&once=1", headers=student)
        assert resp.status_code == 400, ids
        assert resp.json()["error"]["type"] == "LessonIdsInvalid"
    assert api.http.get(f"/api/lessons/events?ids={world['lesson']}&once=1").status_code == 401

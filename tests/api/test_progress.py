"""Progress reports and tickets over HTTP: bearer, tickets in the query or a text/plain beacon body, access as
for playback, forged and expired tickets, oversized and impossible bodies, the rate limit, event streams."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from core.db.engine import transaction
from core.db.models import LessonProgress, LessonView
from core.tickets import TicketPurpose, TicketSigner
from tests.api.conftest import JWT_SECRET, ApiFactory, RunningApi, api_settings
from tests.factories import enroll, make_course, make_lesson, make_user


@pytest.fixture
def api(db_url: str, start_api: ApiFactory) -> RunningApi:
    return start_api(api_settings(db_url, progress_burst=1000))


@pytest.fixture
def world(api: RunningApi) -> dict[str, int]:
    with transaction(api.session_factory) as s:
        teacher, student, stranger, admin = make_user(s, "teacher"), make_user(s), make_user(s), make_user(s, "admin")
        course = make_course(s, teacher=teacher)
        enroll(s, student, course)
        lesson = make_lesson(s, course, video_url="lessons/a.mp4", duration_s=300.0)
        other = make_lesson(s, course, video_provider="mux", mux_playback_id="P2", video_status="ready")
        other.video_duration_s = 120.0
        return {
            "teacher": teacher.id, "student": student.id, "stranger": stranger.id, "admin": admin.id,
            "lesson": lesson.id, "other": other.id,
        }  # fmt: skip


def body(seq: int = 0, position: float = 10.0, ranges: Any = ((0, 10),), **extra: Any) -> dict[str, Any]:
    return {
        "session_id": extra.pop("session_id", "6f1c1d0e-6a4f-4b55-9d59-2f2f7d1f0a11"),
        "seq": seq,
        "position_s": position,
        "duration_s": 300.0,
        "ranges": [list(r) for r in ranges],
        "event": "heartbeat",
    } | extra


def ticket_for(api: RunningApi, user: int, lesson: int) -> dict[str, Any]:
    resp = api.http.post(f"/api/lessons/{lesson}/ticket", headers=api.auth(user))
    assert resp.status_code == 200, resp.text
    assert resp.headers["cache-control"] == "no-store"
    return resp.json()  # type: ignore[no-any-return]


def progress_rows(api: RunningApi) -> list[LessonProgress]:
    with api.session_factory() as s:
        return list(s.query(LessonProgress))


def test_a_report_with_the_bearer_header_is_applied_and_answered_after_commit(
    api: RunningApi, world: dict[str, int]
) -> None:
    path = f"/api/lessons/{world['lesson']}/progress"
    resp = api.http.post(path, json=body(0, 10.0, [(0, 10)]), headers=api.auth(world["student"]))
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert (out["resume_position_s"], out["furthest_position_s"], out["seconds_watched"], out["completed"]) == (
        10.0, 10.0, 10.0, False,
    )  # fmt: skip
    (row,) = progress_rows(api)  # answered: so committed
    assert (row.user_id, row.lesson_id, row.furthest_position_s) == (world["student"], world["lesson"], 10.0)
    got = api.http.get(path, headers=api.auth(world["student"])).json()
    assert (got["resume_position_s"], got["covered_s"], got["completed_at"]) == (10.0, 10.0, None)


def test_a_beacon_sends_text_plain_with_the_ticket_in_the_query_or_the_body(
    api: RunningApi, world: dict[str, int]
) -> None:
    issued = ticket_for(api, world["student"], world["lesson"])
    assert issued["purposes"] == ["events", "progress"] and issued["lesson_ids"] == [world["lesson"]]
    path = f"/api/lessons/{world['lesson']}/progress"
    beacon = {"Content-Type": "text/plain;charset=UTF-8"}
    resp = api.http.post(
        path, params={"ticket": issued["ticket"]}, content=json.dumps(body(0, 20.0, [(0, 20)])), headers=beacon
    )
    assert resp.status_code == 200, resp.text
    in_body = json.dumps(body(1, 30.0, [(0, 30)], ticket=issued["ticket"], event="hidden"))
    resp = api.http.post(path, content=in_body, headers=beacon)
    assert resp.status_code == 200, resp.text
    assert resp.json()["resume_position_s"] == 30.0
    got = api.http.get(path, params={"ticket": issued["ticket"]})
    assert got.status_code == 200 and got.json()["furthest_position_s"] == 30.0


def test_out_of_order_and_duplicate_reports_never_move_progress_back(api: RunningApi, world: dict[str, int]) -> None:
    path, auth = f"/api/lessons/{world['lesson']}/progress", api.auth(world["student"])
    sent = [body(seq, seq * 10.0, [(0, seq * 10.0)]) for seq in range(1, 8)]
    for b in [sent[4], sent[6], sent[1], sent[6], sent[0], sent[3], sent[5], sent[2], sent[4]]:
        assert api.http.post(path, json=b, headers=auth).status_code == 200
    got = api.http.get(path, headers=auth).json()
    assert (got["resume_position_s"], got["furthest_position_s"], got["seconds_watched"]) == (70.0, 70.0, 70.0)


def _error(resp: Any, status: int, kind: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert error["kind"] == kind
    return error  # type: ignore[no-any-return]


def test_forged_expired_and_misdirected_tickets_are_401_with_the_usual_error(
    api: RunningApi, world: dict[str, int]
) -> None:
    path = f"/api/lessons/{world['lesson']}/progress"
    issued = ticket_for(api, world["student"], world["lesson"])["ticket"]
    forged = TicketSigner("not-the-platform-secret-0123456789abcdef", ttl_s=600).sign(
        world["student"], [world["lesson"]], [TicketPurpose.progress]
    )[0]
    expired = TicketSigner(JWT_SECRET, ttl_s=600, clock=lambda: time.time() - 3600).sign(
        world["student"], [world["lesson"]], [TicketPurpose.progress]
    )[0]
    cases = {
        forged: "invalid ticket: signature does not match",
        expired: "ticket expired",
        issued[:-4] + "AAAA": "invalid ticket: signature does not match",
        api.token(world["student"]): "invalid ticket",  # the bearer token is no ticket
    }
    for ticket, reason in cases.items():
        resp = api.http.post(path, params={"ticket": ticket}, content=json.dumps(body()))
        assert _error(resp, 401, "unauthenticated")["reason"] == reason
        assert resp.headers["www-authenticate"] == "Bearer"
    # The student's genuine ticket for this lesson, used for another one they are enrolled in too.
    resp = api.http.post(
        f"/api/lessons/{world['other']}/progress", params={"ticket": issued}, content=json.dumps(body())
    )
    assert _error(resp, 401, "unauthenticated")["reason"] == f"ticket is not for lesson {world['other']}"
    # A body ticket is checked the same way, and no credentials at all is 401 too.
    resp = api.http.post(path, content=json.dumps(body(ticket=forged)))
    assert _error(resp, 401, "unauthenticated")["reason"] == "invalid ticket: signature does not match"
    assert _error(api.http.post(path, content=json.dumps(body())), 401, "unauthenticated")
    assert progress_rows(api) == []


def test_access_is_that_of_playback(api: RunningApi, world: dict[str, int]) -> None:
    path = f"/api/lessons/{world['lesson']}/progress"
    # Another student, not enrolled: 404 like an unknown lesson, for the ticket and the report alike.
    assert _error(
        api.http.post(f"/api/lessons/{world['lesson']}/ticket", headers=api.auth(world["stranger"])), 404, "not_found"
    )
    assert _error(api.http.post(path, json=body(), headers=api.auth(world["stranger"])), 404, "not_found")
    assert _error(
        api.http.post("/api/lessons/999999/progress", json=body(), headers=api.auth(world["student"])), 404, "not_found"
    )
    # The teacher and an admin may view (a preview) but have no progress to record: their ticket says so.
    for viewer in ("teacher", "admin"):
        issued = ticket_for(api, world[viewer], world["lesson"])
        assert issued["purposes"] == ["events"]
        resp = api.http.post(path, params={"ticket": issued["ticket"]}, content=json.dumps(body()))
        assert _error(resp, 401, "unauthenticated")["reason"] == "ticket does not allow progress"
        assert _error(api.http.post(path, json=body(), headers=api.auth(world[viewer])), 403, "forbidden")
    assert progress_rows(api) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"position_s": -1}, "position_s"),
        ({"position_s": 10**30}, "position_s"),
        ({"seq": -1}, "seq"),
        ({"seq": 2**31}, "seq"),
        ({"ranges": [[5, 1]]}, "ranges"),
        ({"ranges": [[0, -3]]}, "ranges"),
        ({"ranges": [[0, 1, 2]]}, "ranges"),
        ({"ranges": [[0, 10]] * 101}, "ranges"),  # over LECTERN_PROGRESS_MAX_RANGES
        ({"ranges": [[0, 400]]}, "ranges"),  # past the 300 s lesson
        ({"position_s": 320}, "position_s"),
        ({"session_id": "not-a-uuid"}, "session_id"),
        ({"event": "rewind"}, "event"),
        ({"extra": 1}, "extra"),
    ],
)
def test_impossible_values_are_422_never_5xx(
    api: RunningApi, world: dict[str, int], change: dict[str, Any], field: str
) -> None:
    resp = api.http.post(
        f"/api/lessons/{world['lesson']}/progress", json=body() | change, headers=api.auth(world["student"])
    )
    assert resp.status_code == 422, resp.text
    assert any(field in map(str, error["loc"]) for error in resp.json()["detail"]), resp.text


@pytest.mark.parametrize(
    "raw",
    [
        b'{"session_id": "6f1c1d0e-6a4f-4b55-9d59-2f2f7d1f0a11", "seq": 0, "position_s": NaN}',
        b'{"session_id": "6f1c1d0e-6a4f-4b55-9d59-2f2f7d1f0a11", "seq": 0, "position_s": Infinity}',
        b'{"session_id": "6f1c1d0e-6a4f-4b55-9d59-2f2f7d1f0a11", "seq": 0, "position_s": 1e400}',  # Infinity
        b'{"seq": ' + b"9" * 5000 + b"}",
        b"[1, 2]",
        b"not json",
        b"\xff\xfe",
        b"[" * 3000 + b"]" * 3000,
        b"",
    ],
)
def test_bodies_that_are_not_a_report_are_422(api: RunningApi, world: dict[str, int], raw: bytes) -> None:
    resp = api.http.post(
        f"/api/lessons/{world['lesson']}/progress",
        content=raw,
        headers=api.auth(world["student"]) | {"Content-Type": "text/plain"},
    )
    assert resp.status_code == 422, resp.text


def test_an_oversized_body_is_413(api: RunningApi, world: dict[str, int]) -> None:
    path = f"/api/lessons/{world['lesson']}/progress"
    big = json.dumps(body(ranges=[(i, i + 0.5) for i in range(0, 290)] * 3))
    assert len(big) > api.settings.progress_max_body_bytes
    for headers in (api.auth(world["student"]), {}):  # with or without credentials: never read past the limit
        resp = api.http.post(path, content=big, headers=headers | {"Content-Type": "text/plain"})
        _error(resp, 413, "too_large")


def test_the_rate_limit_answers_429_with_retry_after(db_url: str, start_api: ApiFactory) -> None:
    api = start_api(api_settings(db_url, progress_burst=3, progress_rate_per_min=6))
    with transaction(api.session_factory) as s:
        student = make_user(s)
        course = make_course(s)
        enroll(s, student, course)
        lesson = make_lesson(s, course, video_url="x.mp4", duration_s=60.0)
        ids = (student.id, lesson.id)
    path = f"/api/lessons/{ids[1]}/progress"
    answers = [api.http.post(path, json=body(n, 1.0, [(0, 1)]), headers=api.auth(ids[0])) for n in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    _error(answers[3], 429, "retryable")
    assert answers[3].headers["retry-after"] == "10"


def test_event_streams_take_a_ticket_for_their_lessons_only(api: RunningApi, world: dict[str, int]) -> None:
    issued = ticket_for(api, world["student"], world["lesson"])["ticket"]
    ok = api.http.get(f"/api/lessons/{world['lesson']}/events", params={"once": "1", "ticket": issued})
    assert ok.status_code == 200 and "event: status" in ok.text
    other = api.http.get(f"/api/lessons/{world['other']}/events", params={"once": "1", "ticket": issued})
    assert _error(other, 401, "unauthenticated")["reason"] == f"ticket is not for lesson {world['other']}"
    both = f"{world['lesson']},{world['other']}"
    assert _error(
        api.http.get("/api/lessons/events", params={"ids": both, "once": "1", "ticket": issued}), 401, "unauthenticated"
    )
    # A list ticket (events only) for both lessons opens the list stream.
    listed = api.http.post("/api/lessons/ticket", params={"ids": both}, headers=api.auth(world["student"])).json()
    assert listed["purposes"] == ["events"] and listed["lesson_ids"] == sorted([world["lesson"], world["other"]])
    stream = api.http.get("/api/lessons/events", params={"ids": both, "once": "1", "ticket": listed["ticket"]})
    assert stream.status_code == 200 and stream.text.count("event: status") == 2
    # The bearer token in the URL is no longer accepted there.
    old = api.http.get(
        f"/api/lessons/{world['lesson']}/events", params={"once": "1", "access_token": api.token(world["student"])}
    )
    assert _error(old, 401, "unauthenticated")
    # A list ticket cannot write progress, and a stranger gets no ticket for a list with a lesson not theirs.
    resp = api.http.post(
        f"/api/lessons/{world['lesson']}/progress", params={"ticket": listed["ticket"]}, content=json.dumps(body())
    )
    assert _error(resp, 401, "unauthenticated")["reason"] == "ticket does not allow progress"
    stranger = api.http.post("/api/lessons/ticket", params={"ids": both}, headers=api.auth(world["stranger"]))
    _error(stranger, 404, "not_found")


def test_views_record_one_row_per_session(api: RunningApi, world: dict[str, int]) -> None:
    path, auth = f"/api/lessons/{world['other']}/progress", api.auth(world["student"])
    for session in (str(uuid.uuid4()), str(uuid.uuid4())):
        for seq in range(3):
            b = body(seq, seq * 5.0, [(0, seq * 5.0)], session_id=session, duration_s=120.0)
            assert api.http.post(path, json=b, headers=auth).status_code == 200
    with api.session_factory() as s:
        views = list(s.query(LessonView))
    assert len(views) == 2 and {(v.provider, v.last_seq, v.seconds_watched) for v in views} == {("mux", 2, 10.0)}

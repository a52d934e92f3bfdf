"""POST /api/videos/mux/upload-url against the emulator: access rules, pending reuse, Mux settings."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.engine import transaction
from core.db.models import Course, Lesson
from core.mux import MuxService
from core.retry import RetryPolicy
from emulator.testing import EmulatorServer
from tests.api.conftest import ApiFactory, RunningApi, api_settings
from tests.factories import enroll, make_course, make_lesson, make_user

PATH = "/api/videos/mux/upload-url"


@pytest.fixture
def api(db_url: str, fresh_emu: EmulatorServer, start_api: ApiFactory) -> RunningApi:
    return start_api(api_settings(db_url, emu=fresh_emu, cors_origin="https://courses.example", upload_timeout_s=900))


@pytest.fixture
def world(api: RunningApi) -> dict[str, int]:
    with transaction(api.session_factory) as s:
        teacher, other, admin, student = (
            make_user(s, "teacher"),
            make_user(s, "teacher"),
            make_user(s, "admin"),
            make_user(s),
        )
        course = make_course(s, teacher=teacher)
        enroll(s, student, course)
        lesson = make_lesson(s, course, playback_policy="signed", title="Recursion")
        return {"teacher": teacher.id, "other": other.id, "admin": admin.id, "student": student.id, "lesson": lesson.id}


def test_only_the_owner_or_an_admin(api: RunningApi, world: dict[str, int]) -> None:
    # An enrolled student knows the lesson exists: 403. Another teacher may not even learn that: 404.
    for who, status in (("other", 404), ("student", 403)):
        resp = api.http.post(PATH, json={"lesson_id": world["lesson"]}, headers=api.auth(world[who]))
        assert resp.status_code == status, who


def test_errors(api: RunningApi, world: dict[str, int]) -> None:
    assert api.http.post(PATH, json={"lesson_id": world["lesson"]}).status_code == 401
    assert api.http.post(PATH, json={"lesson_id": 999_999}, headers=api.auth(world["teacher"])).status_code == 404
    assert api.http.post(PATH, json={"lesson": 1}, headers=api.auth(world["teacher"])).status_code == 422


def test_upload_carries_the_lessons_policy_and_settings_and_is_reused_while_pending(
    api: RunningApi, world: dict[str, int], fresh_emu: EmulatorServer
) -> None:
    resp = api.http.post(PATH, json={"lesson_id": world["lesson"]}, headers=api.auth(world["admin"]))
    assert resp.status_code == 200, resp.text
    ticket = resp.json()
    upload = fresh_emu.http.get(
        f"/video/v1/uploads/{ticket['upload_id']}", auth=(fresh_emu.token_id, fresh_emu.token_secret)
    ).json()["data"]
    assert upload["cors_origin"] == "https://courses.example"
    assert upload["timeout"] == 900
    settings = upload["new_asset_settings"]
    assert settings["passthrough"] == str(world["lesson"])
    assert settings["playback_policies"] == ["signed"]  # ONLY signed for a signed lesson
    assert settings["video_quality"] == "basic"
    assert settings["meta"] == {"title": "Recursion", "external_id": f"lesson-{world['lesson']}"}

    again = api.http.post(PATH, json={"lesson_id": world["lesson"]}, headers=api.auth(world["teacher"])).json()
    assert (again["upload_id"], again["url"], again["reused"]) == (ticket["upload_id"], ticket["url"], True)
    assert again["expires_at"] == ticket["expires_at"]

    # Once the pending upload is gone (cancelled in Mux), a new one is created.
    fresh_emu.http.put(
        f"/video/v1/uploads/{ticket['upload_id']}/cancel", auth=(fresh_emu.token_id, fresh_emu.token_secret)
    )
    third = api.http.post(PATH, json={"lesson_id": world["lesson"]}, headers=api.auth(world["teacher"])).json()
    assert third["upload_id"] != ticket["upload_id"] and third["reused"] is False
    with api.session_factory() as s:
        row = s.execute(select(Lesson).where(Lesson.id == world["lesson"])).scalar_one()
        assert (row.video_status, row.mux_upload_id) == ("waiting_upload", third["upload_id"])


def test_mux_outage_is_503_after_the_retries(db_url: str, fresh_emu: EmulatorServer, start_api: ApiFactory) -> None:
    settings = api_settings(db_url, emu=fresh_emu)
    mux = MuxService(settings, retry_policy=RetryPolicy(attempts=3, base_s=0.01))
    api = start_api(settings, mux_client=mux)
    with transaction(api.session_factory) as s:
        lesson = make_lesson(s)
        teacher_id = lesson_teacher(s, lesson)
    fresh_emu.set_faults({"routes": {"POST /video/v1/uploads": {"p503": 1.0}}})
    resp = api.http.post(PATH, json={"lesson_id": lesson.id}, headers=api.auth(teacher_id))
    assert resp.status_code == 503
    assert resp.json()["error"]["type"] == "MuxUnavailable"
    assert fresh_emu.stats()["requests"]["POST /video/v1/uploads"]["by_status"] == {"503": 3}


def lesson_teacher(session: Session, lesson: Lesson) -> int:
    return session.execute(select(Course.teacher_id).where(Course.id == lesson.course_id)).scalar_one()


@pytest.mark.parametrize("lesson_id", [2**31, 2**63, 10**30])
def test_body_lesson_ids_out_of_range_are_422(api: RunningApi, world: dict[str, int], lesson_id: int) -> None:
    resp = api.http.post(PATH, json={"lesson_id": lesson_id}, headers=api.auth(world["teacher"]))
    assert resp.status_code == 422, resp.text

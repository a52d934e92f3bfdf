"""Uploads from either name of the machine: LECTERN_CORS_ORIGIN lists several origins (the demo: localhost and
127.0.0.1), and each upload URL accepts the file from the origin the browser asks from (Mux takes one per upload).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from core.db.engine import transaction
from emulator.testing import EmulatorServer
from tests.api.conftest import ApiFactory, RunningApi, api_settings
from tests.factories import make_course, make_lesson, make_user

PATH = "/api/videos/mux/upload-url"
LOOPBACK = "http://127.0.0.1:8501"
LOCALHOST = "http://localhost:8501"


@pytest.fixture
def api(db_url: str, fresh_emu: EmulatorServer, start_api: ApiFactory) -> RunningApi:
    return start_api(api_settings(db_url, emu=fresh_emu, cors_origin=f"{LOOPBACK}, {LOCALHOST}/"))


@pytest.fixture
def owner_and_lesson(api: RunningApi) -> tuple[int, int]:
    with transaction(api.session_factory) as s:
        teacher = make_user(s, "teacher")
        lesson = make_lesson(s, make_course(s, teacher=teacher))
        return teacher.id, lesson.id


def ask(api: RunningApi, user: int, lesson: int, origin: str | None) -> dict[str, Any]:
    headers = api.auth(user) | ({"Origin": origin} if origin else {})
    resp = api.http.post(PATH, json={"lesson_id": lesson}, headers=headers)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def mux_upload(emu: EmulatorServer, upload_id: str) -> dict[str, Any]:
    auth = (emu.token_id, emu.token_secret)
    return dict(emu.http.get(f"/video/v1/uploads/{upload_id}", auth=auth).json()["data"])


def preflight_grants(url: str, origin: str) -> str | None:
    """What the upload URL's CORS preflight grants a page at `origin` (the browser's check before the PUT)."""
    resp = httpx.options(
        url,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-range, content-type",
        },
    )
    return resp.headers.get("access-control-allow-origin")


def test_each_origin_gets_an_upload_url_that_accepts_its_page(
    api: RunningApi, owner_and_lesson: tuple[int, int], fresh_emu: EmulatorServer
) -> None:
    teacher, lesson = owner_and_lesson
    from_localhost = ask(api, teacher, lesson, LOCALHOST)
    assert mux_upload(fresh_emu, from_localhost["upload_id"])["cors_origin"] == LOCALHOST
    assert preflight_grants(from_localhost["url"], LOCALHOST) == LOCALHOST
    assert preflight_grants(from_localhost["url"], LOOPBACK) is None

    # The same lesson asked from the other name: the pending URL would refuse that page, so it is replaced.
    from_loopback = ask(api, teacher, lesson, LOOPBACK)
    assert from_loopback["reused"] is False and from_loopback["upload_id"] != from_localhost["upload_id"]
    assert mux_upload(fresh_emu, from_loopback["upload_id"])["cors_origin"] == LOOPBACK
    assert preflight_grants(from_loopback["url"], LOOPBACK) == LOOPBACK
    assert mux_upload(fresh_emu, from_localhost["upload_id"])["status"] == "cancelled"

    # Asked again from the same origin, the pending URL is reused as before.
    assert ask(api, teacher, lesson, LOOPBACK)["upload_id"] == from_loopback["upload_id"]


def test_an_unlisted_or_missing_origin_gets_the_first_listed(
    api: RunningApi, owner_and_lesson: tuple[int, int], fresh_emu: EmulatorServer
) -> None:
    teacher, lesson = owner_and_lesson
    ticket = ask(api, teacher, lesson, "https://elsewhere.example")
    assert mux_upload(fresh_emu, ticket["upload_id"])["cors_origin"] == LOOPBACK
    assert preflight_grants(ticket["url"], "https://elsewhere.example") is None
    # A server-side caller (no Origin) wants the first origin too: the pending URL is its.
    assert ask(api, teacher, lesson, None) == ticket | {"reused": True}

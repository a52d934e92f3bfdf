"""Every API route × every kind of caller, from the app's own route table, over real HTTP.

The table below is the API's authorization policy written down once. `test_table_covers_every_route`
fails when a route is added (or removed) without its row, so a new route cannot ship unreviewed. Each
cell is a class of answer, not an exact status:

- ALLOWED: the caller gets the route's normal answer (2xx); a documented 4xx about the input is also
  allowed, never 401/403/404 and never 5xx;
- UNAUTHENTICATED: 401;
- DENIED: 403 or 404 (either, so that hiding which lesson ids exist behind a 404 stays a valid choice).

Callers: no token, a student enrolled in the lesson's course, a student who is not, the course's
teacher, another teacher, an admin, an analyst; plus two that must never pass: a token signed with
another secret and a valid token for a user who no longer exists. The webhook receiver ignores bearer
tokens: it is public, and only its Mux signature decides (checked with and without one, for each caller).

Runs against PostgreSQL and SQLite, the Mux emulator (upload URLs call Mux) and a real warehouse file.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from api.main import create_app
from core.auth import mint_token
from core.db.engine import transaction
from core.db.models import User, WebhookEvent
from core.webhooks import sign
from emulator.testing import EmulatorServer
from tests.api.conftest import JWT_SECRET, ApiFactory, RunningApi, api_settings
from tests.core.mux_events import asset_event
from tests.costs.demo import build_demo, write_warehouse
from tests.factories import enroll, make_course, make_lesson, make_user

ALLOWED, UNAUTHENTICATED, DENIED = "allowed", "401", "403/404"

CALLERS = (
    "no_token",
    "enrolled_student",
    "unenrolled_student",
    "owning_teacher",
    "other_teacher",
    "admin",
    "analyst",
    "forged_token",
    "deleted_user",
)
# Columns that carry a bearer token the API must refuse whatever the route (beyond the public ones).
REFUSED = {"no_token": UNAUTHENTICATED, "forged_token": UNAUTHENTICATED, "deleted_user": UNAUTHENTICATED}


def row(*, enrolled: str, unenrolled: str, owner: str, other_teacher: str, admin: str, analyst: str) -> dict[str, str]:
    return REFUSED | {
        "enrolled_student": enrolled,
        "unenrolled_student": unenrolled,
        "owning_teacher": owner,
        "other_teacher": other_teacher,
        "admin": admin,
        "analyst": analyst,
    }


PUBLIC = dict.fromkeys(CALLERS, ALLOWED)
# Anyone may call it; the Mux signature is the authentication (see test_webhook_is_public_but_signed).
SIGNED = "signed"
LESSON_VIEW = row(
    enrolled=ALLOWED, unenrolled=DENIED, owner=ALLOWED, other_teacher=DENIED, admin=ALLOWED, analyst=DENIED
)
LESSON_MANAGE = row(
    enrolled=DENIED, unenrolled=DENIED, owner=ALLOWED, other_teacher=DENIED, admin=ALLOWED, analyst=DENIED
)
# Only a student enrolled in the course has progress to record (the teacher's or an admin's preview: 403).
PROGRESS = row(enrolled=ALLOWED, unenrolled=DENIED, owner=DENIED, other_teacher=DENIED, admin=DENIED, analyst=DENIED)
ADMIN_ONLY = row(enrolled=DENIED, unenrolled=DENIED, owner=DENIED, other_teacher=DENIED, admin=ALLOWED, analyst=DENIED)

# (method, path) -> expected class per caller. The matrix runs the API with its docs turned on
# (LECTERN_API_DOCS=true, as the demo does) so that their routes exist and are checked; with the default
# they do not exist at all (test_docs_are_off_by_default). /metrics is served to the networks in
# LECTERN_METRICS_ALLOW, which the suite's settings set to loopback, whatever the bearer token: its token and
# address rules are tested in tests/api/test_health.py.
MATRIX: dict[tuple[str, str], dict[str, str] | str] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/assets/{name}"): PUBLIC,
    ("POST", "/api/videos/mux/webhook"): SIGNED,
    ("POST", "/api/videos/mux/upload-url"): LESSON_MANAGE,
    ("GET", "/api/videos/{lesson_id}/playback"): LESSON_VIEW,
    ("GET", "/api/lessons/{lesson_id}/status"): LESSON_VIEW,
    ("GET", "/api/lessons/{lesson_id}/events"): LESSON_VIEW,
    ("GET", "/api/lessons/events"): LESSON_VIEW,
    ("POST", "/api/lessons/{lesson_id}/ticket"): LESSON_VIEW,
    ("POST", "/api/lessons/ticket"): LESSON_VIEW,
    ("POST", "/api/lessons/{lesson_id}/progress"): PROGRESS,
    ("GET", "/api/lessons/{lesson_id}/progress"): LESSON_VIEW,
    ("GET", "/api/costs/report"): ADMIN_ONLY,
    ("GET", "/api/admin/webhooks"): ADMIN_ONLY,
    ("GET", "/api/admin/webhooks/{event_id}"): ADMIN_ONLY,
    ("POST", "/api/admin/webhooks/{event_id}/replay"): ADMIN_ONLY,
    ("POST", "/api/admin/webhooks/replay"): ADMIN_ONLY,
    ("POST", "/api/admin/lessons/{lesson_id}/repair"): ADMIN_ONLY,
}


@dataclass(frozen=True)
class World:
    users: dict[str, int]
    lesson_id: int
    upload_lesson_id: int
    event_id: str = "evt-matrix"


@dataclass(frozen=True)
class Call:
    params: dict[str, Any] | None = None
    json: Any = None


# How to call each authenticated route so that an allowed caller gets a real answer.
CALLS: dict[tuple[str, str], Callable[[World], Call]] = {
    ("POST", "/api/videos/mux/upload-url"): lambda w: Call(json={"lesson_id": w.upload_lesson_id}),
    ("GET", "/api/lessons/{lesson_id}/events"): lambda w: Call(params={"once": "1"}),
    ("GET", "/api/lessons/events"): lambda w: Call(params={"ids": str(w.lesson_id), "once": "1"}),
    ("POST", "/api/lessons/ticket"): lambda w: Call(params={"ids": str(w.lesson_id)}),
    ("POST", "/api/lessons/{lesson_id}/progress"): lambda w: Call(
        json={"session_id": "0b5e3f7e-3d5a-4a53-9a4c-6f0f3f0f0f0f", "seq": 0, "position_s": 5, "ranges": [[0, 5]]}
    ),
    ("GET", "/api/costs/report"): lambda w: Call(params={"group_by": "course"}),
    ("POST", "/api/admin/webhooks/replay"): lambda w: Call(json={"outcome": ["failed"]}),
}


def app_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, included routers flattened (FastAPI 0.165 nests them)."""
    routes: set[tuple[str, str]] = set()
    for context in iter_route_contexts(app.routes):
        # A mount or websocket has no methods: it would need its own kind of row, so fail loudly.
        assert context.path and context.methods, f"a route the matrix cannot describe: {context.route!r}"
        routes.update((method, context.path) for method in context.methods if method != "HEAD")
    return routes


def classify(response: httpx.Response) -> str:
    code = response.status_code
    if code == 401:
        return UNAUTHENTICATED
    if code in (403, 404):
        return DENIED
    assert code < 500, f"{code}: {response.text[:300]}"
    return ALLOWED


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_warehouse(tmp_path_factory.mktemp("wh") / "warehouse.duckdb", build_demo(datetime.now(UTC).date()))


@pytest.fixture
def api(db_url: str, fresh_emu: EmulatorServer, warehouse: Path, start_api: ApiFactory) -> RunningApi:
    return start_api(api_settings(db_url, emu=fresh_emu, warehouse_path=warehouse, api_docs=True))


@pytest.fixture
def world(api: RunningApi) -> Iterator[World]:
    with transaction(api.session_factory) as s:
        owner, other_teacher = make_user(s, "teacher"), make_user(s, "teacher")
        admin, analyst = make_user(s, "admin"), make_user(s, "analyst")
        enrolled, unenrolled = make_user(s), make_user(s)
        gone = make_user(s)
        course = make_course(s, teacher=owner)
        enroll(s, enrolled, course)
        enroll(s, gone, course)
        lesson = make_lesson(s, course, mux_playback_id="PUBPID", mux_asset_id="A1", video_provider="mux")
        lesson.video_status = "ready"
        upload_lesson = make_lesson(s, course)
        users = {
            "enrolled_student": enrolled.id,
            "unenrolled_student": unenrolled.id,
            "owning_teacher": owner.id,
            "other_teacher": other_teacher.id,
            "admin": admin.id,
            "analyst": analyst.id,
            "deleted_user": gone.id,
        }
        ids = World(users, lesson.id, upload_lesson.id)
        now = datetime.now(UTC)
        payload = asset_event("video.asset.deleted", "A-OTHER", lesson_id=None, event_id=ids.event_id)
        s.add(WebhookEvent(id=ids.event_id, type=payload["type"], occurred_at=now, received_at=now, payload=payload))
    with transaction(api.session_factory) as s:
        s.delete(s.get(User, users["deleted_user"]))
    yield ids


def headers_for(caller: str, world: World) -> dict[str, str]:
    if caller == "no_token":
        return {}
    if caller == "forged_token":
        token = mint_token("not-the-platform-secret-0123456789abcdef", world.users["admin"], ttl_s=600)
    else:
        token = mint_token(JWT_SECRET, world.users[caller], ttl_s=600)
    return {"Authorization": f"Bearer {token}"}


def test_docs_are_off_by_default(db_url: str) -> None:
    routes = app_routes(create_app(api_settings(db_url)))
    assert {path for _, path in routes}.isdisjoint({"/docs", "/docs/assets/{name}", "/openapi.json"})


def test_table_covers_every_route(db_url: str) -> None:
    app = create_app(api_settings(db_url, api_docs=True))
    routes = app_routes(app)
    assert routes == set(MATRIX), (
        f"routes without a row in MATRIX: {sorted(routes - set(MATRIX))}; "
        f"rows for routes that no longer exist: {sorted(set(MATRIX) - routes)}"
    )
    for key, cells in MATRIX.items():
        assert cells == SIGNED or set(cells) == set(CALLERS), key


def test_every_route_answers_every_caller_as_the_table_says(api: RunningApi, world: World) -> None:
    mismatches = []
    checked = 0
    for (method, path), cells in sorted(MATRIX.items()):
        if cells == SIGNED:
            continue
        assert isinstance(cells, dict)
        call = CALLS.get((method, path), lambda w: Call())(world)
        url = path.format(lesson_id=world.lesson_id, event_id=world.event_id, name="swagger-ui.css")
        for caller in CALLERS:
            response = api.http.request(
                method, url, params=call.params, json=call.json, headers=headers_for(caller, world)
            )
            got = classify(response)
            checked += 1
            if got != cells[caller]:
                mismatches.append(f"{method} {path} as {caller}: expected {cells[caller]}, got {response.status_code}")
            if got == ALLOWED and path.startswith("/api/"):
                assert 200 <= response.status_code < 300, (method, path, caller, response.text[:300])
    assert not mismatches, "\n".join(mismatches)
    assert checked == len(CALLERS) * (len(MATRIX) - 1)


def test_webhook_is_public_but_signed(api: RunningApi, world: World) -> None:
    """Bearer tokens neither help nor hurt: a signed event is applied for anyone, an unsigned one for no one."""
    for n, caller in enumerate(CALLERS):
        body = asset_event("video.asset.created", f"MATRIX-{n}", lesson_id=None)
        raw = json.dumps(body).encode()
        unsigned = api.http.post(
            "/api/videos/mux/webhook",
            content=raw,
            headers=headers_for(caller, world) | {"Content-Type": "application/json"},
        )
        assert classify(unsigned) == UNAUTHENTICATED, (caller, unsigned.text)
        signed = api.http.post(
            "/api/videos/mux/webhook",
            content=raw,
            headers=headers_for(caller, world)
            | {
                "Content-Type": "application/json",
                "Mux-Signature": sign(raw, api.settings.mux_webhook_secret.get_secret_value(), int(time.time())),
            },
        )
        assert signed.status_code == 200, (caller, signed.text)
        assert signed.json()["event_id"] == body["id"]

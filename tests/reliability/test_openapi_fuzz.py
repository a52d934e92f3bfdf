"""schemathesis against the API's own OpenAPI, over real HTTP, as each kind of caller.

Every operation the app documents is generated positive (valid per the schema) and negative (invalid)
inputs for, sent with a student's, a teacher's and an admin's token and with none, and every answer is
checked: never a 5xx, a documented status code, a documented content type, and a body and headers that
match the documented schema. Path ids are drawn both at random and from the rows the world has, so the
routes answer 200 as well as 404. Quick: a few examples per operation, caller and mode; `make soak`: many.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from core.auth import mint_token
from core.db.engine import transaction
from core.db.models import WebhookEvent
from core.webhooks import HANDLED_TYPES, sign
from emulator.testing import EmulatorServer
from tests.api.conftest import JWT_SECRET, WEBHOOK_SECRET, RunningApi, api_settings
from tests.conftest import S3Server
from tests.core.mux_events import asset_event
from tests.costs.demo import build_demo, write_warehouse
from tests.factories import enroll, make_course, make_lesson, make_user
from tests.reliability.conftest import StartApi

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
CALLERS = ("no_token", "student", "teacher", "admin")
QUICK_EXAMPLES = 4
SOAK_EXAMPLES = int(os.environ.get("LECTERN_FUZZ_EXAMPLES", "150"))


@dataclass(frozen=True)
class World:
    users: dict[str, int]
    lesson_ids: tuple[int, ...]
    event_id: str

    def headers(self, caller: str) -> dict[str, str]:
        if caller == "no_token":
            return {}
        return {"Authorization": f"Bearer {mint_token(JWT_SECRET, self.users[caller], ttl_s=3600)}"}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_warehouse(tmp_path_factory.mktemp("wh") / "warehouse.duckdb", build_demo(datetime.now(UTC).date()))


@pytest.fixture
def api(pg_url: str, fresh_emu: EmulatorServer, s3: S3Server, warehouse: Path, start_api: StartApi) -> RunningApi:
    settings = api_settings(
        pg_url,
        s3=s3,
        emu=fresh_emu,
        warehouse_path=warehouse,
        api_docs=True,
        # Event streams end fast: a generated `timeout` or none must not hold a worker for minutes.
        lesson_events_max_s=0.3,
    )
    return start_api(settings)


@pytest.fixture
def world(api: RunningApi) -> World:
    with transaction(api.session_factory) as s:
        teacher, admin, student = make_user(s, "teacher"), make_user(s, "admin"), make_user(s)
        course = make_course(s, teacher=teacher)
        enroll(s, student, course)
        ready = make_lesson(s, course, mux_playback_id="PUBPID", mux_asset_id="A1", video_provider="mux")
        ready.video_status = "ready"
        waiting = make_lesson(s, course)
        legacy = make_lesson(s, course, video_url="courses/1/lesson.mp4")
        now = datetime.now(UTC)
        payload = asset_event("video.asset.deleted", "A-OTHER", lesson_id=None, event_id="evt-fuzz")
        s.add(WebhookEvent(id="evt-fuzz", type=payload["type"], occurred_at=now, received_at=now, payload=payload))
        users = {"student": student.id, "teacher": teacher.id, "admin": admin.id}
        lesson_ids = (ready.id, waiting.id, legacy.id)
    return World(users, lesson_ids, "evt-fuzz")


def known_values(world: World) -> dict[str, st.SearchStrategy[Any]]:
    """Path parameters that name a row of the world (a route whose parameters it does not know gets random ones)."""
    return {"lesson_id": st.sampled_from(world.lesson_ids), "event_id": st.just(world.event_id)}


def run_cases(
    cases: st.SearchStrategy[schemathesis.Case], url: str, headers: dict[str, str], examples: int, sent: list[int]
) -> None:
    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=[hypothesis.Phase.generate, hypothesis.Phase.shrink],
    )
    @given(case=cases)
    def check(case: schemathesis.Case) -> None:
        response = case.call(base_url=url, headers=headers, timeout=30)
        sent[0] += 1
        case.validate_response(response, checks=CHECKS, headers=headers)

    check()


def fuzz(api: RunningApi, world: World, examples: int) -> tuple[list[str], int]:
    """Run every operation x caller x mode; the failures found (one line each) and the requests sent."""
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    failures: list[str] = []
    sent = [0]
    for result in schema.get_all_operations():
        operation = result.ok()
        path_names = {p.name for p in operation.path_parameters}
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            strategies = [operation.as_strategy(generation_mode=mode)]
            fixed = {name: value for name, value in known_values(world).items() if name in path_names}
            if fixed and mode == schemathesis.GenerationMode.POSITIVE:
                strategies += [
                    st.fixed_dictionaries(fixed).flatmap(
                        lambda values, op=operation: op.as_strategy(path_parameters=values)
                    )
                ]
            for caller in CALLERS:
                try:
                    run_cases(st.one_of(*strategies), api.url, world.headers(caller), examples, sent)
                except hypothesis.errors.Unsatisfiable:
                    break  # nothing to negate: the operation takes no parameters and no body
                except (Exception, BaseExceptionGroup) as exc:  # schemathesis's FailureGroup is an exception group
                    lines = str(exc).strip().splitlines()
                    failures.append(f"{operation.label} as {caller} ({mode.value}): {' | '.join(lines[:14])}")
    return failures, sent[0]


# Signed Mux events: the receiver's answer to anything Mux could sign (a schema cannot describe a signed body).
_TEXT = st.text(max_size=80)
_IDS = st.one_of(st.sampled_from(["A1", "A-OTHER", "U1", "PUBPID"]), _TEXT, st.integers(), st.none())
_TIMES = st.one_of(
    st.datetimes(timezones=st.just(UTC)).map(lambda t: t.isoformat()),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False),
    _TEXT,
    st.none(),
)
_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), _TEXT),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)
EVENT_DATA = st.fixed_dictionaries(
    {},
    optional={
        "id": _IDS,
        "upload_id": _IDS,
        "asset_id": _IDS,
        "status": st.sampled_from(["preparing", "ready", "errored", "waiting", "asset_created"]) | _TEXT,
        "passthrough": st.one_of(st.integers(min_value=-5, max_value=10).map(str), _TEXT, st.none()),
        "playback_ids": st.one_of(
            st.lists(st.fixed_dictionaries({"id": _IDS, "policy": st.sampled_from(["public", "signed"]) | _TEXT})),
            _JSON,
        ),
        "duration": st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(), _TEXT, st.none()),
        "errors": _JSON,
        "error": _JSON,
        "new_asset_settings": st.one_of(st.fixed_dictionaries({"passthrough": _TEXT}), _JSON),
        "meta": _JSON,
    },
)
EVENTS = st.fixed_dictionaries(
    {
        "type": st.one_of(st.sampled_from([*sorted(HANDLED_TYPES), "video.asset.updated"]), _TEXT),
        "id": st.one_of(st.uuids().map(str), _TEXT),
        "data": st.one_of(EVENT_DATA, _JSON),
    },
    optional={"created_at": _TIMES, "object": st.one_of(st.fixed_dictionaries({"type": _TEXT, "id": _IDS}), _JSON)},
)


def fuzz_signed_webhooks(api: RunningApi, examples: int) -> list[str]:
    """Signed events of every shape: 200 or a documented error, never a 5xx, always the documented body."""
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    operation = schema["/api/videos/mux/webhook"]["POST"]
    failures: list[str] = []

    @hypothesis.settings(
        max_examples=examples * 10,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(), doc=EVENTS)
    def check(case: schemathesis.Case, doc: dict[str, Any]) -> None:
        raw = json.dumps(doc).encode()
        headers = {"Mux-Signature": sign(raw, WEBHOOK_SECRET, int(time.time())), "Content-Type": "application/json"}
        response = api.http.post(case.formatted_path, content=raw, headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)

    try:
        check()
    except (Exception, BaseExceptionGroup) as exc:
        failures.append(f"signed webhook: {' | '.join(str(exc).strip().splitlines()[:20])}")
    return failures


def test_openapi_fuzz_quick(api: RunningApi, world: World) -> None:
    began = time.monotonic()
    failures, sent = fuzz(api, world, QUICK_EXAMPLES)
    failures += fuzz_signed_webhooks(api, QUICK_EXAMPLES)
    assert not failures, "\n\n".join(failures)
    assert sent > QUICK_EXAMPLES * 40, sent  # every operation answered, not only the first few
    print(f"openapi fuzz: {sent} requests in {time.monotonic() - began:.1f} s")


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_openapi_fuzz_soak(api: RunningApi, world: World) -> None:
    failures, sent = fuzz(api, world, SOAK_EXAMPLES)
    failures += fuzz_signed_webhooks(api, SOAK_EXAMPLES)
    assert not failures, "\n\n".join(failures)
    assert sent > SOAK_EXAMPLES * 40, sent


def test_a_body_that_is_not_utf8_is_a_documented_400_in_the_api_error_shape(api: RunningApi, world: World) -> None:
    """Found by the fuzz: FastAPI's own 400 (`{"detail": ...}`), undocumented on the route."""
    for path in ("/api/videos/mux/upload-url", "/api/admin/webhooks/replay"):
        headers = world.headers("admin") | {"Content-Type": "application/json"}
        response = api.http.post(path, content=b'{"lesson_id": "\xff"}', headers=headers)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["kind"] == "invalid"
        assert "400" in api.http.get("/openapi.json").json()["paths"][path]["post"]["responses"]
    # Any operation may meet the body limit (middleware) and the head limit (server) before its route runs.
    for operations in api.http.get("/openapi.json").json()["paths"].values():
        for operation in operations.values():
            assert {"413", "431"} <= set(operation["responses"])

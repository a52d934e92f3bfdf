"""The webhook log, replay and repair over the real API (uvicorn), the Mux emulator, SQLite and PostgreSQL.

Also what the receiver records for them: refused and duplicate deliveries counted per hour and reason, and
every direct upload in `uploads` with its outcome.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from core.db.engine import transaction
from core.db.models import Course, Lesson, OperatorAction, Upload, User, WebhookEvent
from core.mux.pagination import CursorPaginator, ListPage, paginate
from core.mux.uploads import put_in_chunks
from core.webhook_log import rejection_counts, rejection_totals
from core.webhooks import sign
from emulator.testing import EmulatorServer
from lectern.cli import app as cli_app
from tests.api.conftest import WEBHOOK_SECRET, ApiFactory, RunningApi, api_settings
from tests.core.mux_events import T0, asset_event, body, upload_event
from tests.factories import make_course, make_lesson, make_user
from tests.waiting import wait_until

PATH = "/api/videos/mux/webhook"
PUBLIC_IDS = [{"id": "PUB1", "policy": "public"}]


def post(api: RunningApi, raw: bytes, *, signature: str | None = None, t: int | None = None) -> httpx.Response:
    header = signature if signature is not None else sign(raw, WEBHOOK_SECRET, t or int(time.time()))
    return api.http.post(PATH, content=raw, headers={"Mux-Signature": header, "Content-Type": "application/json"})


def people(api: RunningApi) -> dict[str, int]:
    with transaction(api.session_factory) as s:
        admin, teacher, student = make_user(s, "admin"), make_user(s, "teacher"), make_user(s)
        course = make_course(s, teacher=teacher)
        return {"admin": admin.id, "teacher": teacher.id, "student": student.id, "course": course.id}


def lesson_row(api: RunningApi, lesson_id: int) -> Lesson:
    with api.session_factory() as s:
        row = s.get(Lesson, lesson_id)
        assert row is not None
        return row


def outcome_of(api: RunningApi, event_id: str) -> tuple[str, str | None]:
    with api.session_factory() as s:
        row = s.execute(select(WebhookEvent.outcome, WebhookEvent.error).where(WebhookEvent.id == event_id)).one()
        return row.outcome, row.error


def actions(api: RunningApi) -> list[tuple[str, str, str, str, dict[str, Any] | None]]:
    with api.session_factory() as s:
        rows = s.execute(select(OperatorAction).order_by(OperatorAction.id)).scalars().all()
        return [(r.action, r.actor, r.target, r.outcome, r.detail) for r in rows]


def admin_email(api: RunningApi, user_id: int) -> str:
    with api.session_factory() as s:
        user = s.get(User, user_id)
        assert user is not None
        return user.email


def replay(api: RunningApi, event_id: str, user_id: int) -> httpx.Response:
    return api.http.post(f"/api/admin/webhooks/{event_id}/replay", headers=api.auth(user_id))


@pytest.fixture
def api(db_url: str, start_api: ApiFactory) -> RunningApi:
    return start_api(api_settings(db_url, webhook_max_body_bytes=4096))


def test_replaying_an_applied_event_changes_nothing_and_a_failed_one_applies_once_fixed(api: RunningApi) -> None:
    ids = people(api)
    with transaction(api.session_factory) as s:
        waiting = make_lesson(s, mux_upload_id="U1", video_status="waiting_upload", video_status_at=T0 - timedelta(1))
        stuck = make_lesson(s, mux_asset_id="A7", video_status="processing", video_status_at=T0 - timedelta(1))
        holder = make_lesson(s, mux_upload_id="U9", video_status="waiting_upload")  # still claims upload U9
        lesson_ids = (waiting.id, stuck.id, holder.id)
    ready = asset_event(
        "video.asset.ready", "A1", lesson_id=lesson_ids[0], upload_id="U1", playback_ids=PUBLIC_IDS, event_id="e-ok"
    )
    assert post(api, body(ready)).json()["outcome"] == "applied"
    with transaction(api.session_factory) as s:  # someone changes the lesson after the event applied
        s.execute(update(Lesson).where(Lesson.id == lesson_ids[0]).values(video_error="marker"))

    resp = replay(api, "e-ok", ids["admin"])
    assert resp.status_code == 200, resp.text
    assert resp.json() == {
        "event_id": "e-ok",
        "type": "video.asset.ready",
        "before": "applied",
        "after": "applied",
        "lesson_id": None,
        "lesson_changed": False,
        "reason": "already applied",
    }
    assert lesson_row(api, lesson_ids[0]).video_error == "marker"
    assert outcome_of(api, "e-ok") == ("applied", None)

    # asset.created names upload U9, which another lesson still holds: the unique upload id refuses it (500).
    # Uvicorn closes the connection after an unhandled error's 500: the pooled connection must not be reused.
    created = asset_event("video.asset.created", "A7", lesson_id=lesson_ids[1], upload_id="U9", event_id="e-bad")
    raw = body(created)
    refused = api.http.post(
        PATH,
        content=raw,
        headers={"Mux-Signature": sign(raw, WEBHOOK_SECRET, int(time.time())), "Connection": "close"},
    )
    assert refused.status_code == 500
    assert outcome_of(api, "e-bad")[0] == "failed"
    again = replay(api, "e-bad", ids["admin"]).json()  # cause not fixed: fails again, answered, nothing applied
    assert (again["before"], again["after"], again["lesson_changed"]) == ("failed", "failed", False)
    assert lesson_row(api, lesson_ids[1]).mux_upload_id is None
    with transaction(api.session_factory) as s:  # the cause is fixed: the other lesson moved to a new upload
        s.execute(update(Lesson).where(Lesson.id == lesson_ids[2]).values(mux_upload_id="U10"))
    fixed = replay(api, "e-bad", ids["admin"]).json()
    assert (fixed["before"], fixed["after"], fixed["lesson_changed"]) == ("failed", "applied", True)
    assert lesson_row(api, lesson_ids[1]).mux_upload_id == "U9"
    assert outcome_of(api, "e-bad") == ("applied", None)
    assert replay(api, "e-bad", ids["admin"]).json()["after"] == "applied"  # and now it is final

    audit = actions(api)
    assert [(a, target, outcome) for a, _, target, outcome, _ in audit] == [
        ("webhook.replay", "webhook:e-ok", "applied"),
        ("webhook.replay", "webhook:e-bad", "failed"),
        ("webhook.replay", "webhook:e-bad", "applied"),
        ("webhook.replay", "webhook:e-bad", "applied"),
    ]
    assert {actor for _, actor, *_ in audit} == {admin_email(api, ids["admin"])}
    assert audit[2][4] is not None and (audit[2][4]["before"], audit[2][4]["after"]) == ("failed", "applied")
    assert replay(api, "no-such-event", ids["admin"]).status_code == 404


def test_an_unmatched_event_applies_once_its_lesson_exists_and_a_stale_one_stays_stale(api: RunningApi) -> None:
    ids = people(api)
    ready = asset_event("video.asset.ready", "AX", lesson_id=None, playback_ids=PUBLIC_IDS, duration=4.0, seconds=5)
    early = asset_event("video.asset.created", "AX", lesson_id=None, seconds=1)
    for doc in (ready, early):
        assert post(api, body(doc)).json()["outcome"] == "unmatched"
    with transaction(api.session_factory) as s:  # the lesson that owns asset AX appears (say, restored)
        lesson_id = make_lesson(s, mux_asset_id="AX", video_status="processing", video_status_at=T0).id

    resp = api.http.post(
        "/api/admin/webhooks/replay", json={"outcome": ["unmatched"], "asset_id": "AX"}, headers=api.auth(ids["admin"])
    )
    assert resp.status_code == 200, resp.text
    batch = resp.json()
    # Oldest first: asset.created applies, then ready (newer) applies over it.
    assert [(r["event_id"], r["after"]) for r in batch["results"]] == [
        (early["id"], "applied"),
        (ready["id"], "applied"),
    ]
    row = lesson_row(api, lesson_id)
    assert (row.video_status, row.mux_playback_id, row.video_duration_s) == ("ready", "PUB1", 4.0)

    stale = asset_event("video.asset.created", "AX", lesson_id=lesson_id, seconds=2)
    assert post(api, body(stale)).json()["outcome"] == "stale"
    again = replay(api, stale["id"], ids["admin"]).json()
    assert (again["before"], again["after"], again["lesson_changed"]) == ("stale", "stale", False)
    assert lesson_row(api, lesson_id).video_status == "ready"
    empty = api.http.post("/api/admin/webhooks/replay", json={}, headers=api.auth(ids["admin"]))
    assert empty.status_code == 400 and "at least one filter" in empty.json()["error"]["message"]


def test_a_non_admin_can_do_none_of_it_and_nothing_changes(api: RunningApi) -> None:
    ids = people(api)
    with transaction(api.session_factory) as s:
        lesson_id = make_lesson(s, mux_asset_id="AX", video_status="processing", video_status_at=T0).id
    doc = asset_event("video.asset.ready", "AX", lesson_id=None, playback_ids=PUBLIC_IDS, event_id="e-late", seconds=9)
    with transaction(api.session_factory) as s:  # an unmatched event that would apply on replay
        s.add(
            WebhookEvent(
                id="e-late",
                type=doc["type"],
                object_type="asset",
                object_id="AX",
                occurred_at=T0,
                received_at=T0,
                outcome="unmatched",
                payload=doc,
            )
        )
    calls = [
        ("POST", "/api/admin/webhooks/e-late/replay", None),
        ("POST", "/api/admin/webhooks/replay", {"outcome": ["unmatched"]}),
        ("POST", f"/api/admin/lessons/{lesson_id}/repair", None),
        ("GET", "/api/admin/webhooks", None),
        ("GET", "/api/admin/webhooks/e-late", None),
    ]
    for user in ("teacher", "student"):
        for method, path, payload in calls:
            resp = api.http.request(method, path, json=payload, headers=api.auth(ids[user]))
            assert resp.status_code == 403, (user, path, resp.text)
            assert resp.json()["error"]["kind"] == "forbidden"
    for method, path, payload in calls:
        assert api.http.request(method, path, json=payload).status_code == 401
    assert outcome_of(api, "e-late") == ("unmatched", None)
    assert lesson_row(api, lesson_id).video_status == "processing"
    assert actions(api) == []


def test_duplicates_and_refused_deliveries_are_counted_per_hour_and_reason(api: RunningApi) -> None:
    raw = body(asset_event("video.asset.ready", "AZ", lesson_id=None, playback_ids=PUBLIC_IDS))
    assert post(api, raw).json()["outcome"] == "unmatched"
    assert post(api, raw).json()["outcome"] == "duplicate"
    assert post(api, raw).json()["outcome"] == "duplicate"
    for n in range(20):  # a forged flood: distinct bodies and signatures, one counter
        forged = post(
            api, body({"id": f"forged-{n}", "type": "video.asset.ready"}), signature=f"t={int(time.time())},v1={n:064x}"
        )
        assert forged.status_code == 401
    assert post(api, raw, signature="").status_code == 401
    assert post(api, raw, t=int(time.time()) - 3600).status_code == 401
    assert post(api, b"{not json").status_code == 400
    assert post(api, b'{"pad": "' + b"x" * 5000 + b'"}').status_code == 413
    now = datetime.now(UTC)
    with api.session_factory() as s:
        counts = rejection_counts(s, since=now - timedelta(hours=2), until=now + timedelta(hours=1))
    assert rejection_totals(counts) == {
        "duplicate": 2,
        "signature_mismatch": 20,
        "signature_missing": 1,
        "timestamp_too_old": 1,
        "invalid_payload": 1,
        "too_large": 1,
    }
    assert len(counts) <= 2 * 6  # one row per hour and reason, whatever was sent
    assert {c.hour.minute for c in counts} == {0}
    with api.session_factory() as s:
        assert len(s.execute(select(WebhookEvent.id)).all()) == 1  # only the real event is stored


def test_the_log_is_searchable_page_by_page_and_shows_payloads_redacted(api: RunningApi) -> None:
    ids = people(api)
    with transaction(api.session_factory) as s:
        lesson_id = make_lesson(s, mux_upload_id="UP1", video_status="waiting_upload", video_status_at=T0).id
    created = upload_event("video.upload.asset_created", "UP1", lesson_id=lesson_id, asset_id="AS1", seconds=1)
    created["data"]["url"] = "https://storage.example/upload/UP1?Expires=1&Signature=abc&GoogleAccessId=x"
    created["attempts"] = [{"response_headers": {"set-cookie": "session=s3cr3t"}, "response_status_code": 500}]
    docs = [
        created,
        asset_event("video.asset.created", "AS1", lesson_id=lesson_id, upload_id="UP1", seconds=2),
        asset_event(
            "video.asset.ready", "AS1", lesson_id=lesson_id, upload_id="UP1", seconds=3, playback_ids=PUBLIC_IDS
        ),
        asset_event("video.asset.ready", "OTHER", lesson_id=None, seconds=4),
    ]
    for doc in docs:
        assert post(api, body(doc)).status_code == 200
    admin = api.auth(ids["admin"])

    def fetch(params: dict[str, Any]) -> ListPage:
        resp = api.http.get("/api/admin/webhooks", params={"limit": 2, **params, **query}, headers=admin)
        assert resp.status_code == 200, resp.text
        return ListPage.from_json(resp.json())

    query: dict[str, Any] = {"asset_id": "AS1"}
    rows = [r for page in paginate(fetch, CursorPaginator(), operation="webhook log") for r in page]
    assert [r["id"] for r in rows] == [docs[2]["id"], docs[1]["id"], docs[0]["id"]]  # newest first, 2 pages
    assert {(r["asset_id"], r["upload_id"], r["lesson_id"], r["outcome"]) for r in rows} == {
        ("AS1", "UP1", lesson_id, "applied")
    }
    query = {"upload_id": "UP1", "type": "video.asset.ready"}
    assert [r["id"] for page in paginate(fetch, CursorPaginator(), operation="log") for r in page] == [docs[2]["id"]]
    query = {"outcome": "unmatched", "since": (datetime.now(UTC) - timedelta(minutes=5)).isoformat()}
    assert [r["id"] for page in paginate(fetch, CursorPaginator(), operation="log") for r in page] == [docs[3]["id"]]
    query = {"lesson_id": lesson_id, "until": "2000-01-01T00:00:00Z"}
    assert list(paginate(fetch, CursorPaginator(), operation="log")) == []
    bad = api.http.get("/api/admin/webhooks", params={"cursor": "bm90IGEgY3Vyc29y"}, headers=admin)
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "FilterInvalid"
    assert api.http.get("/api/admin/webhooks", params={"outcome": "nope"}, headers=admin).status_code == 400

    shown = api.http.get(f"/api/admin/webhooks/{docs[0]['id']}", headers=admin).json()
    assert shown["payload"]["data"]["url"] == "[redacted]"
    assert shown["payload"]["attempts"][0]["response_headers"]["set-cookie"] == "[redacted]"
    assert shown["redacted"] == ["data.url", "attempts[0].response_headers.set-cookie"]
    assert "abc" not in str(shown) and "s3cr3t" not in str(shown)
    assert shown["payload"]["data"]["new_asset_settings"]["passthrough"] == str(lesson_id)
    assert api.http.get("/api/admin/webhooks/unknown-event", headers=admin).status_code == 404


# --- with the emulator: uploads, missed webhooks ---------------------------------------------------


def upload_url(api: RunningApi, lesson_id: int, teacher: int) -> dict[str, Any]:
    resp = api.http.post("/api/videos/mux/upload-url", json={"lesson_id": lesson_id}, headers=api.auth(teacher))
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


def send(clip: Path, url: str) -> None:
    with clip.open("rb") as f, httpx.Client(timeout=30) as http:
        put_in_chunks(url, f, clip.stat().st_size, http=http, content_type="video/mp4", chunk_size=256 * 1024)


def uploads(api: RunningApi) -> dict[str, tuple[str, int | None, int | None, str | None, str | None]]:
    with api.session_factory() as s:
        rows = s.execute(select(Upload)).scalars().all()
        return {r.mux_upload_id: (r.status, r.lesson_id, r.created_by, r.mux_asset_id, r.error) for r in rows}


def test_every_upload_is_recorded_a_replaced_and_a_failed_one_included(
    db_url: str, fresh_emu: EmulatorServer, start_api: ApiFactory, clip: Path
) -> None:
    api = start_api(api_settings(db_url, emu=fresh_emu))
    fresh_emu.set_webhook_urls([f"{api.url}{PATH}"])
    ids = people(api)
    with transaction(api.session_factory) as s:
        lesson_id = make_lesson(s, s.get(Course, ids["course"])).id

    first = upload_url(api, lesson_id, ids["teacher"])
    assert uploads(api)[first["upload_id"]] == ("waiting", lesson_id, ids["teacher"], None, None)
    send(clip, first["url"])
    wait_until(lambda: uploads(api)[first["upload_id"]][0] == "ready", what="first upload ready")
    asset_id = lesson_row(api, lesson_id).mux_asset_id

    second = upload_url(api, lesson_id, ids["teacher"])  # the teacher replaces the video
    failed = fresh_emu.http.post(
        f"/_emulator/uploads/{second['upload_id']}/fail",
        json={"type": "invalid_file", "message": "File is not a video"},
    )
    assert failed.status_code == 200, failed.text
    wait_until(lambda: uploads(api)[second["upload_id"]][0] == "errored", what="second upload errored")
    assert uploads(api) == {
        first["upload_id"]: ("ready", lesson_id, ids["teacher"], asset_id, None),
        second["upload_id"]: ("errored", lesson_id, ids["teacher"], None, "File is not a video"),
    }
    # Mux's retries of the same events change nothing (forward-only, stored once).
    for event in fresh_emu.events():
        fresh_emu.http.post(f"/_emulator/webhooks/{event['id']}/replay", json={"urls": [f"{api.url}{PATH}"]})
    wait_until(lambda: not fresh_emu.stats()["webhooks"]["pending"], what="replays delivered")
    assert uploads(api)[first["upload_id"]][0] == "ready" and uploads(api)[second["upload_id"]][0] == "errored"


def test_repair_brings_a_lesson_whose_ready_event_never_arrived_to_ready(
    db_url: str,
    fresh_emu: EmulatorServer,
    start_api: ApiFactory,
    clip: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The emulator delivers only the asset_created events (webhook URLs are off; those are replayed by hand)."""
    api = start_api(api_settings(db_url, emu=fresh_emu))
    ids = people(api)
    with transaction(api.session_factory) as s:
        lessons = [make_lesson(s, s.get(Course, ids["course"])).id for _ in range(2)]
    tickets = [upload_url(api, lesson_id, ids["teacher"]) for lesson_id in lessons]
    for ticket in tickets:
        send(clip, ticket["url"])
    for ticket in tickets:
        created = next(
            e for e in fresh_emu.events("video.upload.asset_created") if e["data"]["id"] == ticket["upload_id"]
        )
        fresh_emu.wait_for_asset_status(created["data"]["asset_id"], "ready")
        delivered = fresh_emu.http.post(
            f"/_emulator/webhooks/{created['id']}/replay", json={"urls": [f"{api.url}{PATH}"]}
        )
        assert delivered.status_code == 202
    wait_until(lambda: all(lesson_row(api, i).video_status == "processing" for i in lessons), what="processing")
    assert fresh_emu.events("video.asset.ready") and not fresh_emu.webhook_log(event_type="video.asset.ready")

    resp = api.http.post(f"/api/admin/lessons/{lessons[0]}/repair", headers=api.auth(ids["admin"]))
    assert resp.status_code == 200, resp.text
    result = resp.json()
    assert (result["healed"], result["before"], result["after"], result["asset_status"]) == (
        True,
        "processing",
        "ready",
        "ready",
    )
    row = lesson_row(api, lessons[0])
    assert (row.video_status, row.video_provider) == ("ready", "mux") and row.mux_playback_id
    assert row.video_duration_s is not None and 2.5 <= row.video_duration_s <= 3.5
    assert uploads(api)[tickets[0]["upload_id"]][0] == "ready"
    again = api.http.post(f"/api/admin/lessons/{lessons[0]}/repair", headers=api.auth(ids["admin"])).json()
    assert (again["healed"], again["after"]) == (False, "ready") and "already matches" in again["reason"]
    missing = api.http.post("/api/admin/lessons/2147483647/repair", headers=api.auth(ids["admin"]))
    assert missing.status_code == 404

    # The same from the command line, as the operator who runs it.
    monkeypatch.chdir(tmp_path)
    env = {
        "DATABASE_URL": db_url,
        "MUX_API_URL": fresh_emu.url,
        "MUX_TOKEN_ID": fresh_emu.token_id,
        "MUX_TOKEN_SECRET": fresh_emu.token_secret,
        "COLUMNS": "200",
    }
    cli = CliRunner().invoke(cli_app, ["lessons", "repair", str(lessons[1])], env=env)
    assert cli.exit_code == 0, cli.output
    assert "processing -> ready" in cli.output
    assert lesson_row(api, lessons[1]).video_status == "ready"
    audit = actions(api)
    assert [(a, t, o) for a, _, t, o, _ in audit] == [
        ("lesson.repair", f"lesson:{lessons[0]}", "healed"),
        ("lesson.repair", f"lesson:{lessons[0]}", "unchanged"),
        ("lesson.repair", f"lesson:{lessons[1]}", "healed"),
    ]
    assert audit[2][1].startswith("cli:") and audit[0][1].endswith("@example.test")

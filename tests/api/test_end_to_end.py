"""Upload -> Mux (emulator) -> signed webhooks -> ready -> signed playback, all over real HTTP."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx
import jwt
from sqlalchemy import select

from core.db.engine import make_engine, make_session_factory, transaction
from core.db.models import WebhookEvent
from core.mux import MuxService
from core.mux.uploads import put_in_chunks
from core.privacy import viewer_user_id
from emulator.testing import EmulatorServer
from tests.api.conftest import ApiFactory, api_settings
from tests.conftest import S3Server
from tests.factories import enroll, make_course, make_lesson, make_user
from tests.waiting import wait_until


def read_sse(http: httpx.Client, path: str, headers: dict[str, str], out: list[tuple[str, dict[str, Any]]]) -> None:
    with http.stream("GET", path, headers=headers, timeout=60) as resp:
        assert resp.status_code == 200
        event = None
        for line in resp.iter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: ") and event:
                out.append((event, json.loads(line.removeprefix("data: "))))
                if event == "end":
                    return


def test_teacher_uploads_student_plays_signed_and_legacy_plays_from_s3(
    db_url: str, s3: S3Server, fresh_emu: EmulatorServer, start_api: ApiFactory, clip: Path
) -> None:
    emu = fresh_emu
    base = api_settings(db_url, s3, emu)
    mux = MuxService(base)
    key = mux.create_signing_key()  # through SigningKeysApi on /system/v1, like `lectern mux signing-key create`
    mux.close()
    assert key.private_key
    settings = api_settings(db_url, s3, emu, mux_signing_key_id=key.id, mux_signing_private_key=key.private_key)

    s3.client().put_object(Bucket=s3.bucket, Key="legacy/old.mp4", Body=clip.read_bytes(), ContentType="video/mp4")
    engine = make_engine(db_url)
    with transaction(make_session_factory(engine)) as s:
        teacher, student, stranger = make_user(s, "teacher"), make_user(s), make_user(s)
        course = make_course(s, teacher=teacher)
        lesson = make_lesson(s, course, playback_policy="signed", title="Signed lesson")
        legacy = make_lesson(s, course, video_url="legacy/old.mp4", duration_s=3.0)
        enroll(s, student, course)
        ids = {
            "teacher": teacher.id,
            "student": student.id,
            "stranger": stranger.id,
            "lesson": lesson.id,
            "legacy": legacy.id,
        }
    engine.dispose()

    api = start_api(settings)
    emu.set_webhook_urls([f"{api.url}/api/videos/mux/webhook"])
    lesson_id = ids["lesson"]

    events: list[tuple[str, dict[str, Any]]] = []
    watcher = threading.Thread(
        target=read_sse,
        args=(api.http, f"/api/lessons/{lesson_id}/events?timeout=30", api.auth(ids["teacher"]), events),
    )
    watcher.start()

    resp = api.http.post("/api/videos/mux/upload-url", json={"lesson_id": lesson_id}, headers=api.auth(ids["teacher"]))
    assert resp.status_code == 200, resp.text
    ticket = resp.json()
    assert ticket["lesson_id"] == lesson_id and ticket["reused"] is False
    again = api.http.post("/api/videos/mux/upload-url", json={"lesson_id": lesson_id}, headers=api.auth(ids["teacher"]))
    assert (again.json()["upload_id"], again.json()["reused"]) == (ticket["upload_id"], True)
    status = api.http.get(f"/api/lessons/{lesson_id}/status", headers=api.auth(ids["teacher"])).json()
    assert (status["status"], status["upload_id"]) == ("waiting_upload", ticket["upload_id"])

    with clip.open("rb") as f, httpx.Client(timeout=30) as http:
        chunks = put_in_chunks(
            ticket["url"], f, clip.stat().st_size, http=http, content_type="video/mp4", chunk_size=256 * 1024
        )
    assert chunks == 2

    def ready() -> dict[str, Any] | None:
        body = api.http.get(f"/api/lessons/{lesson_id}/status", headers=api.auth(ids["student"])).json()
        return body if body["status"] in ("ready", "errored") else None

    final = wait_until(ready, timeout=30)
    assert final["status"] == "ready", final
    assert final["provider"] == "mux" and final["playback_id"] and final["asset_id"]
    assert 2.5 <= final["duration_s"] <= 3.5

    watcher.join(timeout=30)
    statuses = [data["status"] for name, data in events if name == "status"]
    assert statuses[-1] == "ready" and "processing" in statuses, statuses
    assert events[-1] == ("end", {"reason": "final"})

    play = api.http.get(f"/api/videos/{lesson_id}/playback", headers=api.auth(ids["student"]))
    assert play.status_code == 200, play.text
    info = play.json()
    assert info["provider"] == "mux" and info["policy"] == "signed"
    assert set(info["tokens"]) == {"video", "thumbnail", "storyboard"}
    claims = jwt.decode(info["tokens"]["video"], options={"verify_signature": False})
    viewer = viewer_user_id(api.settings, ids["student"])
    assert (claims["sub"], claims["aud"], claims["viewer_id"]) == (final["playback_id"], "v", viewer)
    assert info["viewer_user_id"] == viewer
    assert jwt.get_unverified_header(info["tokens"]["video"])["kid"] == key.id
    assert play.headers["Cache-Control"].startswith("private, max-age=")
    playlist = httpx.get(info["urls"]["hls"])
    assert playlist.status_code == 200 and playlist.text.startswith("#EXTM3U")
    assert httpx.get(info["urls"]["thumbnail"]).status_code == 200
    assert httpx.get(f"{emu.url}/stream/{final['playback_id']}.m3u8").status_code == 403  # no token, no stream

    assert api.http.get(f"/api/videos/{lesson_id}/playback", headers=api.auth(ids["stranger"])).status_code == 404

    legacy_play = api.http.get(f"/api/videos/{ids['legacy']}/playback", headers=api.auth(ids["student"])).json()
    assert legacy_play["provider"] == "s3"
    assert httpx.get(legacy_play["urls"]["mp4"]).content == clip.read_bytes()

    with api.session_factory() as s:
        applied = (
            s.execute(
                select(WebhookEvent.type).where(WebhookEvent.lesson_id == lesson_id, WebhookEvent.outcome == "applied")
            )
            .scalars()
            .all()
        )
    assert "video.asset.ready" in applied and "video.upload.asset_created" in applied

"""Webhooks and uploads log structured events with ids, and never a secret or token."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator

import pytest

from core.db.engine import transaction
from core.logging import StructuredFormatter, clear_registered_secrets, configure_logging, record_fields
from core.webhooks import sign
from emulator.testing import EmulatorServer
from tests.api.conftest import JWT_SECRET, ApiFactory, api_settings
from tests.core.mux_events import asset_event, body
from tests.core.signing import signing_key
from tests.factories import enroll, make_course, make_lesson, make_user


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """What an operator would see: Lectern's handler on the root logger, at DEBUG (the chattiest)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream)
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)
    clear_registered_secrets()


def test_events_are_logged_with_ids_and_secrets_never_appear(
    db_url: str,
    fresh_emu: EmulatorServer,
    start_api: ApiFactory,
    caplog: pytest.LogCaptureFixture,
    log_output: io.StringIO,
) -> None:
    key = signing_key()
    settings = api_settings(
        db_url, emu=fresh_emu, mux_signing_key_id=key.key_id, mux_signing_private_key=key.private_key_b64
    )
    api = start_api(settings)
    with transaction(api.session_factory) as s:
        teacher, student = make_user(s, "teacher"), make_user(s)
        course = make_course(s, teacher=teacher)
        enroll(s, student, course)
        lesson = make_lesson(s, course, playback_policy="signed")
        ids = (teacher.id, student.id, lesson.id)
    teacher_id, student_id, lesson_id = ids
    teacher_token = api.token(teacher_id)

    with caplog.at_level(logging.DEBUG):
        upload = api.http.post(
            "/api/videos/mux/upload-url",
            json={"lesson_id": lesson_id},
            headers={"Authorization": f"Bearer {teacher_token}"},
        ).json()
        raw = body(
            asset_event(
                "video.asset.ready",
                "A-log",
                lesson_id=lesson_id,
                upload_id=upload["upload_id"],
                playback_ids=[{"id": "P-log", "policy": "signed"}],
                event_id="evt-log",
            )
        )
        api.http.post(
            "/api/videos/mux/webhook",
            content=raw,
            headers={"Mux-Signature": sign(raw, settings.mux_webhook_secret.get_secret_value(), int(time.time()))},
        )
        api.http.post("/api/videos/mux/webhook", content=raw, headers={"Mux-Signature": "t=1,v1=00"})
        tokens = api.http.get(f"/api/videos/{lesson_id}/playback", headers=api.auth(student_id)).json()["tokens"]
        ticket = api.http.post(f"/api/lessons/{lesson_id}/ticket", headers=api.auth(teacher_id)).json()["ticket"]
        api.http.get(f"/api/lessons/{lesson_id}/events?once=1&ticket={ticket}")

    by_event = {r.getMessage(): record_fields(r) for r in caplog.records}
    assert by_event["upload.created"]["lesson_id"] == lesson_id
    assert by_event["upload.created"]["upload_id"] == upload["upload_id"]
    assert by_event["webhook.processed"]["event_id"] == "evt-log"
    assert by_event["webhook.processed"]["outcome"] == "applied"
    assert by_event["webhook.rejected"]["reason"] == "timestamp too old (more than 300 s ago)"

    ours = [r for r in caplog.records if r.name.startswith(("core.", "api."))]
    everything = log_output.getvalue() + "\n".join(StructuredFormatter().format(r) for r in ours)
    assert "webhook.processed" in log_output.getvalue()
    secrets = [
        settings.mux_webhook_secret.get_secret_value(),
        settings.mux_token_secret.get_secret_value(),
        JWT_SECRET,
        key.private_key_b64,
        teacher_token,
        ticket,
        *tokens.values(),
    ]
    for secret in secrets:
        assert secret not in everything

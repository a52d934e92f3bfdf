"""No secrets or signed tokens in log lines.

The whole run is scanned by tests/conftest.py (every record, every test); this module checks the scanner
itself, then runs the flows that handle credentials — token checks, an upload URL from Mux, signed
playback, legacy S3 playback, a signed webhook, a platform sync — with DEBUG logging on, and greps what
they logged. The dashboard's rendered pages are scanned in tests/dashboard/test_no_secrets.py.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.auth import mint_token
from core.db.engine import transaction
from core.logging import clear_registered_secrets, get_logger, register_secrets
from core.privacy import pseudonym_secret
from core.webhooks import sign
from emulator.testing import EmulatorServer
from sync.platform import run_platform
from tests.api.conftest import JWT_SECRET, ApiFactory, RunningApi, api_settings
from tests.conftest import S3Server
from tests.core.mux_events import asset_event
from tests.core.signing import signing_key
from tests.factories import enroll, make_course, make_lesson, make_user
from tests.secret_scan import LeakScanner, find_leaks
from warehouse.store import WarehouseLayout, WarehouseWriter

JWT_SAMPLE = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
TICKET_SAMPLE = "lt1.NDI6NzpldmVudHM6MTc5NjMzMjc3Mg.5Z9UFdDVe34a0O2OEOFsDBFGSz8hFzwKl61U33EKmlk"


@pytest.fixture
def scanner() -> Iterator[LeakScanner]:
    """A scanner at DEBUG for one test (the session-wide one runs at INFO)."""
    root = logging.getLogger()
    level = root.level
    handler = LeakScanner(lambda: SECRETS)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


SECRETS: list[str] = []


def test_find_leaks_names_secrets_jwts_and_signed_parameters_but_not_masks() -> None:
    line = (
        f"x supersecretvalue y {JWT_SAMPLE} https://s3/k?X-Amz-Signature=abc123&X-Amz-Credential=AK "
        "https://up/u?signature=zzz token=t0k"
    )
    leaks = find_leaks(line, ["supersecretvalue", "testing"])
    assert leaks[0].startswith("secret sup") and any(leak.startswith("JWT") for leak in leaks)
    assert {leak.split()[-1] for leak in leaks if "parameter" in leak} == {
        "X-Amz-Signature=",
        "X-Amz-Credential=",
        "signature=",
        "token=",
    }
    assert find_leaks("token=******** X-Amz-Signature=******** testing", ["testing"]) == []


def test_the_scanner_flags_what_lectern_would_write_unmasked() -> None:
    handler = LeakScanner(lambda: ["an-unregistered-secret-value"])
    records = [
        logging.LogRecord("thirdparty", logging.INFO, __file__, 1, "leaked an-unregistered-secret-value", None, None),
        logging.LogRecord("thirdparty", logging.INFO, __file__, 1, "GET /x?token=%s", (JWT_SAMPLE,), None),
    ]
    for record in records:
        handler.handle(record)
    # The secret was never registered, so nothing masked it; the JWT is masked by Lectern's filter.
    assert len(handler.leaks) == 1 and "secret an-" in handler.leaks[0]
    assert records[1].args == (JWT_SAMPLE,)  # other handlers still see the original record


def test_lectern_loggers_mask_registered_secrets_and_token_shapes(scanner: LeakScanner) -> None:
    secret = "registered-secret-0123456789"
    SECRETS.append(secret)
    register_secrets([secret])
    try:
        log = get_logger("lectern.test")
        log.info("thing.happened", detail=f"with {secret}", url=f"https://h/p?token={JWT_SAMPLE}", password="pw")
        logging.getLogger("tests.thirdparty.http").debug("GET /upload?signature=%s HTTP/1.1", "sig-value-xyz")
        # Access-log lines in uvicorn's format for an EventSource and a sendBeacon, which can only pass a ticket
        # in the query (on a logger of our own: uvicorn's and urllib3's get their levels set by earlier tests).
        for path in (
            f"/api/lessons/7/events?ticket={TICKET_SAMPLE}",
            f"/api/lessons/7/progress?ticket={TICKET_SAMPLE}",
        ):
            logging.getLogger("tests.thirdparty.access").info(
                '%s - "%s %s HTTP/%s" %d', "127.0.0.1", "GET", path, "1.1", 200
            )
        # A ticket outside a query parameter is masked by its shape.
        log.info("thing.ticketed", detail=f"ticket {TICKET_SAMPLE}")
    finally:
        SECRETS.remove(secret)
        clear_registered_secrets()
    assert scanner.lines == 5 and scanner.leaks == []


@pytest.fixture
def api(
    db_url: str, s3: S3Server, fresh_emu: EmulatorServer, start_api: ApiFactory, tmp_path: Path
) -> Iterator[RunningApi]:
    key = signing_key()
    settings = api_settings(
        db_url,
        s3,
        fresh_emu,
        mux_signing_key_id=key.key_id,
        mux_signing_private_key=key.private_key_b64,
        warehouse_path=tmp_path / "warehouse.duckdb",
        pseudonym_key="pseudonym-key-for-log-scan-tests",
    )
    SECRETS.extend(
        [
            settings.mux_token_secret.get_secret_value(),
            settings.mux_webhook_secret.get_secret_value(),
            key.private_key_b64,
            JWT_SECRET,
            "pseudonym-key-for-log-scan-tests",
        ]
    )
    yield start_api(settings)
    SECRETS.clear()


def test_credential_flows_log_no_secrets_or_tokens(api: RunningApi, s3: S3Server, scanner: LeakScanner) -> None:
    with transaction(api.session_factory) as s:
        teacher, student = make_user(s, "teacher"), make_user(s)
        course = make_course(s, teacher=teacher)
        enroll(s, student, course)
        upload = make_lesson(s, course)
        signed = make_lesson(s, course, playback_policy="signed", mux_playback_id="SIGNED1", video_provider="mux")
        signed.video_status = "ready"
        legacy = make_lesson(s, course, video_url="legacy/l.mp4")
        ids = (teacher.id, student.id, upload.id, signed.id, legacy.id)
    teacher_id, student_id, upload_id, signed_id, legacy_id = ids
    s3.client().put_object(Bucket=s3.bucket, Key="legacy/l.mp4", Body=b"x" * 100)

    made = api.http.post("/api/videos/mux/upload-url", json={"lesson_id": upload_id}, headers=api.auth(teacher_id))
    assert made.status_code == 200 and "signature=" in made.json()["url"]
    play = api.http.get(f"/api/videos/{signed_id}/playback", headers=api.auth(student_id))
    assert play.status_code == 200 and play.json()["tokens"]["video"].startswith("eyJ")
    old = api.http.get(f"/api/videos/{legacy_id}/playback", headers=api.auth(student_id))
    assert old.status_code == 200 and "X-Amz-Signature=" in old.json()["urls"]["mp4"]
    ticket = api.http.post(f"/api/lessons/{signed_id}/ticket", headers=api.auth(student_id)).json()["ticket"]
    stream = api.http.get(f"/api/lessons/{signed_id}/events", params={"once": "1", "ticket": ticket})
    assert stream.status_code == 200 and "event: status" in stream.text
    beacon = api.http.post(
        f"/api/lessons/{signed_id}/progress",
        params={"ticket": ticket},
        content=json.dumps({"session_id": str(uuid.uuid4()), "seq": 0, "position_s": 0, "ranges": []}),
        headers={"Content-Type": "text/plain;charset=UTF-8"},
    )
    assert beacon.status_code == 200, beacon.text
    forged = mint_token("not-the-secret-0123456789abcdef0123", student_id)
    bad = api.http.get(f"/api/videos/{signed_id}/playback", headers={"Authorization": f"Bearer {forged}"})
    assert bad.status_code == 401
    expired = mint_token(JWT_SECRET, student_id, ttl_s=1, now=time.time() - 60)
    assert api.http.get(f"/api/videos/{signed_id}/playback?token={expired}").status_code == 401
    body = json.dumps(asset_event("video.asset.created", "ASSET-LOG", lesson_id=upload_id)).encode()
    hook = api.http.post(
        "/api/videos/mux/webhook",
        content=body,
        headers={
            "Mux-Signature": sign(body, api.settings.mux_webhook_secret.get_secret_value(), int(time.time())),
            "Content-Type": "application/json",
        },
    )
    assert hook.status_code == 200, hook.text
    unsigned = api.http.post(
        "/api/videos/mux/webhook", content=body, headers={"Mux-Signature": "t=1,v1=00", "Content-Type": "x"}
    )
    assert unsigned.status_code == 401
    writer = WarehouseWriter(WarehouseLayout(api.settings.warehouse_path))
    with writer.open() as con:
        run_platform(
            con, api.session_factory.kw["bind"], now=datetime.now(UTC), pseudonym_secret=pseudonym_secret(api.settings)
        )

    assert scanner.lines > 10  # the flows did log (request lines, upload, webhook, publish ...)
    assert scanner.leaks == [], "\n".join(scanner.leaks)

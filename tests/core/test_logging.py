from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from core.logging import (
    MASK,
    clear_registered_secrets,
    configure_logging,
    get_logger,
    mask_fields,
    record_fields,
    redact_text,
    register_secrets,
)

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLXZhbHVl"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    clear_registered_secrets()


def test_secret_named_fields_are_masked_and_others_kept() -> None:
    out = mask_fields(
        {
            "event_id": "e1",
            "token": "abc",
            "mux_token_secret": "s",
            "Authorization": "Bearer x",
            "private_key": "k",
            "signature": "t=1,v1=ff",
            "lesson_id": 7,
            "empty_token": None,
        }
    )
    assert out == {
        "event_id": "e1",
        "token": MASK,
        "mux_token_secret": MASK,
        "Authorization": MASK,
        "private_key": MASK,
        "signature": MASK,
        "lesson_id": 7,
        "empty_token": None,
    }


def test_secret_shaped_values_are_redacted_anywhere() -> None:
    assert redact_text(f"url=https://s/p.m3u8?token={JWT}&x=1") == f"url=https://s/p.m3u8?token={MASK}&x=1"
    assert redact_text(f"bearer {JWT} failed") == f"bearer {MASK} failed"
    assert MASK in redact_text("key LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQo=")
    register_secrets(["hunter2-secret", "abc"])  # too-short values are not registered (too common)
    assert redact_text("pw hunter2-secret abc") == f"pw {MASK} abc"


def test_event_logger_emits_event_and_masked_fields(caplog: pytest.LogCaptureFixture) -> None:
    register_secrets(["whsec-very-secret"])
    log = get_logger("lectern.test")
    with caplog.at_level(logging.INFO, logger="lectern.test"):
        log.info("webhook.rejected", reason="bad with whsec-very-secret inside", event_id="e1", token=JWT)
    (record,) = caplog.records
    assert record.getMessage() == "webhook.rejected"
    assert record_fields(record) == {"reason": f"bad with {MASK} inside", "event_id": "e1", "token": MASK}
    assert "whsec-very-secret" not in caplog.text and JWT not in caplog.text


def test_configured_handler_writes_json_lines_and_redacts_foreign_records() -> None:
    stream = io.StringIO()
    configure_logging("INFO", secrets=["s3cr3t-value"], stream=stream)
    get_logger("lectern.test").info("upload.created", lesson_id=3, upload_id="u1")
    logging.getLogger("thirdparty.access").info("GET /api/lessons/1/events?access_token=%s HTTP/1.1", JWT)
    logging.getLogger("other").warning("leaked s3cr3t-value here")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["event"] == "upload.created"
    assert (lines[0]["lesson_id"], lines[0]["upload_id"], lines[0]["level"]) == (3, "u1", "info")
    assert JWT not in lines[1]["event"] and f"access_token={MASK}" in lines[1]["event"]
    assert lines[2]["event"] == f"leaked {MASK} here"


def test_signed_url_parameters_are_masked() -> None:
    from core.logging import redact_text

    upload = "PUT http://127.0.0.1:8800/_upload/abc?signature=0123456789abcdef0123456789abcdef"
    s3 = "GET http://s3/b/k.mp4?X-Amz-Credential=AKIA%2F20261125&X-Amz-Signature=deadbeefcafe&X-Amz-Expires=3600"
    assert "0123456789abcdef" not in redact_text(upload)
    assert "signature=" in redact_text(upload)
    masked = redact_text(s3)
    assert "deadbeefcafe" not in masked and "AKIA" not in masked and "X-Amz-Expires=3600" in masked

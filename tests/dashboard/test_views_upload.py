"""The upload page's view model: tickets that expire, error messages, and the live status line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.errors import Conflict, Forbidden, LecternError, MuxUnavailable, NotConfigured, NotFound
from core.lessons import UploadTicket
from dashboard.platform_db import LessonRow
from dashboard.views import upload as view
from dashboard.views.display import Tone
from tests.dashboard.rows import lesson_row

NOW = datetime(2026, 6, 30, 12, tzinfo=UTC)
ENDED_WITHOUT_VIDEO = "The upload of **2. Loops** ended without a video (no video). Try again."


def row(status: str, provider: str | None = "mux", error: str | None = None) -> LessonRow:
    return lesson_row(id=5, position=2, title="Loops", status=status, provider=provider, error=error)


def ticket(expires_at: datetime, reused: bool = False) -> UploadTicket:
    return UploadTicket(
        lesson_id=5, upload_id="up-1", url="https://upload.test/up-1", expires_at=expires_at, reused=reused
    )


def test_an_expired_ticket_is_dropped_and_a_valid_one_kept() -> None:
    valid, expired = ticket(NOW + timedelta(minutes=5)), ticket(NOW)
    tickets = {5: valid}
    assert view.live_ticket(tickets, 5, NOW) is valid and tickets == {5: valid}
    tickets = {5: expired}
    assert view.live_ticket(tickets, 5, NOW) is None and tickets == {}
    assert view.live_ticket({}, 5, NOW) is None


def test_ticket_caption_says_when_the_upload_continues_without_the_upload_id() -> None:
    assert view.ticket_caption(ticket(NOW, reused=True)) == (
        "Upload URL ready (continuing the pending upload), valid until 12:00 UTC."
    )
    assert view.ticket_caption(ticket(NOW)) == "Upload URL ready, valid until 12:00 UTC."
    # The id and the setting name are for an admin's Details expander.
    details = view.upload_details(ticket(NOW), "http://localhost:8501")
    assert "`up-1`" in details and "LECTERN_CORS_ORIGIN" in details
    assert "up-1" not in view.upload_details(None, "http://localhost:8501")


@pytest.mark.parametrize(
    ("has_ticket", "lesson", "outcome"),
    [
        (False, row("ready"), None),  # no upload from this page: nothing to end
        (True, row("waiting_upload"), None),
        (True, row("processing"), None),  # the upload box keeps saying "processing" while Mux works
        (True, row("ready"), ("success", "Upload finished: **2. Loops** is ready to play.")),
        (True, row("errored", error="bad"), ("error", "Mux could not process the upload of **2. Loops**: bad.")),
        (True, row("none", None), ("warning", ENDED_WITHOUT_VIDEO)),
    ],
)  # fmt: skip
def test_the_upload_is_over_once_the_lesson_stops_waiting_on_mux(
    has_ticket: bool, lesson: LessonRow, outcome: tuple[Tone, str] | None
) -> None:
    assert view.upload_outcome(has_ticket, lesson) == outcome


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (Forbidden("not yours"), "That lesson is not one of yours."),
        (NotFound("no lesson 5"), "That lesson is not one of yours."),
        (NotConfigured("set MUX_TOKEN_ID"), "Uploads are not set up yet: ask an admin."),
        (MuxUnavailable("Mux answered 503"), "Mux refused the upload: Mux answered 503. Try again in a moment."),
        (Conflict("the lesson is being migrated"), "the lesson is being migrated"),
    ],
)
def test_upload_errors_in_a_teachers_words(error: LecternError, expected: str) -> None:
    assert view.upload_error(error) == expected


def test_only_admins_read_which_settings_are_missing() -> None:
    missing = NotConfigured("set MUX_TOKEN_ID")
    assert view.upload_error(missing, admin=True) == "Uploads are not set up: set MUX_TOKEN_ID"


def test_a_lesson_with_a_video_keeps_playing_it() -> None:
    assert view.current_provider(row("none", provider=None)) is None
    assert view.current_provider(row("none", provider="s3")) == (
        "This lesson plays from S3 now; it keeps playing until the new video is ready."
    )


@pytest.mark.parametrize(
    ("lesson", "tone", "text"),
    [
        (row("ready"), "success", "**2. Loops** · provider Mux · ready"),
        (row("errored", error="bad file"), "error", "**2. Loops** · provider Mux · errored: bad file"),
        (row("processing"), "info", "**2. Loops** · provider Mux · processing (updates by itself)"),
        (row("none", provider=None), "plain", "**2. Loops** · provider none · no video"),
    ],
)
def test_status_line_tone_follows_the_video_state(lesson: LessonRow, tone: Tone, text: str) -> None:
    assert view.status_line(lesson) == (tone, text)

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


def test_ticket_caption_says_when_the_upload_continues() -> None:
    assert view.ticket_caption(ticket(NOW, reused=True)) == (
        "Upload up-1 (continuing the pending upload), valid until 12:00 UTC."
    )
    assert view.ticket_caption(ticket(NOW)) == "Upload up-1, valid until 12:00 UTC."


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (Forbidden("not yours"), "That lesson is not one of yours."),
        (NotFound("no lesson 5"), "That lesson is not one of yours."),
        (NotConfigured("set MUX_TOKEN_ID"), "Uploads are not set up: set MUX_TOKEN_ID"),
        (MuxUnavailable("Mux answered 503"), "Mux refused the upload: Mux answered 503. Try again in a moment."),
        (Conflict("the lesson is being migrated"), "the lesson is being migrated"),
    ],
)
def test_upload_errors_in_a_teachers_words(error: LecternError, expected: str) -> None:
    assert view.upload_error(error) == expected


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

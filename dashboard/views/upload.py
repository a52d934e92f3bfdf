"""View model of the upload page: which upload URL is still usable, and what to tell the teacher."""

from __future__ import annotations

from datetime import datetime

from core.errors import Forbidden, LecternError, MuxError, NotConfigured, NotFound
from core.lessons import UploadTicket
from dashboard.platform_db import PROVIDER_LABELS, LessonRow
from dashboard.views.display import Tone


def live_ticket(tickets: dict[int, UploadTicket], lesson_id: int, now: datetime) -> UploadTicket | None:
    """The lesson's upload ticket while its URL is valid; an expired one is dropped (it would only fail in the
    browser)."""
    ticket = tickets.get(lesson_id)
    if ticket is not None and ticket.expires_at <= now:
        del tickets[lesson_id]
        return None
    return ticket


def upload_error(exc: LecternError) -> str:
    """What a teacher reads when no upload URL could be had."""
    if isinstance(exc, Forbidden | NotFound):
        return "That lesson is not one of yours."
    if isinstance(exc, NotConfigured):
        return f"Uploads are not set up: {exc.message}"
    if isinstance(exc, MuxError):
        return f"Mux refused the upload: {exc.message}. Try again in a moment."
    return exc.user_message


def current_provider(lesson: LessonRow) -> str | None:
    """A note that the lesson keeps playing from where it is now, or None for a lesson without a video."""
    if lesson.provider is None:
        return None
    where = PROVIDER_LABELS.get(lesson.provider, lesson.provider)
    return f"This lesson plays from {where} now; it keeps playing until the new video is ready."


def ticket_caption(ticket: UploadTicket) -> str:
    note = " (continuing the pending upload)" if ticket.reused else ""
    return f"Upload {ticket.upload_id}{note}, valid until {ticket.expires_at:%H:%M} UTC."


def status_line(row: LessonRow) -> tuple[Tone, str]:
    """The live status line and how loud to show it (a pending video says it updates by itself)."""
    text = f"**{row.label}** · provider {PROVIDER_LABELS.get(row.provider, 'none')} · {row.status_text}"
    if row.status == "ready":
        return "success", text
    if row.status == "errored":
        return "error", text
    if row.pending:
        return "info", text + " (updates by itself)"
    return "plain", text

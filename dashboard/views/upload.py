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


def upload_error(exc: LecternError, *, admin: bool = False) -> str:
    """What a teacher reads when no upload URL could be had (only an admin reads which settings are missing)."""
    if isinstance(exc, Forbidden | NotFound):
        return "That lesson is not one of yours."
    if isinstance(exc, NotConfigured):
        return f"Uploads are not set up: {exc.message}" if admin else "Uploads are not set up yet: ask an admin."
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
    return f"Upload URL ready{note}, valid until {ticket.expires_at:%H:%M} UTC."


def upload_details(ticket: UploadTicket | None, cors_origin: str) -> str:
    """What an admin may want when an upload misbehaves: the Mux upload id and the allowed origin setting."""
    upload = f"Mux upload `{ticket.upload_id}`. " if ticket is not None else ""
    return f"{upload}Mux accepts browser uploads only from the origin in LECTERN_CORS_ORIGIN: `{cors_origin}`."


def upload_outcome(has_ticket: bool, row: LessonRow) -> tuple[Tone, str] | None:
    """When this page holds an upload URL for the lesson and the lesson no longer waits on Mux, the upload is
    over: what to show in place of the upload box (which would otherwise say "processing" forever). None
    while it is not over (or when no upload was started here)."""
    if not has_ticket or row.pending:
        return None
    if row.status == "ready":
        return "success", f"Upload finished: **{row.label}** is ready to play."
    if row.status == "errored":
        return "error", f"Mux could not process the upload of **{row.label}**: {row.error or 'no message'}."
    return "warning", f"The upload of **{row.label}** ended without a video ({row.status_text}). Try again."


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

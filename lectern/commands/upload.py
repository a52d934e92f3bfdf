"""`lectern upload LESSON FILE`: send a lesson video to its Mux direct-upload URL, chunked and resumable.

The URL comes from the API (`--token`: `POST /api/videos/mux/upload-url` as that user) or from core
directly (the same LessonVideoService, acting as `--as` or the course's teacher). Either way a pending
upload for the lesson is reused, so running the command again after an interruption asks the URL how much
it already holds (`Content-Range: bytes */size`, answered 308 with `Range`) and sends only the rest.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from core.errors import ErrorKind, LecternError, PermanentError
from core.mux.uploads import put_in_chunks, range_end
from core.retry import Retrier
from core.settings import Settings
from core.storage import VIDEO_EXTENSIONS
from lectern.commands._settings import settings_or_exit

if TYPE_CHECKING:
    from core.container import Lectern

CHUNK_UNIT = 256 * 1024  # resumable-upload chunks are 256 KiB multiples (GCS, UpChunk, the emulator)
FINAL_STATUSES = ("ready", "errored")
console = Console()
err = Console(stderr=True)


class UploadFailed(PermanentError):
    """The upload cannot go on; the message says why and what to do."""

    kind = ErrorKind.UPSTREAM


@dataclass(frozen=True)
class Ticket:
    upload_id: str
    url: str
    reused: bool


def uploaded_bytes(http: httpx.Client, url: str, total: int) -> int:
    """How many bytes the upload URL already holds (0 for a fresh upload, `total` when complete)."""
    resp = http.put(url, content=b"", headers={"Content-Range": f"bytes */{total}"})
    if resp.status_code in (200, 201):
        return total
    if resp.status_code == 308:
        end = range_end(resp.headers.get("Range"))
        return 0 if end is None else end + 1
    if resp.status_code == 400:
        raise UploadFailed(
            f"the pending upload holds part of a different file ({resp.text[:200]}); upload the same file, "
            "or run with --restart for a new upload URL"
        )
    raise UploadFailed(f"the upload URL answered {resp.status_code}: {resp.text[:200]}")


def send_from(
    http: httpx.Client,
    url: str,
    stream: BinaryIO,
    total: int,
    offset: int,
    *,
    chunk_size: int,
    content_type: str = "application/octet-stream",
    retrier: Retrier | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """PUT bytes [offset, total) in chunks (core's resumable uploader); returns the chunk requests sent."""
    return put_in_chunks(
        url,
        stream,
        total,
        http=http,
        content_type=content_type,
        chunk_size=chunk_size,
        retrier=retrier,
        on_chunk=None if on_progress is None else (lambda done, _total: on_progress(done)),
        start=offset,
    )


def api_refusal(resp: httpx.Response) -> LecternError:
    """The API's error answer (`{"error": {"kind", "message"}}`) as the error of the same kind, so the exit
    code says what the API said: 66 for a lesson it does not know, 77 for a token it refuses."""
    from core.errors import Conflict, Forbidden, NotFound, Unauthenticated
    from lectern.errors import InvalidArgument

    try:
        error = resp.json()["error"]
        kind, message = ErrorKind(error["kind"]), f"the API refused the upload URL: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return UploadFailed(f"the API refused the upload URL ({resp.status_code}): {resp.text[:300]}")
    as_kind: dict[ErrorKind, Callable[[str], LecternError]] = {
        ErrorKind.NOT_FOUND: NotFound,
        ErrorKind.UNAUTHENTICATED: Unauthenticated,
        ErrorKind.FORBIDDEN: Forbidden,
        ErrorKind.CONFLICT: Conflict,
        ErrorKind.INVALID: InvalidArgument,
    }
    return as_kind.get(kind, UploadFailed)(message)


def _ticket_from_api(settings: Settings, token: str, lesson_id: int) -> Ticket:
    url = f"{str(settings.api_base_url).rstrip('/')}/api/videos/mux/upload-url"
    try:
        resp = httpx.post(url, json={"lesson_id": lesson_id}, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    except httpx.HTTPError as exc:
        from lectern.errors import ApiUnreachable

        raise ApiUnreachable(f"cannot reach the API at {settings.api_base_url}: {exc}") from exc
    if resp.status_code != 200:
        raise api_refusal(resp)
    body = resp.json()
    return Ticket(body["upload_id"], body["url"], bool(body.get("reused")))


def _ticket_from_core(lectern: Lectern, lesson_id: int, acting_as: str | None, restart: bool) -> Ticket:
    from sqlalchemy import select

    from core.db.models import Course, Lesson, User
    from core.errors import NotConfigured, NotFound

    mux = lectern.mux
    if mux is None:
        raise NotConfigured("Mux is not configured: set MUX_TOKEN_ID and MUX_TOKEN_SECRET (or use --token)")
    with lectern.session_factory() as session:
        if acting_as is None:
            stmt = select(Course.teacher_id).join(Lesson, Lesson.course_id == Course.id).where(Lesson.id == lesson_id)
            user_id = session.execute(stmt).scalar_one_or_none()
            if user_id is None:
                raise NotFound(f"lesson {lesson_id} not found")
        else:
            column = User.id if acting_as.isdigit() else User.email
            user_id = session.execute(select(User.id).where(column == acting_as)).scalar_one_or_none()
            if user_id is None:
                raise NotFound(f"no user {acting_as!r}")
        pending = session.execute(select(Lesson.mux_upload_id).where(Lesson.id == lesson_id)).scalar_one_or_none()
    if restart and pending:
        mux.cancel_direct_upload(pending)  # core then creates a fresh upload instead of reusing this one
    ticket = lectern.lessons.request_upload(int(user_id), lesson_id)
    return Ticket(ticket.upload_id, ticket.url, ticket.reused)


def _status_reader(lectern: Lectern, token: str | None, lesson_id: int) -> Callable[[], tuple[str, str | None]]:
    if token:
        url = f"{str(lectern.settings.api_base_url).rstrip('/')}/api/lessons/{lesson_id}/status"

        def from_api() -> tuple[str, str | None]:
            body = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
            return str(body["status"]), body.get("error")

        return from_api

    from core.db.models import Lesson

    factory = lectern.session_factory

    def from_db() -> tuple[str, str | None]:
        with factory() as session:
            lesson = session.get(Lesson, lesson_id)
            return (lesson.video_status, lesson.video_error) if lesson is not None else ("missing", None)

    return from_db


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def command(
    lesson: int = typer.Argument(..., min=1, help="Lesson id."),
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="Video file to upload."),
    token: str | None = typer.Option(
        None, envvar="LECTERN_TOKEN", help="Platform token: get the URL from the API as that user."
    ),
    acting_as: str | None = typer.Option(
        None, "--as", help="Without --token: the user (email or id) to act as; default the course's teacher."
    ),
    chunk_mb: int = typer.Option(0, min=0, help="Chunk size in MiB (0: LECTERN_MUX_UPLOAD_CHUNK_BYTES)."),
    restart: bool = typer.Option(False, "--restart", help="Cancel a pending upload and start a new one."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait until Mux reports the video ready."),
    wait_timeout: float = typer.Option(600.0, help="Seconds to wait for ready."),
) -> None:
    """Upload a lesson video to Mux (chunked; run again to resume an interrupted upload)."""
    from lectern.errors import InvalidArgument

    settings = settings_or_exit()
    if file.suffix.lower() not in VIDEO_EXTENSIONS:
        raise InvalidArgument(f"{file.name} does not look like a video ({', '.join(sorted(VIDEO_EXTENSIONS))})")
    total = file.stat().st_size
    if total == 0:
        raise InvalidArgument(f"{file.name} is empty")
    if token and restart:
        raise InvalidArgument("--restart needs direct access (drop --token): the API has no cancel route")
    chunk = chunk_mb * 1024 * 1024 if chunk_mb else settings.mux_upload_chunk_bytes
    from core.container import Lectern

    with Lectern.from_settings(settings) as lectern:
        if token:
            ticket = _ticket_from_api(settings, token, lesson)
        else:
            ticket = _ticket_from_core(lectern, lesson, acting_as, restart)
        try:
            with httpx.Client(timeout=httpx.Timeout(120.0, connect=10.0)) as http, file.open("rb") as stream:
                offset = uploaded_bytes(http, ticket.url, total)
                if offset:
                    console.print(f"resuming upload {ticket.upload_id}: {offset:,} of {total:,} bytes already there")
                with _progress() as bar:
                    task = bar.add_task(f"lesson {lesson}", total=total, completed=offset)
                    send_from(
                        http,
                        ticket.url,
                        stream,
                        total,
                        offset,
                        chunk_size=chunk,
                        on_progress=lambda done: bar.update(task, completed=done),
                    )
        except LecternError:
            # The bytes sent so far stay at the upload URL: say so beside the error line, which main() prints.
            console.print("run the same command again to resume from where it stopped")
            raise
        console.print(f"uploaded {file.name} ({total:,} bytes) to upload {ticket.upload_id}")
        if wait:
            _wait_ready(_status_reader(lectern, token, lesson), wait_timeout)


def _wait_ready(read: Callable[[], tuple[str, str | None]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with console.status("waiting for Mux to process the video") as spinner:
        while True:
            status, error = read()
            spinner.update(f"lesson video: {status}")
            if status in FINAL_STATUSES:
                break
            if time.monotonic() >= deadline:
                # Not an error: the upload is done and Mux is still working on it.
                err.print(f"still {status} after {timeout:.0f} s; check `lectern dashboard` later")
                raise typer.Exit(1)
            time.sleep(1.0)
    if status == "errored":
        raise UploadFailed(f"Mux could not process the video: {error or 'no message'}")
    console.print("ready: the lesson now plays from Mux")

"""The sample platform's Mux history made real: the lessons that moved to Mux before today, as Mux and Lectern
would have recorded them at the time.

`lectern seed` plans the history (lectern/sample_data.py: migration waves, teachers' uploads) and writes it to
`var/sample-history.json`. This brings it into the Mux emulator and the platform database:
- each lesson's Mux asset, created at its past date with the emulator's `POST /_emulator/assets` (an
  emulator-only control, like its traffic simulator: Mux cannot backdate an asset) from the lesson's sample
  video, which a throw-away local HTTP server hands the emulator. Those assets send no webhooks (Mux sent
  them at the time), and the emulator encodes each distinct sample video once;
- the platform's record of each move: the lesson on Mux (asset, playback id, the asset's duration) and either
  a finished migration job (the older waves' S3 objects since deleted by `lectern migrate cleanup`) or a
  finished teacher upload.
So the warehouse later sees assets created over the months their views and delivery span: storage, encoding
and delivery agree. Idempotent: lessons already on Mux are left alone.

The emulator also keeps `HISTORY_EXPORT_DAYS` of Mux Data export files instead of Mux's seven: the daily files
Lectern's sync would have loaded as they appeared, loaded at once (list + get per view would take minutes).

Run by `lectern demo` as `python -m lectern.sample_history VAR_DIR` with the demo's environment.
"""

from __future__ import annotations

import functools
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import select

from core.db.engine import transaction
from core.db.models import (
    IngestMode,
    Lesson,
    MigrationJob,
    MigrationState,
    Upload,
    UploadStatus,
    VideoProvider,
    VideoStatus,
)
from core.errors import ErrorKind, PermanentError
from core.migration.lessons import external_id
from lectern.sample_data import MuxEvent
from lectern.sample_media import LessonClip, clip_for, lesson_clips
from lectern.seed import read_history

if TYPE_CHECKING:
    from core.container import Lectern

HISTORY_EXPORT_DAYS = 100  # Mux Data keeps views about 100 days; every simulated day has its export file
READY_TIMEOUT_S = 600.0


class HistoryFailed(PermanentError):
    """The emulator did not bring the history's assets to `ready` (the message says which and why)."""

    kind = ErrorKind.UPSTREAM


@dataclass(frozen=True)
class Created:
    event: MuxEvent
    asset_id: str
    playback_id: str
    upload_id: str | None
    size_bytes: int


@contextmanager
def serve_directory(directory: Path) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 for `directory` while the block runs; yields its base URL."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, name="sample-media-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def pending(lectern: Lectern, events: Sequence[MuxEvent]) -> list[MuxEvent]:
    """The events whose lesson is not on Mux yet and still looks as the seed left it."""
    ids = [event.lesson_id for event in events]
    with lectern.engine.connect() as conn:
        rows = {
            row.id: row
            for row in conn.execute(
                select(Lesson.id, Lesson.mux_asset_id, Lesson.video_url, Lesson.video_status).where(Lesson.id.in_(ids))
            )
        }
    todo = []
    for event in events:
        row = rows.get(event.lesson_id)
        if row is None or row.mux_asset_id is not None:
            continue
        if event.kind == "migrated" and row.video_url != event.s3_key:
            continue  # the lesson changed since the seed (someone migrated or replaced it by hand)
        if event.kind == "uploaded" and row.video_status != VideoStatus.none:
            continue
        todo.append(event)
    return todo


def create_assets(
    lectern: Lectern, http: httpx.Client, events: Sequence[MuxEvent], clips: list[LessonClip], media_url: str
) -> list[Created]:
    """Each event's asset, created at its date in one request (oldest first, so Mux's newest-first lists
    stay in date order)."""
    settings = lectern.settings
    ordered = sorted(events, key=lambda e: e.at)
    chosen: list[LessonClip] = []
    bodies = []
    for event in ordered:
        clip = clip_for(clips, event.duration_s)
        if clip is None:
            raise HistoryFailed(f"lesson {event.lesson_id}: no sample video lasts {event.duration_s:.0f} s")
        chosen.append(clip)
        marker = external_id(event.lesson_id, event.s3_key or "") if event.kind == "migrated" else None
        bodies.append(
            {
                "created_at": event.at.timestamp(),
                "direct_upload": event.kind == "uploaded",
                "inputs": [{"url": f"{media_url}/{clip.path.name}"}],
                "playback_policies": [event.playback_policy],
                "passthrough": str(event.lesson_id),
                "video_quality": settings.mux_video_quality,
                "meta": {"title": event.title[:512], "external_id": marker or f"lesson-{event.lesson_id}"},
            }
        )
    response = http.post("/_emulator/assets", json=bodies)
    if response.status_code != 201:
        raise HistoryFailed(f"the emulator refused the history's assets: {response.text[:300]}")
    return [
        Created(event, asset["id"], asset["playback_ids"][0]["id"], asset.get("upload_id"), clip.path.stat().st_size)
        for event, clip, asset in zip(ordered, chosen, response.json()["data"], strict=True)
    ]


def wait_ready(http: httpx.Client, asset_ids: set[str], auth: tuple[str, str]) -> dict[str, dict[str, Any]]:
    """The assets once every one is ready (raises on an errored one or after READY_TIMEOUT_S)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        found: dict[str, dict[str, Any]] = {}
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            body = http.get("/video/v1/assets", params=params, auth=auth).raise_for_status().json()
            found.update({a["id"]: a for a in body["data"] if a["id"] in asset_ids})
            cursor = body.get("next_cursor")
            if not cursor:
                break
        errored = [a for a in found.values() if a["status"] == "errored"]
        if errored:
            raise HistoryFailed(f"asset {errored[0]['id']} errored: {errored[0].get('errors')}")
        if len(found) == len(asset_ids) and all(a["status"] == "ready" for a in found.values()):
            return found
        if time.monotonic() > deadline:
            waiting = len(asset_ids) - sum(1 for a in found.values() if a["status"] == "ready")
            raise HistoryFailed(f"{waiting} history assets still not ready after {READY_TIMEOUT_S:.0f} s")
        time.sleep(1.0)


def record(lectern: Lectern, created: Sequence[Created], assets: dict[str, dict[str, Any]], now: datetime) -> None:
    """The platform's records of each move, in one transaction: lesson on Mux, and its job or upload."""
    with transaction(lectern.session_factory) as session:
        for item in created:
            event, duration = item.event, float(assets[item.asset_id]["duration"])
            lesson = session.get(Lesson, event.lesson_id)
            if lesson is None:
                continue
            # Mux's processing of a lesson-length video took the better part of a minute.
            done = min(event.at + timedelta(seconds=35 + event.lesson_id % 40), now)
            lesson.video_provider = VideoProvider.mux.value
            lesson.mux_asset_id = item.asset_id
            lesson.mux_playback_id = item.playback_id
            lesson.video_duration_s = duration
            lesson.video_status = VideoStatus.ready.value
            lesson.video_error = None
            lesson.video_status_at = done
            if event.kind == "uploaded":
                lesson.mux_upload_id = item.upload_id
                session.add(
                    Upload(
                        mux_upload_id=item.upload_id,
                        lesson_id=event.lesson_id,
                        created_by=event.teacher_id,
                        status=UploadStatus.ready.value,
                        mux_asset_id=item.asset_id,
                        created_at=event.at - timedelta(minutes=3),
                        updated_at=done,
                        finished_at=done,
                    )
                )
                continue
            cleaned = min(event.at + timedelta(days=7), now - timedelta(hours=1)) if event.cleaned_up else None
            if cleaned is not None:
                lesson.video_url = None
            session.add(
                MigrationJob(
                    lesson_id=event.lesson_id,
                    s3_key=event.s3_key or "",
                    source_size_bytes=item.size_bytes,
                    source_duration_s=event.duration_s,
                    state=MigrationState.done.value,
                    attempts=1,
                    mux_asset_id=item.asset_id,
                    mux_playback_id=item.playback_id,
                    ingest_mode=IngestMode.url.value,
                    created_at=event.at - timedelta(minutes=2),
                    queued_at=event.at - timedelta(minutes=2),
                    started_at=event.at - timedelta(seconds=2),
                    updated_at=cleaned or done,
                    finished_at=done,
                    cleaned_up_at=cleaned,
                )
            )


def delete_cleaned_objects(lectern: Lectern, created: Sequence[Created]) -> int:
    """`lectern migrate cleanup` deleted the older waves' S3 objects; a fresh S3 may not have them anyway."""
    keys = [c.event.s3_key for c in created if c.event.cleaned_up and c.event.s3_key]
    if not keys or (lectern.settings.s3_endpoint_url is None and not lectern.settings.aws_access_key_id):
        return 0
    bucket = lectern.settings.s3_bucket
    for start in range(0, len(keys), 1000):
        batch = [{"Key": key} for key in keys[start : start + 1000]]
        lectern.s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
    return len(keys)


def apply_history(lectern: Lectern, var: Path, *, now: datetime | None = None) -> list[str]:
    """Bring the planned history into the emulator and the platform DB; one line per thing done."""
    now = now or datetime.now(UTC)
    settings = lectern.settings
    base = str(settings.mux_api_url).rstrip("/")
    auth = (settings.mux_token_id, settings.mux_token_secret.get_secret_value())
    lines: list[str] = []
    with httpx.Client(base_url=base, timeout=httpx.Timeout(60.0, connect=10.0)) as http:
        events = read_history(var / "sample-history.json")
        todo = pending(lectern, events)
        if todo:
            started = time.perf_counter()
            clips = lesson_clips(var / "sample-media", sorted({round(event.duration_s) for event in todo}))
            with serve_directory(var / "sample-media") as media_url:
                created = create_assets(lectern, http, todo, clips, media_url)
                assets = wait_ready(http, {c.asset_id for c in created}, auth)
            record(lectern, created, assets, now)
            deleted = delete_cleaned_objects(lectern, created)
            migrated = sum(1 for c in created if c.event.kind == "migrated")
            first = min(c.event.at for c in created)
            lines.append(
                f"{len(created)} lessons on Mux since {first:%Y-%m-%d} ({migrated} migrated in waves, "
                f"{len(created) - migrated} uploaded by teachers) in {time.perf_counter() - started:.1f} s; "
                f"{deleted} cleaned-up S3 objects removed"
            )
        else:
            lines.append(f"Mux history already in place ({len(events)} lessons planned)")
        http.put("/_emulator/config", json={"view_export_days": HISTORY_EXPORT_DAYS}).raise_for_status()
    return lines


def main(argv: Sequence[str]) -> None:
    from core.container import Lectern
    from lectern.commands._settings import settings_or_exit

    var = Path(argv[0]) if argv else Path("var")
    with Lectern.from_settings(settings_or_exit(), kind="cli") as lectern:
        print("\n".join(apply_history(lectern, var)))


if __name__ == "__main__":
    main(sys.argv[1:])

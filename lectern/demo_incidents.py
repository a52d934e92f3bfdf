"""Failures the demo stages so Admin > Operations has something to show, made the way production makes them.

Nothing here writes an alert, an upload row or a lesson status: each failure goes through the same path a
real one takes, and the sync's `alerts` job raises the alerts from what it then measures.
- **A failed upload**: a teacher's text file sent as a lesson's video (the API's upload URL, Mux's direct
  upload). Mux (the emulator) errors the asset and its webhook tells the API, which marks the upload and
  the lesson errored with Mux's message. Alert `upload_failure_rate`.
- **Playback failures**: students' views of one lesson failing about half the time, from an hour before
  now to two hours after, as Mux Data reports them (the emulator's simulator, appended to the history):
  error type, player error code and message on each failed view. Alerts `playback_failure` and
  `playback_failure_lesson`; they resolve on their own once the failing views leave the rules' hour.
- **An orphaned asset**: another lesson's video replaced by a new upload; its old Mux asset, which no
  lesson plays any more, keeps costing storage. Alert `mux_orphan_asset`.

Idempotent across demo runs: a failure still inside its alert's window is kept, not staged again (the
replaced video: once). `DEMO_ALERT_RULES` lets the demo's few uploads count and fires without the
production `for` delays, so the alerts are firing by the time the demo prints its banner.

Run by `lectern demo` as `python -m lectern.demo_incidents VAR_DIR` with the demo's environment; prints one
line per failure for the banner.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import Engine, select

from core.db.models import Course, Lesson, Upload, User, VideoStatus
from core.errors import ErrorKind, PermanentError
from lectern.sample_media import LessonClip, clip_for

if TYPE_CHECKING:
    from core.container import Lectern

DEMO_ALERT_RULES: dict[str, dict[str, Any]] = {
    # Fire on the first evaluation that sees the failing views (production waits 10 minutes).
    "playback_failure": {"for_s": 0},
    "playback_failure_lesson": {"for_s": 0},
    # The demo makes one or two uploads a day, never production's five.
    "upload_failure_rate": {"min_count": 1},
}

INCIDENT_BEFORE_S = 3600  # failing views started this long before now ...
INCIDENT_AFTER_S = 2 * 3600  # ... and keep coming until this long after (they appear in Mux Data as they end)
INCIDENT_VIEWS = 300  # about 100 an hour: over both view rules' minimum counts
INCIDENT_FAILURE_RATE = 0.25  # the simulator's knob: about half of the views fail across browsers and countries
STILL_FAILING = 10  # failed views of the lesson in the last hour that mean an earlier run's incident goes on
REPLACED_MARKER = "demo-replaced-video.json"
NOT_A_VIDEO = b"Lesson notes: slides, exercises and links for this week.\nThis is a text file, not a video.\n"
WAIT_S = 120.0


class StagingFailed(PermanentError):
    """A staged failure did not reach the platform (say, Mux's webhooks never arrived); the message says which."""

    kind = ErrorKind.UPSTREAM


@dataclass(frozen=True)
class LessonRow:
    id: int
    course_id: int
    position: int
    title: str
    video_status: str
    mux_asset_id: str | None
    teacher_id: int
    teacher_email: str

    @property
    def named(self) -> str:
        return f'lesson {self.id} "{self.title}" ({self.teacher_email})'


@dataclass(frozen=True)
class Targets:
    failing: LessonRow | None  # its views fail
    broken: LessonRow | None  # gets a text file as its video
    replaced: LessonRow | None  # gets a new video, orphaning its old asset


def pick_targets(rows: Sequence[LessonRow]) -> Targets:
    """The same lessons on every run: the first lesson on Mux fails to play; the last lesson without a video of
    that course gets the text file; the last lesson on Mux of another course (else of any) is replaced."""
    on_mux = [r for r in rows if r.video_status == VideoStatus.ready and r.mux_asset_id]
    failing = on_mux[0] if on_mux else None
    # An errored lesson names its errored asset: still no video, and still the same pick on the next run.
    no_video = [r for r in rows if r.video_status in (VideoStatus.none, VideoStatus.errored)]
    same_course = [r for r in no_video if failing is not None and r.course_id == failing.course_id]
    broken = next(reversed(same_course or no_video), None)
    others = [r for r in on_mux if r is not failing]
    elsewhere = [r for r in others if failing is not None and r.course_id != failing.course_id]
    replaced = next(reversed(elsewhere or others), None)
    return Targets(failing, broken, replaced)


def read_lessons(engine: Engine) -> list[LessonRow]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                Lesson.id,
                Lesson.course_id,
                Lesson.position,
                Lesson.title,
                Lesson.video_status,
                Lesson.mux_asset_id,
                Course.teacher_id,
                User.email,
            )
            .join(Course, Course.id == Lesson.course_id)
            .join(User, User.id == Course.teacher_id)
            .order_by(Lesson.course_id, Lesson.position, Lesson.id)
        ).all()
    return [LessonRow(*row) for row in rows]


def stage_incidents(
    lectern: Lectern,
    *,
    workdir: Path,
    clip: Path,
    now: datetime | None = None,
    clips: Sequence[LessonClip] = (),
) -> list[str]:
    """Stage each failure the platform does not show yet; one line per failure, staged now or kept.

    The replacement video is the one of `clips` as long as the lesson's current video (so its chapters still
    fit), else `clip`."""
    now = now or datetime.now(UTC)
    targets = pick_targets(read_lessons(lectern.engine))
    lines: list[str] = []
    with httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0)) as http:
        if targets.failing is not None:
            lines.append(failing_views(lectern, http, targets.failing))
        if targets.broken is not None:
            lines.append(failed_upload(lectern, http, targets.broken, workdir, now))
        if targets.replaced is not None:
            replacement = _same_length(lectern, targets.replaced, clips) or clip
            lines.append(replaced_video(lectern, http, targets.replaced, replacement, workdir))
    return lines


def _same_length(lectern: Lectern, lesson: LessonRow, clips: Sequence[LessonClip]) -> Path | None:
    with lectern.engine.connect() as conn:
        duration = conn.execute(select(Lesson.video_duration_s).where(Lesson.id == lesson.id)).scalar_one_or_none()
    found = clip_for(list(clips), duration)
    return found.path if found is not None else None


# --- playback failures --------------------------------------------------------------------------------


def failing_views(lectern: Lectern, http: httpx.Client, lesson: LessonRow) -> str:
    from core.privacy import pseudonym_secret
    from lectern.commands.simulate import read_catalogue, run_simulation

    settings = lectern.settings
    base = str(settings.mux_api_url).rstrip("/")
    said = f"Playback failures: about half of the views of {lesson.named} fail (player errors in Mux Data)"
    now = float(http.get(f"{base}/_emulator/clock").raise_for_status().json()["data"]["now"])
    if recent_failures(http, lectern, lesson.id, now) >= STILL_FAILING:
        return f"{said}; kept from an earlier run"
    catalogue = read_catalogue(lectern.engine, pseudonym_secret(settings))
    spec = catalogue.lessons[str(lesson.id)]
    run_simulation(
        base,
        {
            "days": (INCIDENT_BEFORE_S + INCIDENT_AFTER_S) / 86_400,
            "end": now + INCIDENT_AFTER_S,
            "views": INCIDENT_VIEWS,
            "seed": int(now),
            "replace": False,
            "lessons": {str(lesson.id): spec},
            "students": {spec["course"]: catalogue.students[spec["course"]]},
            "knobs": {"failure_rate": INCIDENT_FAILURE_RATE},
        },
    )
    return f"{said}, from an hour ago until two hours from now"


def recent_failures(http: httpx.Client, lectern: Lectern, lesson_id: int, now: float) -> int:
    """Failed views of the lesson that ended in the last hour, from Mux Data's list of video views."""
    settings = lectern.settings
    response = http.get(
        f"{str(settings.mux_api_url).rstrip('/')}/data/v1/video-views",
        params=[
            ("filters[]", f"video_id:{lesson_id}"),
            ("filters[]", "playback_failure:true"),
            ("timeframe[]", str(int(now) - 3600)),
            ("timeframe[]", str(int(now))),
            ("limit", "1"),
        ],
        auth=(settings.mux_token_id, settings.mux_token_secret.get_secret_value()),
    )
    return int(response.raise_for_status().json()["total_row_count"])


# --- uploads ------------------------------------------------------------------------------------------


def failed_upload(lectern: Lectern, http: httpx.Client, lesson: LessonRow, workdir: Path, now: datetime) -> str:
    from core.alerts.rules import UPLOAD_FAILURE_RATE, resolve_rules

    said = f"A failed upload: {lesson.named} got a text file as its video"
    window = timedelta(seconds=resolve_rules(lectern.settings.alert_rules)[UPLOAD_FAILURE_RATE].window_s)
    with lectern.engine.connect() as conn:
        kept = conn.execute(
            select(Upload.error)
            .where(Upload.lesson_id == lesson.id, Upload.status == "errored", Upload.finished_at > now - window)
            .order_by(Upload.finished_at.desc())
            .limit(1)
        ).first()
    if kept is not None:
        return f"{said}; Mux: {kept.error} (kept from an earlier run)"
    notes = workdir / f"lesson-{lesson.id}-notes.txt"
    notes.write_bytes(NOT_A_VIDEO)
    upload_id = upload(lectern, http, lesson, notes)
    status, error = wait_for_upload(lectern.engine, upload_id, ("errored", "ready"))
    return f"{said}; Mux: {error}" if status == "errored" else f"{said}, but Mux accepted it ({status})"


def replaced_video(lectern: Lectern, http: httpx.Client, lesson: LessonRow, clip: Path, workdir: Path) -> str:
    said = f"An orphaned asset: {lesson.named} got a new video; its old Mux asset {lesson.mux_asset_id}"
    # Which lesson was given which new video is kept next to the demo's data: the lesson's own upload rows
    # cannot tell, since lessons of the sample history were uploaded by their teachers in the first place.
    marker = workdir / REPLACED_MARKER
    if marker.exists():
        kept = json.loads(marker.read_text())
        if kept.get("lesson_id") == lesson.id and kept.get("asset_id") == lesson.mux_asset_id:
            return f"An orphaned asset: {lesson.named} got a new video earlier; its old Mux asset is kept (and billed)"
    upload_id = upload(lectern, http, lesson, clip)
    status, error = wait_for_upload(lectern.engine, upload_id, ("ready", "errored"))
    if status != "ready":
        return f"{said} stays: the new video did not become ready ({status}: {error})"
    with lectern.engine.connect() as conn:
        new_asset = conn.execute(select(Upload.mux_asset_id).where(Upload.mux_upload_id == upload_id)).scalar_one()
    marker.write_text(json.dumps({"lesson_id": lesson.id, "asset_id": new_asset}))
    return f"{said} is no longer played by any lesson and still billed"


def upload(lectern: Lectern, http: httpx.Client, lesson: LessonRow, path: Path) -> str:
    """Upload `path` as the lesson's teacher does: an upload URL from the API, then the file to Mux."""
    from core.auth import mint_token
    from core.mux.uploads import put_in_chunks

    settings = lectern.settings
    token = mint_token(settings.platform_jwt_secret.get_secret_value(), lesson.teacher_id, ttl_s=600)
    response = http.post(
        f"{str(settings.api_base_url).rstrip('/')}/api/videos/mux/upload-url",
        json={"lesson_id": lesson.id},
        headers={"Authorization": f"Bearer {token}"},
    )
    ticket = response.raise_for_status().json()
    with path.open("rb") as stream:
        put_in_chunks(
            ticket["url"],
            stream,
            path.stat().st_size,
            http=http,
            content_type="video/mp4",
            chunk_size=settings.mux_upload_chunk_bytes,
        )
    return str(ticket["upload_id"])


def wait_for_upload(
    engine: Engine, upload_id: str, statuses: Iterable[str], timeout: float = WAIT_S
) -> tuple[str, str | None]:
    """The upload's row once Mux's webhooks have brought it to one of `statuses` (status, error)."""
    wanted = set(statuses)
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as conn:
            row = conn.execute(select(Upload.status, Upload.error).where(Upload.mux_upload_id == upload_id)).first()
        if row is not None and row.status in wanted:
            return str(row.status), row.error
        if time.monotonic() > deadline:
            found = row.status if row is not None else "not recorded"
            raise StagingFailed(f"upload {upload_id} is still {found} after {timeout:.0f} s (are webhooks arriving?)")
        time.sleep(0.5)


def main(argv: Sequence[str]) -> None:
    from core.container import Lectern
    from lectern.commands._settings import settings_or_exit
    from lectern.sample_media import lesson_clips

    var = Path(argv[0]) if argv else Path("var")
    clips = lesson_clips(var / "sample-media")
    with Lectern.from_settings(settings_or_exit(), kind="cli") as lectern:
        lines = stage_incidents(lectern, workdir=var, clip=clips[len(clips) // 2].path, clips=clips)
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1:])

"""`lectern emulator simulate`: realistic viewing traffic in the Mux emulator, matched in the platform DB.

Reads the platform's ready Mux lessons and their courses' enrolments, asks the emulator to simulate
views of exactly those lessons by exactly those students (video_id = lesson id, viewer_user_id = the
student's pseudonymous key, as Lectern's player sets them; core/privacy.py), then writes `lesson_progress`
from the simulated views the way the platform's own progress tracking would have recorded them: close to
Mux Data, never identical (a few students' progress never saved, positions saved by a periodic heartbeat,
watch seconds counted by a different clock).

Mount with `emulator_app.command("simulate")(simulate)` (see lectern/commands/emulator.py).
"""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine, case, func, select
from sqlalchemy.dialects import postgresql, sqlite

from core.container import Lectern
from core.db.models import Enrollment, Lesson, LessonProgress, VideoStatus, table_of
from core.errors import ErrorKind, PermanentError
from core.privacy import pseudonym_secret, student_key
from lectern.commands._settings import settings_or_exit

console = Console()

PROGRESS_PAGE = 5_000
WRITE_BATCH = 1_000
COMPLETION_SHARE = 0.9  # a lesson counts as completed once 90 % of it has been reached
LOST_SHARE = 0.03  # progress the platform never saved (closed tab, offline)
HEARTBEAT_S = 10.0  # the player saves its position every 10 s, so the saved furthest position lags


@dataclass(frozen=True)
class Catalogue:
    lessons: dict[str, dict[str, Any]]  # lesson id -> {"asset_id", "course", "position", "title"}
    students: dict[str, list[str]]  # course id -> enrolled students' keys (the player's viewer_user_id)
    durations: dict[int, float]  # lesson id -> duration (s), for completion
    users: dict[str, int]  # student key -> platform user id (to write their progress back)
    enrolled: dict[str, dict[str, float]]  # course id -> student key -> enrolled at (epoch seconds)


def read_catalogue(engine: Engine, secret: bytes) -> Catalogue:
    """Ready Mux lessons and the enrolments of their courses."""
    with engine.connect() as conn:
        lessons = conn.execute(
            select(
                Lesson.id,
                Lesson.course_id,
                Lesson.position,
                Lesson.title,
                Lesson.mux_asset_id,
                Lesson.video_duration_s,
                Lesson.duration_s,
            )
            .where(Lesson.mux_asset_id.is_not(None), Lesson.video_status == VideoStatus.ready.value)
            .order_by(Lesson.course_id, Lesson.position)
        ).all()
        courses = {row.course_id for row in lessons}
        enrolments = conn.execute(
            select(Enrollment.course_id, Enrollment.user_id, Enrollment.enrolled_at)
            .where(Enrollment.course_id.in_(courses))
            .order_by(Enrollment.course_id, Enrollment.user_id)
        ).all()
    students: dict[str, list[str]] = {str(course): [] for course in sorted(courses)}
    enrolled: dict[str, dict[str, float]] = {str(course): {} for course in sorted(courses)}
    users: dict[str, int] = {}
    for row in enrolments:
        key = str(student_key(secret, row.user_id))
        users[key] = row.user_id
        students[str(row.course_id)].append(key)
        enrolled[str(row.course_id)][key] = row.enrolled_at.timestamp()
    return Catalogue(
        lessons={
            str(row.id): {
                "asset_id": row.mux_asset_id,
                "course": str(row.course_id),
                "position": row.position,
                "title": row.title,
            }
            for row in lessons
        },
        students=students,
        durations={row.id: float(row.video_duration_s or row.duration_s or 0.0) for row in lessons},
        users=users,
        enrolled=enrolled,
    )


def run_simulation(
    base_url: str, body: dict[str, Any], on_progress: Callable[[int, int], None] | None = None
) -> dict[str, Any]:
    """POST /_emulator/simulate, polling its status for progress while it runs."""
    done = threading.Event()

    def poll() -> None:
        with httpx.Client(base_url=base_url, timeout=10) as client:
            while not done.wait(0.25):
                try:
                    status = client.get("/_emulator/simulate").json()["data"]
                except (httpx.HTTPError, KeyError, ValueError):
                    continue
                if on_progress is not None and status.get("state") == "running":
                    on_progress(int(status["generated"]), int(status["total"]))

    poller = threading.Thread(target=poll, name="simulate-progress", daemon=True)
    poller.start()
    try:
        response = httpx.post(f"{base_url}/_emulator/simulate", json=body, timeout=3_600)
    finally:
        done.set()
        poller.join(timeout=2)
    if response.status_code != 200:
        try:
            messages = "; ".join(response.json()["error"]["messages"])
        except (ValueError, KeyError, TypeError):
            messages = response.text
        raise SimulationFailed(f"the emulator refused the simulation ({response.status_code}): {messages}")
    return dict(response.json()["data"])


class SimulationFailed(PermanentError):
    """The emulator answered the simulation request with an error."""

    kind = ErrorKind.UPSTREAM


def iter_progress(base_url: str, page_size: int = PROGRESS_PAGE) -> Iterator[dict[str, Any]]:
    """Every (viewer, video) aggregate from GET /_emulator/views/progress."""
    with httpx.Client(base_url=base_url, timeout=600) as client:
        page = 1
        while True:
            response = client.get("/_emulator/views/progress", params={"page": page, "limit": page_size})
            response.raise_for_status()
            body = response.json()
            yield from body["data"]
            if len(body["data"]) < page_size:
                return
            page += 1


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def progress_row(
    row: dict[str, Any], durations: dict[int, float], users: dict[str, int], rng: random.Random
) -> dict[str, Any] | None:
    """What the platform would have saved for one student and lesson, or None if it saved nothing."""
    user_id = users.get(str(row["viewer_user_id"]))
    try:
        lesson_id = int(row["video_id"])
    except ValueError:
        return None  # a video that is not a lesson
    if user_id is None:
        return None  # an invented viewer
    if lesson_id not in durations or rng.random() < LOST_SHARE:
        return None
    duration = durations[lesson_id] or float(row.get("video_duration_s") or 0.0)
    reached = float(row["max_position_s"])
    furthest = max(0.0, reached - rng.uniform(0.0, HEARTBEAT_S))
    if duration:
        furthest = min(furthest, duration)
    first, last = _parse_time(row["first_view_at"]), _parse_time(row["last_view_at"])
    completed = duration > 0 and reached >= COMPLETION_SHARE * duration
    completed_at = None
    if completed:
        completed_at = max(first, last - timedelta(seconds=rng.uniform(0, 120)))
    return {
        "user_id": user_id,
        "lesson_id": lesson_id,
        # The platform counts content seconds from its own heartbeats; playback speed and dropped
        # beats make that differ from Mux's playing time by a few percent either way.
        "seconds_watched": round(float(row["playing_time_s"]) * rng.uniform(0.9, 1.08), 1),
        "furthest_position_s": round(furthest, 1),
        "completed_at": completed_at,
        "updated_at": last + timedelta(seconds=rng.uniform(0, 60)),
    }


def write_progress(engine: Engine, rows: list[dict[str, Any]]) -> int:
    """Upsert by (user_id, lesson_id): furthest = max, seconds add up, the first completion stays."""
    if not rows:
        return 0
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    table = table_of(LessonProgress)
    written = 0
    with engine.begin() as conn:
        for start in range(0, len(rows), WRITE_BATCH):
            batch = rows[start : start + WRITE_BATCH]
            stmt = insert(table).values(batch)
            new = stmt.excluded
            stmt = stmt.on_conflict_do_update(
                index_elements=[table.c.user_id, table.c.lesson_id],
                set_={
                    "furthest_position_s": case(
                        (new.furthest_position_s > table.c.furthest_position_s, new.furthest_position_s),
                        else_=table.c.furthest_position_s,
                    ),
                    "seconds_watched": table.c.seconds_watched + new.seconds_watched,
                    "completed_at": func.coalesce(table.c.completed_at, new.completed_at),
                    "updated_at": case((new.updated_at > table.c.updated_at, new.updated_at), else_=table.c.updated_at),
                },
            )
            conn.execute(stmt)
            written += len(batch)
    return written


def _progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description:>12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not sys.stdout.isatty(),
    )


def simulate(
    days: int = typer.Option(90, min=1, max=3650, help="Days of history before now."),
    views: int = typer.Option(200_000, min=0, max=100_000_000, help="Number of views to simulate."),
    seed: int = typer.Option(7, help="Random seed: the same seed gives the same views."),
    append: bool = typer.Option(False, "--append", help="Add to the emulator's views instead of replacing them."),
    write_lesson_progress: bool = typer.Option(
        True, "--progress/--no-progress", help="Write matching lesson_progress rows to the platform DB."
    ),
    respect_dates: bool = typer.Option(
        False,
        "--respect-dates",
        help="Views only after each student enrolled and each lesson's Mux asset was created (a history).",
    ),
) -> None:
    """Simulate Mux Data views of the platform's ready lessons by their enrolled students."""
    from core.errors import MuxUnavailable, NotFound

    settings = settings_or_exit()
    secret = pseudonym_secret(settings)
    base_url = str(settings.mux_api_url).rstrip("/")
    with Lectern.from_settings(settings) as lectern:
        engine = lectern.engine
        catalogue = read_catalogue(engine, secret)
        if not catalogue.lessons:
            raise NotFound("no lessons with a ready Mux video in the platform DB (upload some or run the demo)")
        body = {
            "days": days,
            "views": views,
            "seed": seed,
            "replace": not append,
            "lessons": catalogue.lessons,
            "students": catalogue.enrolled if respect_dates else catalogue.students,
            "after_created": respect_dates,
        }
        if respect_dates:
            # Enrolments and lessons arriving over the window already make the audience grow and later
            # lessons' views come later: the simulator's own knobs for those would count them twice.
            body["knobs"] = {"growth": 0.0, "later_lessons_later": 0.0}
        with _progress_bar() as bar:
            task = bar.add_task("simulating", total=views)
            try:
                summary = run_simulation(base_url, body, lambda done, total: bar.update(task, completed=done))
            except httpx.HTTPError as exc:
                raise MuxUnavailable(f"cannot reach the Mux emulator at {base_url} (MUX_API_URL): {exc}") from exc
            bar.update(task, completed=views)
            written = 0
            if write_lesson_progress:
                rng = random.Random(seed)
                rows = []
                for row in iter_progress(base_url):
                    saved = progress_row(row, catalogue.durations, catalogue.users, rng)
                    if saved is not None:
                        rows.append(saved)
                written = write_progress(engine, rows)
    span = summary["time_range"]
    console.print(
        f"{summary['views']:,} views of {len(summary['assets'])} lessons by {summary['viewers']:,} students "
        f"over {days} days in {summary['seconds']:.1f} s; {written:,} lesson_progress rows written"
    )
    if span.get("first_view_end"):
        first = datetime.fromtimestamp(span["first_view_end"], UTC).date()
        last = datetime.fromtimestamp(span["last_view_end"], UTC).date()
        console.print(f"views end between {first} and {last}")
    for skipped in summary.get("skipped", []):
        console.print(f"skipped lesson {skipped['lesson_id']}: {skipped['reason']} ({skipped['asset_id']})")

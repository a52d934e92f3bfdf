"""Write the sample platform into the platform database in bulk (COPY on PostgreSQL, batched executemany
on SQLite), give legacy lessons their real video files in S3, and keep the Mux history for later."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, func, select, text
from sqlalchemy.schema import ColumnDefault

from core.db.models import Base, Course, Enrollment, Lesson, LessonProgress, User, table_of
from core.errors import Conflict
from lectern.sample_data import MuxEvent, SamplePlatform, iter_progress
from lectern.sample_media import LessonClip, clip_for

BATCH = 5000
SEEDED_TABLES: list[type[Base]] = [User, Course, Lesson, Enrollment, LessonProgress]
Progress = Callable[[str, int], None]


class DatabaseNotEmpty(Conflict):
    """The platform database already has users; seeding again needs an explicit reset."""


def _batches(rows: Iterable[dict[str, Any]], size: int = BATCH) -> Iterator[list[dict[str, Any]]]:
    it = iter(rows)
    while batch := list(islice(it, size)):
        yield batch


def _copy_rows(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL COPY: an order of magnitude faster than INSERT for bulk loads."""
    columns = [c.name for c in table.columns]
    json_cols = {c.name for c in table.columns if c.type.__class__.__name__ == "JSON"}
    raw = conn.connection.driver_connection
    assert raw is not None  # an open Connection holds its DBAPI connection
    with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(
                [json.dumps(row.get(c)) if c in json_cols and row.get(c) is not None else row.get(c) for c in columns]
            )


def _write(conn: Connection, table: Table, rows: Iterable[dict[str, Any]], progress: Progress | None) -> int:
    total = 0
    for batch in _batches(rows):
        if conn.dialect.name == "postgresql":
            _copy_rows(conn, table, batch)
        else:
            conn.execute(table.insert(), batch)
        total += len(batch)
        if progress:
            progress(table.name, len(batch))
    return total


def _complete(rows: list[dict[str, Any]], table: Table) -> list[dict[str, Any]]:
    """Fill Python-side defaults so every row carries every column (COPY needs them all)."""
    defaults = {
        c.name: c.default.arg for c in table.columns if isinstance(c.default, ColumnDefault) and c.default.is_scalar
    }
    return [{**defaults, **row} for row in rows]


def reset(engine: Engine) -> None:
    with engine.begin() as conn:
        for model in reversed(Base.metadata.sorted_tables):
            conn.execute(model.delete())


def write_platform(engine: Engine, platform: SamplePlatform, progress: Progress | None = None) -> dict[str, int]:
    """Insert everything in one transaction; refuse to touch a database that already has users."""
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        if conn.execute(select(func.count()).select_from(User)).scalar_one():
            raise DatabaseNotEmpty("the platform database already has users; use `lectern seed --reset`")
        for model, rows in [
            (User, platform.users),
            (Course, platform.courses),
            (Lesson, platform.lessons),
            (Enrollment, platform.enrollments),
        ]:
            table = table_of(model)
            counts[table.name] = _write(conn, table, _complete(rows, table), progress)
        progress_table = table_of(LessonProgress)
        counts[progress_table.name] = _write(conn, progress_table, iter_progress(platform), progress)
        if conn.dialect.name == "postgresql":
            # Ids were assigned by the generator: move each sequence past them.
            for model in SEEDED_TABLES:
                name = model.__tablename__
                conn.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), COALESCE(MAX(id), 1)) FROM {name}")
                )
    return counts


def legacy_videos(engine: Engine) -> list[tuple[str, float | None]]:
    """(S3 key, listed duration) of every lesson that names a legacy S3 video."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(Lesson.video_url, Lesson.duration_s).where(Lesson.video_url.is_not(None)).order_by(Lesson.id)
        )
        return [(row.video_url, row.duration_s) for row in rows if row.video_url is not None]


def upload_missing_videos(
    s3_client: Any,
    bucket: str,
    videos: list[tuple[str, float | None]],
    clips: list[LessonClip],
    progress: Progress | None = None,
) -> int:
    """Put at every legacy lesson key that has none the sample video of the lesson's listed duration.

    A lesson whose duration matches no sample video (a database seeded by an older version) gets the
    nearest one. Idempotent: a demo restart (moto keeps nothing on disk) refills the bucket, a rerun adds
    nothing.
    """
    existing_buckets = {b["Name"] for b in s3_client.list_buckets().get("Buckets", [])}
    if bucket not in existing_buckets:
        s3_client.create_bucket(Bucket=bucket)
    present: set[str] = set()
    for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        present.update(obj["Key"] for obj in page.get("Contents", []))
    added = 0
    for key, duration in videos:
        if key in present:
            continue
        clip = clip_for(clips, duration) or min(clips, key=lambda c: abs(c.seconds - (duration or 0.0)))
        with clip.path.open("rb") as fh:
            s3_client.put_object(Bucket=bucket, Key=key, Body=fh, ContentType="video/mp4")
        added += 1
        if progress:
            progress("s3 videos", 1)
    return added


def write_history(path: Path, platform: SamplePlatform) -> None:
    """The sample platform's Mux history (lessons that moved to Mux before today), for `lectern.sample_history`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    events = [event.as_json() for event in platform.mux_history]
    partial = path.with_name(path.name + ".part")
    partial.write_text(json.dumps({"seed": platform.config.seed, "events": events}, indent=1))
    partial.replace(path)


def read_history(path: Path) -> list[MuxEvent]:
    if not path.exists():
        return []
    return [MuxEvent.from_json(raw) for raw in json.loads(path.read_text())["events"]]

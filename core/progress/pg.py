"""The progress store's PostgreSQL path: a whole batch in two round trips.

A batch's cost is round trips and per-statement overhead, not rows: a statement through SQLAlchemy's
execution costs a few hundred microseconds of CPU here (core/db/fast_read.py), and each round trip waits
for the server. So on PostgreSQL the store talks to psycopg directly, with fixed statements that take their
rows as one JSON parameter (`jsonb_to_recordset`, so each is prepared once and runs for any number of rows),
in two pipelines:

1. the lock and the read: `pg_advisory_xact_lock(user, lesson)` for each (student, lesson) of the batch, in
   key order (two batches never wait on each other in a cycle), then one read of everything the planner
   needs: the lesson with the facts of `core.auth`'s access rules, and the `lesson_watch`, `lesson_progress`
   and `lesson_views` rows. The read is a statement of its own, so its snapshot is taken once the locks are
   held and no other writer can change those rows under it;
2. every write and the COMMIT.

Advisory locks rather than row locks: the rows may not exist yet, and an advisory lock needs no row. They
are transaction-scoped (released at commit or rollback) and use the two-int4 key space, which no other part
of Lectern uses.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.auth import LessonAccess, Principal, not_found
from core.db.models import Lesson
from core.db.records import LessonRecord
from core.errors import LecternError, Unauthenticated
from core.progress.plan import LessonFacts, ProgressState, SessionState, WatchState, from_bytes

Pair = tuple[int, int]
Triple = tuple[int, int, str]

_LESSON_COLUMNS = tuple(c.name for c in Lesson.__table__.c)
_NL = len(_LESSON_COLUMNS)

LOCK = "SELECT pg_advisory_xact_lock(v.u, v.l) FROM jsonb_to_recordset(%s::jsonb) AS v(u int, l int)"

# Every join is LATERAL with a LIMIT (which keeps the planner from flattening it into a plain join), so each
# row of the batch finds its rows through their indexes: with plain joins the planner, expecting 100 rows
# from jsonb_to_recordset, hashed whole tables (users, enrollments, lesson_progress: milliseconds each at
# 20,000 students).
READ = f"""
SELECT v.u, v.l, v.s,
       {", ".join(f"l.{c}" for c in _LESSON_COLUMNS)},
       l.teacher_id, l.enrolled, usr.role,
       w.user_id, w.covered, w.covered_s, w.resume_position_s, w.resume_started_at, w.resume_session_id,
       w.resume_seq, w.updated_at,
       p.id, p.seconds_watched, p.furthest_position_s, p.completed_at, p.updated_at,
       lv.id, lv.provider, lv.started_at, lv.last_report_at, lv.last_seq, lv.position_s, lv.furthest_position_s,
       lv.watched, lv.seconds_watched, lv.duration_s, lv.ended_at
FROM jsonb_to_recordset(%s::jsonb) AS v(u int, l int, s text)
LEFT JOIN LATERAL (
    SELECT {", ".join(f"ls.{c}" for c in _LESSON_COLUMNS)}, c.teacher_id,
           EXISTS (SELECT 1 FROM enrollments e WHERE e.user_id = v.u AND e.course_id = ls.course_id) AS enrolled
    FROM lessons ls JOIN courses c ON c.id = ls.course_id WHERE ls.id = v.l LIMIT 1
) l ON true
LEFT JOIN LATERAL (SELECT role FROM users WHERE id = v.u LIMIT 1) usr ON true
LEFT JOIN LATERAL (SELECT * FROM lesson_watch WHERE user_id = v.u AND lesson_id = v.l LIMIT 1) w ON true
LEFT JOIN LATERAL (SELECT * FROM lesson_progress WHERE user_id = v.u AND lesson_id = v.l LIMIT 1) p ON true
LEFT JOIN LATERAL (
    SELECT * FROM lesson_views WHERE user_id = v.u AND lesson_id = v.l AND session_id = v.s LIMIT 1
) lv ON true
"""

# Each insert takes its rows as one JSON array of objects (`jsonb_to_recordset`): dumping a JSON string is C
# code, where psycopg builds array parameters in Python (it cost more than the rest of the batch). Bitmaps
# travel as hex, timestamps as ISO 8601.
INSERT_SESSIONS = """
INSERT INTO lesson_views (user_id, lesson_id, session_id, provider, started_at, last_report_at, last_seq, position_s,
                          furthest_position_s, watched, seconds_watched, duration_s, ended_at)
SELECT user_id, lesson_id, session_id, provider, started_at, last_report_at, last_seq, position_s,
       furthest_position_s, decode(watched, 'hex'), seconds_watched, duration_s, ended_at
FROM jsonb_to_recordset(%s::jsonb) AS n(user_id int, lesson_id int, session_id text, provider text,
     started_at timestamptz, last_report_at timestamptz, last_seq int, position_s float8,
     furthest_position_s float8, watched text, seconds_watched float8, duration_s float8, ended_at timestamptz)
"""

# Updates go row by row (executemany, in the same pipeline): an UPDATE ... FROM jsonb_to_recordset would be
# planned as a hash join over the whole table for the same reason as READ's joins.
UPDATE_SESSIONS = """
UPDATE lesson_views
SET last_report_at = %(last_report_at)s, last_seq = %(last_seq)s, position_s = %(position_s)s,
    furthest_position_s = %(furthest_position_s)s, watched = %(watched)s, seconds_watched = %(seconds_watched)s,
    duration_s = %(duration_s)s, ended_at = %(ended_at)s
WHERE id = %(id)s
"""

UPSERT_WATCH = """
INSERT INTO lesson_watch (user_id, lesson_id, covered, covered_s, resume_position_s, resume_started_at,
                          resume_session_id, resume_seq, updated_at)
SELECT user_id, lesson_id, decode(covered, 'hex'), covered_s, resume_position_s, resume_started_at,
       resume_session_id, resume_seq, updated_at
FROM jsonb_to_recordset(%s::jsonb) AS n(user_id int, lesson_id int, covered text, covered_s float8,
     resume_position_s float8, resume_started_at timestamptz, resume_session_id text, resume_seq int,
     updated_at timestamptz)
ON CONFLICT (user_id, lesson_id) DO UPDATE
SET covered = excluded.covered, covered_s = excluded.covered_s, resume_position_s = excluded.resume_position_s,
    resume_started_at = excluded.resume_started_at, resume_session_id = excluded.resume_session_id,
    resume_seq = excluded.resume_seq, updated_at = excluded.updated_at
"""

# Merges, not values: the sample data's simulator writes lesson_progress too (see store.py).
UPDATE_PROGRESS = """
UPDATE lesson_progress
SET seconds_watched = seconds_watched + %(gained)s,
    furthest_position_s = GREATEST(furthest_position_s, %(furthest)s),
    completed_at = COALESCE(completed_at, %(completed)s),
    updated_at = GREATEST(updated_at, %(at)s)
WHERE id = %(id)s
"""

INSERT_PROGRESS = """
INSERT INTO lesson_progress (user_id, lesson_id, seconds_watched, furthest_position_s, completed_at, updated_at)
SELECT user_id, lesson_id, seconds_watched, furthest_position_s, completed_at, updated_at
FROM jsonb_to_recordset(%s::jsonb) AS n(user_id int, lesson_id int, seconds_watched float8,
     furthest_position_s float8, completed_at timestamptz, updated_at timestamptz)
ON CONFLICT (user_id, lesson_id) DO UPDATE
SET seconds_watched = lesson_progress.seconds_watched + excluded.seconds_watched,
    furthest_position_s = GREATEST(lesson_progress.furthest_position_s, excluded.furthest_position_s),
    completed_at = COALESCE(lesson_progress.completed_at, excluded.completed_at),
    updated_at = GREATEST(lesson_progress.updated_at, excluded.updated_at)
"""


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


@dataclass
class Writes:
    """A batch's rows to write, as dicts by column (the SQLite path binds them by name)."""

    new_sessions: list[dict[str, Any]] = field(default_factory=list)
    session_updates: list[dict[str, Any]] = field(default_factory=list)
    watches: list[dict[str, Any]] = field(default_factory=list)
    progress_updates: list[dict[str, Any]] = field(default_factory=list)
    new_progress: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Loaded:
    """What one batch's read found, keyed by pair and by (pair, session)."""

    facts: dict[Pair, LessonFacts | LecternError] = field(default_factory=dict)
    watch: dict[Pair, WatchState] = field(default_factory=dict)
    progress: dict[Pair, ProgressState] = field(default_factory=dict)
    sessions: dict[Triple, SessionState] = field(default_factory=dict)


def lesson_facts(lesson: LessonRecord) -> LessonFacts:
    from core.lessons import lesson_status  # the one definition of a lesson's duration and provider

    status = lesson_status(lesson)
    return LessonFacts(duration_s=status.duration_s, provider=status.provider)


def access_of(row: Sequence[Any], user_id: int, lesson_id: int) -> LessonAccess:
    """`core.auth`'s LessonAccess from the read's columns, with its errors (401 before 404)."""
    teacher_id, enrolled, role = row[3 + _NL : 6 + _NL]
    if role is None:
        raise Unauthenticated("token names an unknown user")
    if row[3] is None:
        raise not_found(lesson_id)
    lesson = LessonRecord(*row[3 : 3 + _NL])
    return LessonAccess(
        lesson=lesson, teacher_id=teacher_id, enrolled=bool(enrolled), principal=Principal(user_id, role)
    )


def parse(rows: Sequence[Sequence[Any]], check: Any) -> Loaded:
    """The read's rows as planner states; `check(access)` raises what the access rules refuse."""
    out = Loaded()
    for row in rows:
        user_id, lesson_id, session_id = row[0], row[1], row[2]
        pair = (user_id, lesson_id)
        if pair not in out.facts:
            try:
                access = access_of(row, user_id, lesson_id)
                check(access)
                assert isinstance(access.lesson, LessonRecord)
                out.facts[pair] = lesson_facts(access.lesson)
            except LecternError as exc:
                out.facts[pair] = exc
                continue
            w = row[6 + _NL : 14 + _NL]
            if w[0] is not None:
                out.watch[pair] = WatchState(
                    covered=from_bytes(w[1]),
                    covered_s=w[2],
                    resume_position_s=w[3],
                    resume_started_at=_utc(w[4]),
                    resume_session_id=w[5],
                    resume_seq=w[6],
                    updated_at=w[7],
                )
            p = row[14 + _NL : 19 + _NL]
            if p[0] is not None:
                out.progress[pair] = ProgressState(p[0], p[1], p[2], _utc(p[3]), _utc(p[4]))
        if isinstance(out.facts[pair], LecternError):
            continue
        v = row[19 + _NL :]
        if v[0] is not None:
            out.sessions[(user_id, lesson_id, session_id)] = SessionState(
                id=v[0],
                session_id=session_id,
                provider=v[1],
                started_at=_utc(v[2]),  # type: ignore[arg-type]
                last_report_at=_utc(v[3]),  # type: ignore[arg-type]
                last_seq=v[4],
                position_s=v[5],
                furthest_position_s=v[6],
                watched=from_bytes(v[7]),
                seconds_watched=v[8],
                duration_s=v[9],
                ended_at=_utc(v[10]),
            )
    return out


def _json(value: object) -> str:
    return json.dumps(value, default=_encode, separators=(",", ":"))


def _encode(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"{type(value).__name__} is not a progress column value")


def load(raw: Any, pairs: list[Pair], triples: list[Triple], check: Any) -> Loaded:
    """Lock the pairs, then read (one pipeline: one round trip)."""
    with raw.pipeline():
        raw.cursor().execute(LOCK, (_json([{"u": u, "l": lesson} for u, lesson in pairs]),))
        cur = raw.cursor()
        cur.execute(READ, (_json([{"u": u, "l": lesson, "s": s} for u, lesson, s in triples]),))
    return parse(cur.fetchall(), check)


def save(raw: Any, writes: Writes) -> None:
    """Every write of the batch, then COMMIT (one pipeline: one round trip)."""
    with raw.pipeline():
        cur = raw.cursor()
        if writes.new_sessions:
            cur.execute(INSERT_SESSIONS, (_json(writes.new_sessions),))
        if writes.session_updates:
            cur.executemany(UPDATE_SESSIONS, writes.session_updates)
        if writes.watches:
            cur.execute(UPSERT_WATCH, (_json(writes.watches),))
        if writes.progress_updates:
            cur.executemany(UPDATE_PROGRESS, writes.progress_updates)
        if writes.new_progress:
            cur.execute(INSERT_PROGRESS, (_json(writes.new_progress),))
        raw.commit()

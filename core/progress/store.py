"""Progress reports into the platform DB, a batch per transaction.

`ProgressStore.write(reports)` runs one transaction for a whole batch (core/progress/batch.py gathers them):

1. access, once per (student, lesson) of the batch, with the playback endpoint's rules (`core.auth`):
   unknown user 401, a lesson one may not view 404, one viewed without being enrolled (a teacher, an admin)
   403; the lesson's duration and provider as Lectern knows them now;
2. each report checked against that lesson (core/progress/plan.py `checked`): 422 when it cannot be true;
3. the rows of the batch's students and lessons read under a lock per (student, lesson): every write of a
   student's progress for a lesson happens under it, so two API workers never interleave writes of the same
   student and lesson. PostgreSQL: transaction-scoped advisory locks taken in key order (core/progress/pg.py,
   which does the whole batch in two round trips); SQLite: the database's one write lock, taken when the
   transaction begins (`immediate_transactions`);
4. every report folded in (`plan.apply`) and only the rows that changed written: a repeated report writes
   nothing.

Every report's answer (its result or its error) is returned in order; nothing is answered before the commit.
`lesson_progress` is also written by the sample data's simulator, so its updates are merges in SQL (seconds
add up, furthest is the max, the first completion stays) rather than values read earlier.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy import Engine, Float, bindparam, case, event, func, select, tuple_, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import BindParameter

from core.auth import LessonAccess, read_lesson_access, require_view
from core.db.models import LessonProgress, LessonView, LessonWatch, UTCDateTime, table_of
from core.errors import Forbidden, LecternError, TransientError
from core.lessons import lesson_status
from core.logging import get_logger
from core.progress import pg
from core.progress.plan import (
    Applied,
    LessonFacts,
    ProgressState,
    Report,
    ReportInvalid,
    SessionState,
    WatchState,
    apply,
    checked,
    empty_watch,
    from_bytes,
    new_session,
    to_bytes,
)

log = get_logger(__name__)

VIEWS = table_of(LessonView)
WATCH = table_of(LessonWatch)
PROGRESS = table_of(LessonProgress)
Pair = tuple[int, int]  # (user_id, lesson_id)
# SQLSTATEs worth running the whole batch again for: deadlock, serialization failure.
RETRY_SQLSTATES = frozenset({"40P01", "40001"})
ATTEMPTS = 3


class ProgressUnavailable(TransientError):
    """The platform DB failed the batch (down, or still deadlocked after retries): the player sends again."""

    public_message = "progress could not be saved right now; try again shortly"


class NotEnrolled(Forbidden):
    """A user who may view a lesson without being enrolled (its teacher, an admin) has no progress to record."""


@dataclass(frozen=True, slots=True)
class ProgressView:
    """A student's progress through a lesson, as the player and the course page show it."""

    lesson_id: int
    resume_position_s: float
    furthest_position_s: float
    seconds_watched: float
    covered_s: float
    completed_at: datetime | None
    updated_at: datetime | None


def immediate_transactions(engine: Engine) -> None:
    """SQLite: every transaction of this engine takes the write lock when it begins (BEGIN IMMEDIATE).

    A deferred transaction that reads first and writes later fails at once ("database is locked", no busy
    wait) when another process wrote in between; taking the lock first makes it wait its turn instead.
    """

    @event.listens_for(engine, "connect")
    def _driver_autocommit(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy's BEGIN below, not the driver's deferred one

    @event.listens_for(engine, "begin")
    def _begin_immediate(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _retryable(exc: DBAPIError | psycopg.Error) -> bool:
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        orig: Any = exc.orig
    else:
        orig = exc
        if isinstance(exc, psycopg.OperationalError):
            return True  # the connection broke: a new one from the pool
    return getattr(orig, "sqlstate", None) in RETRY_SQLSTATES or "database is locked" in str(orig)


def _describe(exc: DBAPIError | psycopg.Error) -> str:
    return str(exc.orig if isinstance(exc, DBAPIError) else exc)[:300]


def _rename(row: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    out = dict(row)
    out[new] = out.pop(old)
    return out


def _writes(states: dict[Pair, _Pair]) -> pg.Writes:
    """The rows `apply` marked dirty, grouped by statement."""
    out = pg.Writes()
    for (user_id, lesson_id), state in states.items():
        for session in state.sessions.values():
            if not session.dirty:
                continue
            values = {
                "last_report_at": session.last_report_at,
                "last_seq": session.last_seq,
                "position_s": session.position_s,
                "furthest_position_s": session.furthest_position_s,
                "watched": to_bytes(session.watched),
                "seconds_watched": session.seconds_watched,
                "duration_s": session.duration_s,
                "ended_at": session.ended_at,
            }
            if session.id is None:
                out.new_sessions.append(
                    values
                    | {
                        "user_id": user_id,
                        "lesson_id": lesson_id,
                        "session_id": session.session_id,
                        "provider": session.provider,
                        "started_at": session.started_at,
                    }
                )
            else:
                out.session_updates.append(values | {"id": session.id})
        w = state.watch
        if w.dirty:
            out.watches.append(
                {
                    "user_id": user_id,
                    "lesson_id": lesson_id,
                    "covered": to_bytes(w.covered),
                    "covered_s": w.covered_s,
                    "resume_position_s": w.resume_position_s,
                    "resume_started_at": w.resume_started_at,
                    "resume_session_id": w.resume_session_id,
                    "resume_seq": w.resume_seq,
                    "updated_at": w.updated_at,
                }
            )
        p = state.progress
        if not p.dirty:
            continue
        if p.id is None:
            out.new_progress.append(
                {
                    "user_id": user_id,
                    "lesson_id": lesson_id,
                    "seconds_watched": p.gained_s,
                    "furthest_position_s": p.furthest_position_s,
                    "completed_at": p.completed_at,
                    "updated_at": p.updated_at,
                }
            )
        else:
            out.progress_updates.append(
                {"id": p.id, "gained": p.gained_s, "furthest": p.furthest_position_s, "completed": p.completed_at,
                 "at": p.updated_at}
            )  # fmt: skip
    return out


SESSION_UPDATE_COLUMNS = (
    "last_report_at", "last_seq", "position_s", "furthest_position_s", "watched", "seconds_watched", "duration_s",
    "ended_at",
)  # fmt: skip
WATCH_UPDATE_COLUMNS = (
    "covered", "covered_s", "resume_position_s", "resume_started_at", "resume_session_id", "resume_seq", "updated_at",
)  # fmt: skip


class _SqliteSql:
    """The SQLite path's statements (every transaction there holds the write lock: see `immediate_transactions`)."""

    def __init__(self) -> None:
        insert = sqlite.insert
        pairs: BindParameter[Any] = bindparam("pairs", expanding=True)
        self.watch = select(
            WATCH.c.user_id,
            WATCH.c.lesson_id,
            WATCH.c.covered,
            WATCH.c.covered_s,
            WATCH.c.resume_position_s,
            WATCH.c.resume_started_at,
            WATCH.c.resume_session_id,
            WATCH.c.resume_seq,
            WATCH.c.updated_at,
        ).where(tuple_(WATCH.c.user_id, WATCH.c.lesson_id).in_(pairs))
        self.sessions = select(
            VIEWS.c.id,
            VIEWS.c.user_id,
            VIEWS.c.lesson_id,
            VIEWS.c.session_id,
            VIEWS.c.provider,
            VIEWS.c.started_at,
            VIEWS.c.last_report_at,
            VIEWS.c.last_seq,
            VIEWS.c.position_s,
            VIEWS.c.furthest_position_s,
            VIEWS.c.watched,
            VIEWS.c.seconds_watched,
            VIEWS.c.duration_s,
            VIEWS.c.ended_at,
        ).where(tuple_(VIEWS.c.user_id, VIEWS.c.lesson_id, VIEWS.c.session_id).in_(bindparam("keys", expanding=True)))
        self.progress = select(
            PROGRESS.c.id,
            PROGRESS.c.user_id,
            PROGRESS.c.lesson_id,
            PROGRESS.c.seconds_watched,
            PROGRESS.c.furthest_position_s,
            PROGRESS.c.completed_at,
            PROGRESS.c.updated_at,
        ).where(tuple_(PROGRESS.c.user_id, PROGRESS.c.lesson_id).in_(pairs))
        self.insert_session = VIEWS.insert()
        session_values = {c: bindparam(c, type_=VIEWS.c[c].type) for c in SESSION_UPDATE_COLUMNS}
        self.update_session = update(VIEWS).where(VIEWS.c.id == bindparam("b_id")).values(session_values)
        watch = insert(WATCH)
        self.upsert_watch = watch.on_conflict_do_update(
            index_elements=["user_id", "lesson_id"],
            set_={c: watch.excluded[c] for c in WATCH_UPDATE_COLUMNS},
        )
        # Merges, not values: the simulator may write the same rows (see the module docstring).
        gained: BindParameter[float] = bindparam("gained", type_=Float())
        furthest: BindParameter[float] = bindparam("furthest", type_=Float())
        completed = bindparam("completed", type_=UTCDateTime())
        at = bindparam("at", type_=UTCDateTime())
        p = PROGRESS.c
        self.update_progress = (
            update(PROGRESS)
            .where(p.id == bindparam("b_id"))
            .values(
                seconds_watched=p.seconds_watched + gained,
                furthest_position_s=case((p.furthest_position_s < furthest, furthest), else_=p.furthest_position_s),
                completed_at=func.coalesce(p.completed_at, completed),
                updated_at=case((p.updated_at < at, at), else_=p.updated_at),
            )
        )
        new = insert(PROGRESS)
        self.insert_progress = new.on_conflict_do_update(
            index_elements=["user_id", "lesson_id"],
            set_={
                "seconds_watched": p.seconds_watched + new.excluded.seconds_watched,
                "furthest_position_s": case(
                    (p.furthest_position_s < new.excluded.furthest_position_s, new.excluded.furthest_position_s),
                    else_=p.furthest_position_s,
                ),
                "completed_at": func.coalesce(p.completed_at, new.excluded.completed_at),
                "updated_at": case(
                    (p.updated_at < new.excluded.updated_at, new.excluded.updated_at), else_=p.updated_at
                ),
            },
        )


@dataclass
class _Pair:
    lesson: LessonFacts
    watch: WatchState
    progress: ProgressState
    sessions: dict[str, SessionState]


def check_access(access: LessonAccess) -> None:
    """The playback endpoint's rule (404 for whoever may not view), then: only enrolled students have progress."""
    require_view(access)
    if not access.enrolled:
        raise NotEnrolled(f"progress is recorded for students enrolled in lesson {access.lesson.id}'s course")


class ProgressStore:
    def __init__(
        self,
        engine: Engine,
        *,
        read_engine: Engine | None = None,
        max_ranges: int,
        complete_share: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.read_engine = read_engine or engine
        self.max_ranges = max_ranges
        self.complete_share = complete_share
        self.clock = clock
        self.postgres = engine.dialect.name == "postgresql"
        self._sql = None if self.postgres else _SqliteSql()

    # --- writes ------------------------------------------------------------------------------------

    def write(self, reports: list[Report]) -> list[Applied | LecternError]:
        """Every report of the batch applied in one transaction; each one's answer, in order."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return self._write_postgres(reports) if self.postgres else self._write_sqlite(reports)
            except (DBAPIError, psycopg.Error) as exc:
                if attempt == ATTEMPTS or not _retryable(exc):
                    log.error("progress.batch_failed", reports=len(reports), error=_describe(exc))
                    raise ProgressUnavailable(f"progress batch failed: {_describe(exc)}") from exc
                log.warning("progress.batch_retry", reports=len(reports), attempt=attempt, error=_describe(exc))
        raise AssertionError("unreachable")

    def _write_postgres(self, reports: list[Report]) -> list[Applied | LecternError]:
        pairs = sorted({(r.user_id, r.lesson_id) for r in reports})
        triples = sorted({(r.user_id, r.lesson_id, r.session_id) for r in reports})
        with self.engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            try:
                loaded = pg.load(raw, pairs, triples, check_access)
                answers, writes = self._plan(reports, loaded)
                pg.save(raw, writes)
            except BaseException:
                if raw is not None and not raw.closed:
                    raw.rollback()
                else:
                    conn.invalidate()
                raise
        return answers

    def _write_sqlite(self, reports: list[Report]) -> list[Applied | LecternError]:
        with self.engine.begin() as conn:
            loaded = self._load_sqlite(conn, reports)
            answers, writes = self._plan(reports, loaded)
            self._save_sqlite(conn, writes)
        return answers

    def _plan(self, reports: list[Report], loaded: pg.Loaded) -> tuple[list[Applied | LecternError], pg.Writes]:
        """Every report folded into the loaded rows (core/progress/plan.py); the answers and the rows to write."""
        now = datetime.fromtimestamp(self.clock(), UTC)
        answers: list[Applied | LecternError] = []
        states: dict[Pair, _Pair] = {}
        for report in reports:
            pair = (report.user_id, report.lesson_id)
            lesson = loaded.facts[pair]
            if isinstance(lesson, LecternError):
                answers.append(lesson)
                continue
            try:
                report = checked(report, lesson, max_ranges=self.max_ranges)
            except ReportInvalid as exc:
                answers.append(exc)
                continue
            state = states.get(pair)
            if state is None:
                state = states[pair] = _Pair(
                    lesson=lesson,
                    watch=loaded.watch.get(pair) or empty_watch(now),
                    progress=loaded.progress.get(pair) or ProgressState(None, 0.0, 0.0, None, None),
                    sessions={},
                )
            session = state.sessions.get(report.session_id)
            if session is None:
                found = loaded.sessions.get((*pair, report.session_id))
                session = state.sessions[report.session_id] = found or new_session(report, lesson)
            answers.append(
                apply(report, lesson, session, state.watch, state.progress, complete_share=self.complete_share)
            )
        return answers, _writes(states)

    def _load_sqlite(self, conn: Connection, reports: list[Report]) -> pg.Loaded:
        assert self._sql is not None
        sql = self._sql
        out = pg.Loaded()
        for user_id, lesson_id in {(r.user_id, r.lesson_id) for r in reports}:
            try:
                access = read_lesson_access(conn, lesson_id, user_id)
                check_access(access)
            except LecternError as exc:
                out.facts[(user_id, lesson_id)] = exc
                continue
            status = lesson_status(access.lesson)
            out.facts[(user_id, lesson_id)] = LessonFacts(duration_s=status.duration_s, provider=status.provider)
        pairs = sorted(pair for pair, facts in out.facts.items() if isinstance(facts, LessonFacts))
        if not pairs:
            return out
        for w in conn.execute(sql.watch, {"pairs": pairs}):
            out.watch[(w.user_id, w.lesson_id)] = WatchState(
                covered=from_bytes(w.covered),
                covered_s=w.covered_s,
                resume_position_s=w.resume_position_s,
                resume_started_at=w.resume_started_at,
                resume_session_id=w.resume_session_id,
                resume_seq=w.resume_seq,
                updated_at=w.updated_at,
            )
        for p in conn.execute(sql.progress, {"pairs": pairs}):
            out.progress[(p.user_id, p.lesson_id)] = ProgressState(
                p.id, p.seconds_watched, p.furthest_position_s, p.completed_at, p.updated_at
            )
        keys = sorted({(r.user_id, r.lesson_id, r.session_id) for r in reports})
        for v in conn.execute(sql.sessions, {"keys": keys}):
            out.sessions[(v.user_id, v.lesson_id, v.session_id)] = SessionState(
                id=v.id,
                session_id=v.session_id,
                provider=v.provider,
                started_at=v.started_at,
                last_report_at=v.last_report_at,
                last_seq=v.last_seq,
                position_s=v.position_s,
                furthest_position_s=v.furthest_position_s,
                watched=from_bytes(v.watched),
                seconds_watched=v.seconds_watched,
                duration_s=v.duration_s,
                ended_at=v.ended_at,
            )
        return out

    def _save_sqlite(self, conn: Connection, writes: pg.Writes) -> None:
        assert self._sql is not None
        sql = self._sql
        for statement, rows in (
            (sql.insert_session, writes.new_sessions),
            (sql.update_session, [_rename(r, "id", "b_id") for r in writes.session_updates]),
            (sql.upsert_watch, writes.watches),
            (sql.update_progress, [_rename(r, "id", "b_id") for r in writes.progress_updates]),
            (sql.insert_progress, writes.new_progress),
        ):
            if rows:
                conn.execute(statement, rows)

    # --- reads -------------------------------------------------------------------------------------

    def read(self, user_id: int, lesson_id: int) -> ProgressView:
        """The user's progress through a lesson they may view (zeros before their first report)."""
        with self.read_engine.connect() as conn:
            access = read_lesson_access(conn, lesson_id, user_id)
            require_view(access)
            watch = conn.execute(
                select(WATCH.c.resume_position_s, WATCH.c.covered_s).where(
                    WATCH.c.user_id == user_id, WATCH.c.lesson_id == lesson_id
                )
            ).one_or_none()
            progress = conn.execute(
                select(
                    PROGRESS.c.furthest_position_s,
                    PROGRESS.c.seconds_watched,
                    PROGRESS.c.completed_at,
                    PROGRESS.c.updated_at,
                ).where(PROGRESS.c.user_id == user_id, PROGRESS.c.lesson_id == lesson_id)
            ).one_or_none()
        return ProgressView(
            lesson_id=lesson_id,
            resume_position_s=watch.resume_position_s if watch else 0.0,
            furthest_position_s=progress.furthest_position_s if progress else 0.0,
            seconds_watched=progress.seconds_watched if progress else 0.0,
            covered_s=watch.covered_s if watch else 0.0,
            completed_at=progress.completed_at if progress else None,
            updated_at=progress.updated_at if progress else None,
        )

"""Progress reports into the platform DB, a batch per transaction.

`ProgressStore.write(reports)` runs one transaction for a whole batch (core/progress/batch.py gathers them):

1. access, once per (student, lesson) of the batch, with the playback endpoint's rules (`core.auth`):
   unknown user 401, a lesson one may not view 404, one viewed without being enrolled (a teacher, an admin)
   403; the lesson's duration and provider as Lectern knows them now;
2. each report checked against that lesson (core/progress/plan.py `checked`): 422 when it cannot be true;
3. the batch's `lesson_watch` rows locked (created first when new), in key order: every write of a
   student's progress for a lesson happens under that row's lock, so two API workers never interleave
   writes of the same student and lesson, and two batches lock in the same order (no deadlock between them);
4. the sessions (`lesson_views`) and the platform's `lesson_progress` rows read, every report folded in
   (`plan.apply`), and only the rows that changed written: a repeated report writes nothing.

Every report's answer (its result or its error) is returned in order; nothing is answered before the commit.
`lesson_progress` is also written by the sample data's simulator, so its updates are merges in SQL (seconds
add up, furthest is the max, the first completion stays) rather than values read earlier.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Float, bindparam, case, event, func, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import BindParameter

from core.auth import read_lesson_access, require_view
from core.db.models import LessonProgress, LessonView, LessonWatch, UTCDateTime, table_of
from core.errors import Forbidden, LecternError, NotFound, TransientError, Unauthenticated
from core.lessons import lesson_status
from core.logging import get_logger
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


def _retryable(exc: DBAPIError) -> bool:
    if exc.connection_invalidated:
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return sqlstate in RETRY_SQLSTATES or "database is locked" in str(exc.orig)


class _Sql:
    """The batch's statements, built once per dialect."""

    def __init__(self, dialect: str) -> None:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        pairs: BindParameter[Any] = bindparam("pairs", expanding=True)
        self.lock_watch = (
            select(
                WATCH.c.user_id,
                WATCH.c.lesson_id,
                WATCH.c.covered,
                WATCH.c.covered_s,
                WATCH.c.resume_position_s,
                WATCH.c.resume_started_at,
                WATCH.c.resume_session_id,
                WATCH.c.resume_seq,
                WATCH.c.updated_at,
            )
            .where(tuple_(WATCH.c.user_id, WATCH.c.lesson_id).in_(pairs))
            .order_by(WATCH.c.user_id, WATCH.c.lesson_id)
            .with_for_update()
        )
        self.create_watch = insert(WATCH).on_conflict_do_nothing(index_elements=["user_id", "lesson_id"])
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
        session_values = {
            c: bindparam(c, type_=VIEWS.c[c].type)
            for c in (
                "last_report_at",
                "last_seq",
                "position_s",
                "furthest_position_s",
                "watched",
                "seconds_watched",
                "duration_s",
                "ended_at",
            )
        }
        self.update_session = update(VIEWS).where(VIEWS.c.id == bindparam("b_id")).values(session_values)
        watch_values = {
            c: bindparam(c, type_=WATCH.c[c].type)
            for c in (
                "covered",
                "covered_s",
                "resume_position_s",
                "resume_started_at",
                "resume_session_id",
                "resume_seq",
                "updated_at",
            )
        }
        self.update_watch = (
            update(WATCH)
            .where(WATCH.c.user_id == bindparam("b_user_id"), WATCH.c.lesson_id == bindparam("b_lesson_id"))
            .values(watch_values)
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
        self._sql = _Sql(engine.dialect.name)

    # --- writes ------------------------------------------------------------------------------------

    def write(self, reports: list[Report]) -> list[Applied | LecternError]:
        """Every report of the batch applied in one transaction; each one's answer, in order."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with self.engine.begin() as conn:
                    return self._write(conn, reports)
            except DBAPIError as exc:
                if attempt == ATTEMPTS or not _retryable(exc):
                    log.error("progress.batch_failed", reports=len(reports), error=str(exc.orig)[:300])
                    raise ProgressUnavailable(f"progress batch failed: {str(exc.orig)[:200]}") from exc
                log.warning("progress.batch_retry", reports=len(reports), attempt=attempt, error=str(exc.orig)[:200])
        raise AssertionError("unreachable")

    def _write(self, conn: Connection, reports: list[Report]) -> list[Applied | LecternError]:
        answers: list[Applied | LecternError | None] = [None] * len(reports)
        facts = self._access(conn, {(r.user_id, r.lesson_id) for r in reports})
        valid: list[tuple[int, Report]] = []
        for i, report in enumerate(reports):
            lesson = facts[(report.user_id, report.lesson_id)]
            if isinstance(lesson, LecternError):
                answers[i] = lesson
                continue
            try:
                valid.append((i, checked(report, lesson, max_ranges=self.max_ranges)))
            except ReportInvalid as exc:
                answers[i] = exc
        if valid:
            now = datetime.fromtimestamp(self.clock(), UTC)
            states = self._load(conn, facts, [r for _, r in valid], now)
            for i, report in valid:
                state = states[(report.user_id, report.lesson_id)]
                session = state.sessions.get(report.session_id)
                if session is None:
                    session = state.sessions[report.session_id] = new_session(report, state.lesson)
                answers[i] = apply(
                    report, state.lesson, session, state.watch, state.progress, complete_share=self.complete_share
                )
            self._save(conn, states)
        done = [a for a in answers if a is not None]
        assert len(done) == len(reports)
        return done

    def _access(self, conn: Connection, pairs: Iterable[Pair]) -> dict[Pair, LessonFacts | LecternError]:
        out: dict[Pair, LessonFacts | LecternError] = {}
        for user_id, lesson_id in pairs:
            try:
                access = read_lesson_access(conn, lesson_id, user_id)
                require_view(access)
                if not access.enrolled:
                    raise NotEnrolled(f"progress is recorded for students enrolled in lesson {lesson_id}'s course")
            except (Unauthenticated, NotFound, Forbidden) as exc:
                out[(user_id, lesson_id)] = exc
                continue
            status = lesson_status(access.lesson)
            out[(user_id, lesson_id)] = LessonFacts(duration_s=status.duration_s, provider=status.provider)
        return out

    def _load(
        self, conn: Connection, facts: dict[Pair, LessonFacts | LecternError], reports: list[Report], now: datetime
    ) -> dict[Pair, _Pair]:
        pairs = sorted({(r.user_id, r.lesson_id) for r in reports})
        watches = self._lock_watches(conn, pairs, now)
        progress: dict[Pair, ProgressState] = {}
        for p in conn.execute(self._sql.progress, {"pairs": pairs}):
            progress[(p.user_id, p.lesson_id)] = ProgressState(
                p.id, p.seconds_watched, p.furthest_position_s, p.completed_at, p.updated_at
            )
        states: dict[Pair, _Pair] = {}
        for pair in pairs:
            lesson = facts[pair]
            assert isinstance(lesson, LessonFacts)
            states[pair] = _Pair(
                lesson=lesson,
                watch=watches[pair],
                progress=progress.get(pair) or ProgressState(None, 0.0, 0.0, None, None),
                sessions={},
            )
        keys = sorted({(r.user_id, r.lesson_id, r.session_id) for r in reports})
        for row in conn.execute(self._sql.sessions, {"keys": keys}):
            states[(row.user_id, row.lesson_id)].sessions[row.session_id] = SessionState(
                id=row.id,
                session_id=row.session_id,
                provider=row.provider,
                started_at=row.started_at,
                last_report_at=row.last_report_at,
                last_seq=row.last_seq,
                position_s=row.position_s,
                furthest_position_s=row.furthest_position_s,
                watched=from_bytes(row.watched),
                seconds_watched=row.seconds_watched,
                duration_s=row.duration_s,
                ended_at=row.ended_at,
            )
        return states

    def _lock_watches(self, conn: Connection, pairs: list[Pair], now: datetime) -> dict[Pair, WatchState]:
        """The pairs' lesson_watch rows, locked in key order; missing ones created (and so locked) first."""
        found = self._read_watches(conn, pairs)
        missing = [pair for pair in pairs if pair not in found]
        if missing:
            empty = empty_watch(now)
            conn.execute(
                self._sql.create_watch,
                [
                    {
                        "user_id": user_id,
                        "lesson_id": lesson_id,
                        "covered": b"",
                        "covered_s": 0.0,
                        "resume_position_s": 0.0,
                        "resume_seq": empty.resume_seq,
                        "updated_at": now,
                    }
                    for user_id, lesson_id in missing
                ],
            )
            # Ours now, or created by another worker meanwhile (its commit waited for): locked either way.
            found |= self._read_watches(conn, missing)
        return found

    def _read_watches(self, conn: Connection, pairs: list[Pair]) -> dict[Pair, WatchState]:
        return {
            (row.user_id, row.lesson_id): WatchState(
                covered=from_bytes(row.covered),
                covered_s=row.covered_s,
                resume_position_s=row.resume_position_s,
                resume_started_at=row.resume_started_at,
                resume_session_id=row.resume_session_id,
                resume_seq=row.resume_seq,
                updated_at=row.updated_at,
            )
            for row in conn.execute(self._sql.lock_watch, {"pairs": pairs})
        }

    def _save(self, conn: Connection, states: dict[Pair, _Pair]) -> None:
        """Writes the rows `apply` marked dirty, each statement once for the batch."""
        new_sessions: list[dict[str, Any]] = []
        session_updates: list[dict[str, Any]] = []
        watch_updates: list[dict[str, Any]] = []
        progress_updates: list[dict[str, Any]] = []
        new_progress: list[dict[str, Any]] = []
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
                    new_sessions.append(
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
                    session_updates.append(values | {"b_id": session.id})
            if state.watch.dirty:
                w = state.watch
                watch_updates.append(
                    {
                        "b_user_id": user_id,
                        "b_lesson_id": lesson_id,
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
                new_progress.append(
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
                progress_updates.append(
                    {
                        "b_id": p.id,
                        "gained": p.gained_s,
                        "furthest": p.furthest_position_s,
                        "completed": p.completed_at,
                        "at": p.updated_at,
                    }
                )
        sql = self._sql
        for statement, rows in (
            (sql.insert_session, new_sessions),
            (sql.update_session, session_updates),
            (sql.update_watch, watch_updates),
            (sql.update_progress, progress_updates),
            (sql.insert_progress, new_progress),
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

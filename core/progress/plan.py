"""Pure planning of progress reports: a report and the rows it touches in, the rows' new values out.

No I/O here: `core/progress/store.py` loads the rows of a batch (under lock), folds every report into them
with `apply` and writes what changed. Every merge is monotonic and order-independent, so a late, repeated or
reordered report never moves progress back, and a repeated one changes nothing at all:

- watched seconds are bitmaps (bit i = the lesson's second i, a range [s, e) sets bits round(s)..round(e)-1),
  merged by union; a session's `seconds_watched` is its bitmap's count, so it never decreases;
- the platform's `lesson_progress.seconds_watched` adds what each session's count gained (the sum over
  sessions: a rewatch in a later session counts again, as the platform has always counted it);
- furthest position = max; `completed_at` is set once, when the seconds ever watched (over every session,
  `lesson_watch.covered`) reach `complete_share` of the lesson, or on an `ended` report at its end;
- a session's position is that of its report with the highest `seq`; the resume position is that of the
  newest report by (session start, session id, seq), where a session starts when Lectern first hears of it,
  so a stale session's late report does not move it.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, replace
from datetime import datetime

from core.errors import ErrorKind, PermanentError

# No lesson is 48 hours long: a position, range or duration past this is refused whatever the lesson.
MAX_SECONDS = 48 * 3600.0
# Players and Lectern disagree a little about a lesson's length (container vs stream duration, rounding):
# values up to this far past Lectern's duration are clamped to it, further is refused.
OVERSHOOT_MIN_S = 5.0
OVERSHOOT_SHARE = 0.02
# An `ended` report this close to the end completes the lesson.
END_NEAR_MIN_S = 3.0
END_NEAR_SHARE = 0.02


class ProgressEvent(enum.StrEnum):
    """What made the player report."""

    heartbeat = "heartbeat"  # every few seconds while playing
    pause = "pause"
    ended = "ended"
    hidden = "hidden"  # the page was hidden or is closing (sendBeacon)


class ReportInvalid(PermanentError):
    """A progress report that cannot be true of this lesson (a position past its end, too many ranges)."""

    kind = ErrorKind.INVALID

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Report:
    """One report, its shape already checked (finite, non-negative, ranges ordered, within MAX_SECONDS)."""

    user_id: int
    lesson_id: int
    session_id: str
    seq: int
    position_s: float
    duration_s: float | None  # as the player knows it
    ranges: tuple[tuple[float, float], ...]  # watched since the session began (or any part of that)
    event: ProgressEvent
    received_at: datetime


@dataclass(frozen=True, slots=True)
class LessonFacts:
    duration_s: float | None  # as Lectern knows it (the video's, else the platform's)
    provider: str | None  # 'mux' | 's3' | None, now


@dataclass(slots=True)
class SessionState:
    """A `lesson_views` row (id None: not written yet)."""

    id: int | None
    session_id: str
    provider: str | None
    started_at: datetime
    last_report_at: datetime
    last_seq: int
    position_s: float
    furthest_position_s: float
    watched: int
    seconds_watched: float
    duration_s: float | None
    ended_at: datetime | None
    dirty: bool = False  # changed since it was read


@dataclass(slots=True)
class WatchState:
    """A `lesson_watch` row."""

    covered: int
    covered_s: float
    resume_position_s: float
    resume_started_at: datetime | None
    resume_session_id: str | None
    resume_seq: int
    updated_at: datetime
    dirty: bool = False


@dataclass(slots=True)
class ProgressState:
    """A `lesson_progress` row (id None: none yet); `gained_s` is what this batch adds to seconds_watched."""

    id: int | None
    seconds_watched: float
    furthest_position_s: float
    completed_at: datetime | None
    updated_at: datetime | None
    gained_s: float = 0.0
    dirty: bool = False


@dataclass(frozen=True, slots=True)
class Applied:
    """What the student's progress is once a report is applied (the answer to the player)."""

    lesson_id: int
    session_id: str
    seq: int
    resume_position_s: float
    furthest_position_s: float
    seconds_watched: float
    covered_s: float
    completed_at: datetime | None


def empty_watch(now: datetime) -> WatchState:
    return WatchState(0, 0.0, 0.0, None, None, -1, now)


def seconds_bitmap(ranges: tuple[tuple[float, float], ...]) -> int:
    bits = 0
    for start, end in ranges:
        a, b = round(start), round(end)
        if b > a:
            bits |= ((1 << (b - a)) - 1) << a
    return bits


def to_bytes(bits: int) -> bytes:
    return bits.to_bytes((bits.bit_length() + 7) // 8, "little")


def from_bytes(data: bytes | None) -> int:
    return int.from_bytes(data or b"", "little")


def _limit(duration: float) -> float:
    return duration + max(OVERSHOOT_MIN_S, OVERSHOOT_SHARE * duration)


def checked(report: Report, lesson: LessonFacts, *, max_ranges: int) -> Report:
    """The report with its values clamped to the lesson, or ReportInvalid when they cannot be true of it."""
    if len(report.ranges) > max_ranges:
        raise ReportInvalid("ranges", f"at most {max_ranges} ranges per report (LECTERN_PROGRESS_MAX_RANGES)")
    duration = lesson.duration_s
    if duration is None or not math.isfinite(duration) or duration <= 0:
        return report  # Lectern does not know the length: the shape's bounds (MAX_SECONDS) are all there is
    limit = _limit(duration)
    if report.position_s > limit:
        raise ReportInvalid("position_s", f"position {report.position_s:g} s is past the lesson's end ({duration:g} s)")
    if any(end > limit for _, end in report.ranges):
        raise ReportInvalid("ranges", f"a watched range ends past the lesson's end ({duration:g} s)")
    ranges = tuple((min(start, duration), min(end, duration)) for start, end in report.ranges)
    return replace(report, position_s=min(report.position_s, duration), ranges=ranges)


def _duration(report: Report, lesson: LessonFacts) -> float | None:
    if lesson.duration_s is not None and math.isfinite(lesson.duration_s) and lesson.duration_s > 0:
        return lesson.duration_s
    return report.duration_s if report.duration_s else None


def is_complete(report: Report, covered_s: float, duration: float | None, complete_share: float) -> bool:
    if duration is None:
        return report.event == ProgressEvent.ended
    if covered_s >= complete_share * max(1, round(duration)):
        return True
    near_end = duration - max(END_NEAR_MIN_S, END_NEAR_SHARE * duration)
    return report.event == ProgressEvent.ended and report.position_s >= near_end


def new_session(report: Report, lesson: LessonFacts) -> SessionState:
    """The row a session starts as, before its first report is applied."""
    return SessionState(
        id=None,
        session_id=report.session_id,
        provider=lesson.provider,
        started_at=report.received_at,
        last_report_at=report.received_at,
        last_seq=-1,
        position_s=0.0,
        furthest_position_s=0.0,
        watched=0,
        seconds_watched=0.0,
        duration_s=report.duration_s,
        ended_at=None,
    )


def apply(
    report: Report,
    lesson: LessonFacts,
    session: SessionState,
    watch: WatchState,
    progress: ProgressState,
    *,
    complete_share: float,
) -> Applied:
    """Fold a checked report into the three states, in place (marking what changed `dirty`); the answer."""
    changed = False
    bits = seconds_bitmap(report.ranges)
    furthest = max([report.position_s, *(end for _, end in report.ranges)])

    # The session (lesson_views).
    if report.seq > session.last_seq:
        session.last_seq = report.seq
        session.position_s = report.position_s
        session.last_report_at = report.received_at
        if report.duration_s is not None:
            session.duration_s = report.duration_s
        changed = True
    if furthest > session.furthest_position_s:
        session.furthest_position_s = furthest
        changed = True
    watched = session.watched | bits
    gained = 0.0
    if watched != session.watched:
        before = session.seconds_watched
        session.watched = watched
        session.seconds_watched = float(watched.bit_count())
        gained = session.seconds_watched - before
        changed = True
    if report.event == ProgressEvent.ended and session.ended_at is None:
        session.ended_at = report.received_at
        changed = True
    session.dirty = session.dirty or changed

    # The student's watching of the lesson over every session (lesson_watch).
    changed = False
    covered = watch.covered | bits
    if covered != watch.covered:
        watch.covered = covered
        watch.covered_s = float(covered.bit_count())
        changed = True
    mine = (session.started_at, session.session_id, report.seq)
    newest = (watch.resume_started_at, watch.resume_session_id or "", watch.resume_seq)
    if watch.resume_started_at is None or mine > newest:
        watch.resume_started_at, watch.resume_session_id, watch.resume_seq = mine
        watch.resume_position_s = report.position_s
        changed = True
    if changed:
        watch.dirty = True
        watch.updated_at = max(watch.updated_at, report.received_at)

    # The platform's summary (lesson_progress).
    progress_changed = False
    if gained > 0:
        progress.seconds_watched += gained
        progress.gained_s += gained
        progress_changed = True
    if furthest > progress.furthest_position_s:
        progress.furthest_position_s = furthest
        progress_changed = True
    if progress.completed_at is None and is_complete(
        report, watch.covered_s, _duration(report, lesson), complete_share
    ):
        progress.completed_at = report.received_at
        progress_changed = True
    if progress_changed:
        progress.dirty = True
        if progress.updated_at is None or report.received_at > progress.updated_at:
            progress.updated_at = report.received_at
    return Applied(
        lesson_id=report.lesson_id,
        session_id=report.session_id,
        seq=report.seq,
        resume_position_s=watch.resume_position_s,
        furthest_position_s=progress.furthest_position_s,
        seconds_watched=progress.seconds_watched,
        covered_s=watch.covered_s,
        completed_at=progress.completed_at,
    )

"""The pure planner of progress reports (core/progress/plan.py): checks, bitmaps, and monotonic merges."""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from core.progress.plan import (
    LessonFacts,
    ProgressEvent,
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
    seconds_bitmap,
    to_bytes,
)

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LESSON = LessonFacts(duration_s=300.0, provider="mux")
SHARE = 0.9


def report(
    seq: int = 0,
    position: float = 10.0,
    ranges: tuple[tuple[float, float], ...] = ((0.0, 10.0),),
    *,
    session: str = "s1",
    event: ProgressEvent = ProgressEvent.heartbeat,
    at: datetime = T0,
) -> Report:
    return Report(1, 2, session, seq, position, 300.0, ranges, event, at)


class Student:
    """One student's rows for one lesson, folded report by report as the store does."""

    def __init__(self, lesson: LessonFacts = LESSON) -> None:
        self.lesson = lesson
        self.watch: WatchState = empty_watch(T0)
        self.progress = ProgressState(None, 0.0, 0.0, None, None)
        self.sessions: dict[str, SessionState] = {}

    def send(self, r: Report) -> None:
        r = checked(r, self.lesson, max_ranges=100)
        session = self.sessions.get(r.session_id) or self.sessions.setdefault(r.session_id, new_session(r, self.lesson))
        apply(r, self.lesson, session, self.watch, self.progress, complete_share=SHARE)


def test_bitmaps_count_each_second_once_and_round_to_the_nearest_second() -> None:
    assert seconds_bitmap(((0.0, 10.0),)).bit_count() == 10
    assert seconds_bitmap(((0.0, 10.0), (5.0, 12.0))).bit_count() == 12
    assert seconds_bitmap(((0.0, 9.6), (9.6, 20.0))).bit_count() == 20  # adjacent ranges meet exactly
    assert seconds_bitmap(((3.2, 3.4),)) == 0  # under half a second is nothing
    bits = seconds_bitmap(((100.0, 250.0), (7.0, 8.0)))
    assert from_bytes(to_bytes(bits)) == bits and from_bytes(b"") == 0


def test_values_are_clamped_to_the_lesson_or_refused_past_it() -> None:
    # Within the overshoot (max(5 s, 2 %)) a player's slightly longer media is clamped to Lectern's duration.
    clamped = checked(report(position=303.0, ranges=((290.0, 305.0),)), LESSON, max_ranges=100)
    assert clamped.position_s == 300.0 and clamped.ranges == ((290.0, 300.0),)
    with pytest.raises(ReportInvalid) as past:
        checked(report(position=307.0), LESSON, max_ranges=100)
    assert past.value.field == "position_s"
    with pytest.raises(ReportInvalid) as ranges:
        checked(report(ranges=((0.0, 10.0), (200.0, 400.0))), LESSON, max_ranges=100)
    assert ranges.value.field == "ranges"
    with pytest.raises(ReportInvalid, match="at most 3 ranges"):
        checked(report(ranges=((0, 1), (2, 3), (4, 5), (6, 7))), LESSON, max_ranges=3)
    # A lesson whose length Lectern does not know: only the shape's bound (checked by the API) applies.
    unknown = LessonFacts(duration_s=None, provider="s3")
    assert checked(report(position=5000.0, ranges=((0.0, 5000.0),)), unknown, max_ranges=100).position_s == 5000.0


def test_a_repeated_report_changes_nothing() -> None:
    student = Student()
    student.send(report(0, 10.0, ((0.0, 10.0),)))
    for state in (student.watch, student.progress, *student.sessions.values()):
        state.dirty = False
    before = (replace(student.watch), replace(student.progress), replace(student.sessions["s1"]))
    student.send(report(0, 10.0, ((0.0, 10.0),), at=T0 + timedelta(seconds=30)))
    assert (student.watch, student.progress, student.sessions["s1"]) == before
    assert not student.watch.dirty and not student.progress.dirty and not student.sessions["s1"].dirty


def test_a_late_report_does_not_move_the_session_or_resume_back() -> None:
    student = Student()
    student.send(report(5, 60.0, ((0.0, 60.0),)))
    student.send(report(3, 40.0, ((0.0, 40.0),), at=T0 + timedelta(seconds=1)))
    session = student.sessions["s1"]
    assert (session.last_seq, session.position_s, session.seconds_watched) == (5, 60.0, 60.0)
    assert student.watch.resume_position_s == 60.0
    assert (student.progress.furthest_position_s, student.progress.seconds_watched) == (60.0, 60.0)


def test_resume_follows_the_newest_session_and_a_stale_session_does_not_move_it() -> None:
    student = Student()
    student.send(report(0, 100.0, ((0.0, 100.0),), session="old", at=T0))
    student.send(report(0, 20.0, ((0.0, 20.0),), session="new", at=T0 + timedelta(minutes=5)))
    # The old tab sends late: its seq is higher, but its session started first.
    student.send(report(9, 150.0, ((0.0, 150.0),), session="old", at=T0 + timedelta(minutes=6)))
    assert student.watch.resume_position_s == 20.0
    assert student.progress.furthest_position_s == 150.0
    student.send(report(1, 30.0, ((0.0, 30.0),), session="new", at=T0 + timedelta(minutes=7)))
    assert student.watch.resume_position_s == 30.0


def test_seconds_watched_add_up_over_sessions_while_coverage_counts_each_second_once() -> None:
    student = Student()
    student.send(report(0, 100.0, ((0.0, 100.0),), session="a"))
    student.send(report(0, 100.0, ((0.0, 100.0),), session="b", at=T0 + timedelta(hours=1)))
    assert student.progress.seconds_watched == 200.0  # a rewatch counts again, as the platform counts it
    assert student.watch.covered_s == 100.0


def test_completion_comes_from_coverage_over_every_session() -> None:
    student = Student()
    student.send(report(0, 150.0, ((0.0, 150.0),), session="monday"))
    assert student.progress.completed_at is None
    later = T0 + timedelta(days=1)
    student.send(report(0, 270.0, ((150.0, 270.0),), session="tuesday", at=later))
    assert student.watch.covered_s == 270.0 and student.progress.completed_at == later  # 270 >= 0.9 x 300
    student.send(report(1, 300.0, ((150.0, 300.0),), session="tuesday", at=later + timedelta(minutes=1)))
    assert student.progress.completed_at == later  # set once


def test_ended_at_the_end_completes_and_ended_elsewhere_does_not() -> None:
    early = Student()
    early.send(report(0, 100.0, ((0.0, 10.0),), event=ProgressEvent.ended))
    assert early.progress.completed_at is None and early.sessions["s1"].ended_at == T0
    student = Student()
    student.send(report(0, 299.0, ((0.0, 10.0),), event=ProgressEvent.ended))
    assert student.progress.completed_at == T0


def _playback(rng: random.Random, sessions: int) -> list[Report]:
    """Reports of `sessions` play sessions as a player sends them: cumulative ranges, seq counting up."""
    out: list[Report] = []
    for n in range(sessions):
        session = str(uuid.UUID(int=rng.getrandbits(128)))
        position, ranges = rng.uniform(0, 200), []
        for seq in range(rng.randint(1, 8)):
            if rng.random() < 0.2:
                position = rng.uniform(0, 290)  # a seek
            start = position
            position = min(300.0, position + rng.uniform(0, 40))
            ranges.append((start, position))
            event = rng.choice([ProgressEvent.heartbeat] * 4 + [ProgressEvent.pause, ProgressEvent.hidden])
            if position >= 299.5:
                event = ProgressEvent.ended
            out.append(report(seq, position, tuple(ranges), session=session, event=event, at=T0 + timedelta(hours=n)))
    return out


def _final(student: Student) -> tuple[float, float, float, bool, dict[str, tuple[int, float, float]]]:
    sessions = {k: (s.last_seq, s.position_s, s.seconds_watched) for k, s in student.sessions.items()}
    return (
        student.watch.covered_s,
        student.progress.furthest_position_s,
        student.progress.seconds_watched,
        student.progress.completed_at is not None,
        sessions,
    )


@pytest.mark.parametrize("seed", range(40))
def test_progress_never_decreases_whatever_the_order(seed: int) -> None:
    """A property over random playbacks: any order of their reports, with repeats, gives the same final
    progress as the order they were sent in, and no report ever moves a figure back."""
    rng = random.Random(seed)
    reports = _playback(rng, rng.randint(1, 3))
    in_order = Student()
    for r in reports:
        in_order.send(r)
    expected = _final(in_order)
    for _ in range(5):
        shuffled = reports + rng.sample(reports, rng.randint(0, len(reports)))  # repeats too
        rng.shuffle(shuffled)
        student = Student()
        seen = (0.0, 0.0, 0.0)
        completed_at = None
        for i, r in enumerate(shuffled):
            student.send(replace(r, received_at=T0 + timedelta(seconds=i)))
            now = (student.watch.covered_s, student.progress.furthest_position_s, student.progress.seconds_watched)
            assert all(a >= b for a, b in zip(now, seen, strict=True)), (seed, i, now, seen)
            if completed_at is not None:
                assert student.progress.completed_at == completed_at  # set once
            completed_at = student.progress.completed_at
            seen = now
        assert _final(student) == expected
        # Resume: the position of the newest report by (session first heard of, session id, seq).
        first_seen = {}
        for r in shuffled:
            first_seen.setdefault(r.session_id, len(first_seen))
        newest = max(shuffled, key=lambda r: (first_seen[r.session_id], r.session_id, r.seq))
        assert student.watch.resume_position_s == newest.position_s

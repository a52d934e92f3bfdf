"""Traffic simulator: viewing sessions of a course platform, generated as numpy columns.

The model, per view (every step vectorised over a chunk of views):
1. Lesson: courses are funnels. A course's share is its enrolment; inside it, lesson k keeps
   `lesson_decay**k` of the audience, scaled by a per-lesson appeal.
2. Viewer: students are ordered by persistence; lesson k is watched only by the most persistent
   `lesson_decay**k` share of its course's students, picked by a per-student activity weight. Each
   student has a country and a primary and a secondary player setup (device, OS, browser).
3. Time: a day (weekends quieter, audience growing over the window, later lessons later), then a local
   hour from a weekday or weekend rhythm, shifted to UTC by the student's country. A window shorter than a
   day is spread evenly instead.
4. Playback: exits before start and failures (per setup and country; some browsers are much worse),
   then where the viewer stops, drawn from the lesson's retention curve: an early bounce, a steady
   decay and 1-3 drop-off points per lesson, tuned so a given share completes. Revisits resume
   part-way; seek-backs add replayed time, skips remove some, fast playback shortens playing time.
5. QoE: startup time (log-normal), rebuffering (Poisson in playing minutes), pauses, a viewer
   experience score from those.
Optional bounds keep a history consistent: a lesson's views begin after it became available (its asset's
creation) and a student's after they enrolled. Lessons and students with less time in the window get
proportionally fewer views, so the rate per day stays the same.
Deterministic: the same inputs and seed give the same arrays, whatever the machine.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from emulator.data import catalog
from emulator.data.store import (
    COLUMNS,
    FLAG_EXIT_BEFORE_START,
    FLAG_PLAYBACK_FAILURE,
    FLAG_RESUMED,
    FLAG_SECOND_DEVICE,
    FLAG_STARTUP_FAILURE,
    VES_SCALE,
    Lesson,
    ViewStore,
)

CHUNK = 500_000
GRID = 200  # points on each lesson's retention curve
MAX_VIEWS = 100_000_000
DAY = 86_400


@dataclass(frozen=True)
class Knobs:
    weekend_factor: float = 0.6  # a weekend day's views relative to a weekday's
    growth: float = 0.5  # the last day of the window has (1 + growth) times the first day's audience
    lesson_decay: float = 0.9  # share of a course's audience still watching one lesson later
    later_lessons_later: float = 1.5  # how strongly later lessons' views sit towards the end of the window
    completion: float = 0.45  # share of fresh views of a 10-minute lesson that reach the end
    resume_share: float = 0.2  # views that start part-way (revisits)
    seek_back_share: float = 0.3  # views that replay a part
    skip_share: float = 0.12  # views that skip ahead
    fast_share: float = 0.25  # views at 1.25x-2x
    pause_share: float = 0.35
    exit_before_start: float = 0.012
    failure_rate: float = 0.004  # playback failures of the best setup in the best country
    startup_median_ms: float = 700.0
    rebuffer_per_minute: float = 0.03
    second_device_share: float = 0.2

    @classmethod
    def parse(cls, raw: Any) -> Knobs:
        """Knobs from a JSON object; unknown names and non-numbers raise ValueError."""
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            raise ValueError("knobs must be an object")
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"unknown knobs: {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
        values: dict[str, float] = {}
        for name, value in raw.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ValueError(f"knob {name} must be a non-negative number")
            values[name] = float(value)
        for name in ("lesson_decay", "completion", "resume_share", "seek_back_share", "skip_share", "fast_share"):
            if values.get(name, 0.0) > 1.0:
                raise ValueError(f"knob {name} must be between 0 and 1")
        return cls(**values)


@dataclass(frozen=True)
class DropOff:
    position: float  # fraction of the lesson
    strength: float  # share of the viewers still watching there who leave


@dataclass(frozen=True)
class SimulationPlan:
    """Everything about the audience that does not depend on the number of views."""

    lessons: list[Lesson]
    viewers: list[str]
    lesson_p: np.ndarray  # cumulative probability over lessons
    lesson_course: np.ndarray
    lesson_limit: np.ndarray  # reach of each lesson inside its course's cumulative student weights
    lesson_q: np.ndarray  # relative position in the course, 0..1
    lesson_duration: np.ndarray
    cdf: np.ndarray  # (lessons, GRID + 1): share of views stopped by each grid point, offset by lesson index
    completion: np.ndarray
    student_cum: np.ndarray  # course index + normalised cumulative weight, over all enrolments
    student_viewer: np.ndarray  # enrolment -> viewer index
    student_from: np.ndarray  # enrolment -> epoch seconds it began (-inf: always enrolled)
    lesson_from: np.ndarray  # lesson -> epoch seconds it became available (-inf: always)
    viewer_country: np.ndarray
    viewer_profiles: np.ndarray  # (viewers, 2): primary and secondary setup
    drop_offs: list[list[DropOff]]


def _cumulative(weights: np.ndarray) -> np.ndarray:
    cum = np.cumsum(weights, dtype=np.float64)
    shares: np.ndarray = cum / cum[-1]
    return shares


def _share_of_window(since: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    """The part of the window after `since` (1 for -inf), floored so a weight never becomes exactly zero."""
    start, end = window
    share = (end - np.maximum(since, start)) / max(end - start, 1.0)
    floored: np.ndarray = np.clip(share, 1e-6, 1.0)
    return floored


def plan(
    lessons: list[Lesson],
    students: dict[str, list[str]],
    knobs: Knobs,
    seed: int,
    *,
    lesson_from: list[float] | None = None,
    enrolled_from: dict[str, dict[str, float]] | None = None,
    window: tuple[float, float] = (0.0, 1.0),
) -> SimulationPlan:
    """The audience; `lesson_from` (per lesson) and `enrolled_from` ({course: {student: since}}) bound views in
    time, and scale each one's weight by the share of `window` (start, end) it is available for."""
    if not lessons:
        raise ValueError("no lessons to simulate")
    rng = np.random.default_rng([seed, 0])
    courses = list(dict.fromkeys(lesson.course for lesson in lessons))
    course_index = {course: i for i, course in enumerate(courses)}
    viewers: list[str] = list(dict.fromkeys(s for course in courses for s in students.get(course, [])))
    if not viewers:
        raise ValueError("no students enrolled in the simulated courses")
    viewer_index = {viewer: i for i, viewer in enumerate(viewers)}
    activity = rng.lognormal(0.0, 0.8, len(viewers))
    persistence = rng.random(len(viewers))

    # Enrolments, course by course, most persistent students first.
    cum_parts: list[np.ndarray] = []
    viewer_parts: list[np.ndarray] = []
    from_parts: list[np.ndarray] = []
    course_size = np.zeros(len(courses))
    course_start = np.zeros(len(courses), dtype=np.int64)
    filled = 0
    for c, course in enumerate(courses):
        members = np.array([viewer_index[s] for s in dict.fromkeys(students.get(course, []))], dtype=np.int64)
        if len(members) == 0:
            continue
        members = members[np.argsort(-persistence[members], kind="stable")]
        course_size[c] = len(members)
        course_start[c] = filled
        filled += len(members)
        since = np.full(len(members), -np.inf)
        if enrolled_from is not None:
            dates = enrolled_from.get(course, {})
            since = np.array([dates.get(viewers[m], -np.inf) for m in members], dtype=np.float64)
            cum_parts.append(c + _cumulative(activity[members] * _share_of_window(since, window)))
        else:
            cum_parts.append(c + _cumulative(activity[members]))
        viewer_parts.append(members)
        from_parts.append(since)
    student_cum = np.concatenate(cum_parts)
    student_viewer = np.concatenate(viewer_parts)
    student_from = np.concatenate(from_parts)

    n = len(lessons)
    course_of = np.array([course_index[lesson.course] for lesson in lessons], dtype=np.int64)
    rank = np.zeros(n)
    q = np.zeros(n)
    for c in range(len(courses)):
        members = np.flatnonzero(course_of == c)
        order = members[np.argsort([lessons[i].position for i in members], kind="stable")]
        rank[order] = np.arange(len(order))
        q[order] = np.arange(len(order)) / max(1, len(order) - 1)
    reach = knobs.lesson_decay**rank
    appeal = rng.lognormal(0.0, 0.25, n)
    weights = course_size[course_of] * reach * appeal
    available = np.full(n, -np.inf) if lesson_from is None else np.asarray(lesson_from, dtype=np.float64)
    if lesson_from is not None:
        weights = weights * _share_of_window(available, window)
    if weights.sum() <= 0:
        raise ValueError("no students enrolled in the simulated courses")
    # The cumulative weight of the most persistent `reach` share of each course's students.
    limits = np.empty(n)
    for i in range(n):
        c = course_of[i]
        if course_size[c] == 0:
            limits[i] = 0.0
            continue
        m = max(1, math.ceil(reach[i] * course_size[c]))
        limits[i] = student_cum[course_start[c] + m - 1] - c

    durations = np.array([max(1.0, lesson.duration_s) for lesson in lessons])
    cdf, completion, drops = _retention(rng, durations, knobs)

    country_p = _cumulative(np.array([c.share for c in catalog.COUNTRIES]))
    profile_p = _cumulative(np.array([p.share for p in catalog.PROFILES]))
    viewer_country = np.searchsorted(country_p, rng.random(len(viewers)), side="right")
    viewer_profiles = np.searchsorted(profile_p, rng.random((len(viewers), 2)), side="right")
    return SimulationPlan(
        lessons=lessons,
        viewers=viewers,
        lesson_p=_cumulative(weights),
        lesson_course=course_of,
        lesson_limit=limits,
        lesson_q=q,
        lesson_duration=durations,
        cdf=cdf,
        completion=completion,
        student_cum=student_cum,
        student_viewer=student_viewer,
        student_from=student_from,
        lesson_from=available,
        viewer_country=np.minimum(viewer_country, len(catalog.COUNTRIES) - 1),
        viewer_profiles=np.minimum(viewer_profiles, len(catalog.PROFILES) - 1),
        drop_offs=drops,
    )


def _retention(
    rng: np.random.Generator, durations: np.ndarray, knobs: Knobs
) -> tuple[np.ndarray, np.ndarray, list[list[DropOff]]]:
    """Per lesson: the stop-position CDF on a grid (offset by lesson index), completion and drop-offs."""
    n = len(durations)
    x = np.linspace(0.0, 1.0, GRID + 1)
    # Longer lessons lose more viewers; every lesson gets a little noise of its own.
    base = np.clip(knobs.completion * np.exp(-0.25 * (durations / 600.0 - 1.0)), 0.02, 0.95)
    completion = np.clip(base * rng.lognormal(0.0, 0.15, n), 0.02, 0.95)
    total = -np.log(completion)
    bounce = rng.uniform(0.06, 0.16, n)
    outro = np.full(n, 0.04)
    drops: list[list[DropOff]] = []
    cumulative = np.zeros((n, GRID + 1))
    for i in range(n):
        count = int(rng.integers(1, 4))
        positions = np.sort(rng.uniform(0.15, 0.9, count))
        strengths = rng.uniform(0.05, 0.25, count)
        extra = bounce[i] + outro[i] + strengths.sum()
        if extra > 0.9 * total[i]:  # keep the drop-offs from overshooting the lesson's completion
            scale = 0.9 * total[i] / extra
            bounce[i], outro[i], strengths = bounce[i] * scale, outro[i] * scale, strengths * scale
            extra = 0.9 * total[i]
        steady = (total[i] - extra) * x
        early = bounce[i] * (1.0 - np.exp(-x / 0.03))
        bumps = sum(s * _smooth_step(x, p, 0.012) for s, p in zip(strengths, positions, strict=True))
        tail = outro[i] * _smooth_step(x, 0.965, 0.01)
        cumulative[i] = steady + early + bumps + tail
        drops.append([DropOff(float(p), float(1.0 - math.exp(-s))) for p, s in zip(positions, strengths, strict=True)])
    cumulative[:, 0] = 0.0
    cumulative = np.maximum.accumulate(cumulative, axis=1)
    completion = np.exp(-cumulative[:, -1])
    stop_cdf = 1.0 - np.exp(-cumulative)
    # Offset by lesson index so one searchsorted over the flattened table inverts every lesson's CDF.
    # A tiny ramp keeps each row strictly increasing where the CDF is flat.
    ramp = np.linspace(0.0, 1e-9, GRID + 1)
    offset = np.arange(n)[:, None] * 2.0 + stop_cdf + ramp
    return offset, completion, drops


def _smooth_step(x: np.ndarray, centre: float, width: float) -> np.ndarray:
    return np.asarray(0.5 * (1.0 + np.tanh((x - centre) / width)))


def generate(
    lessons: list[Lesson],
    students: dict[str, list[str]],
    *,
    views: int,
    days: float,
    end_s: float,
    seed: int,
    knobs: Knobs | None = None,
    progress: Callable[[int], None] | None = None,
    lesson_from: list[float] | None = None,
    enrolled_from: dict[str, dict[str, float]] | None = None,
) -> tuple[ViewStore, SimulationPlan]:
    """Simulate `views` views whose sessions start in the `days` before `end_s`; sorted by view_end.

    With `lesson_from` (epoch seconds per lesson) and `enrolled_from` ({course: {student: epoch seconds}}),
    no session starts before its lesson was available or its student enrolled.
    """
    if not 0 <= views <= MAX_VIEWS:
        raise ValueError(f"views must be between 0 and {MAX_VIEWS:,}")
    if days <= 0:
        raise ValueError("days must be positive")
    knobs = knobs or Knobs()
    window = (end_s - days * DAY, end_s)
    the_plan = plan(lessons, students, knobs, seed, lesson_from=lesson_from, enrolled_from=enrolled_from, window=window)
    columns = {name: np.empty(views, dtype=dtype) for name, dtype in COLUMNS.items()}
    for chunk, start in enumerate(range(0, views, CHUNK)):
        stop = min(views, start + CHUNK)
        rng = np.random.default_rng([seed, 1, chunk])
        part = _chunk(the_plan, knobs, rng, stop - start, days, end_s)
        for name, values in part.items():
            columns[name][start:stop] = values
        if progress is not None:
            progress(stop)
    order = np.argsort(columns["end_ms"])
    for name in list(columns):
        if name != "serial":
            columns[name] = columns[name][order]
    del order
    columns["serial"] = np.arange(views, dtype=np.uint32)
    return ViewStore(columns, lessons, the_plan.viewers, salt=_salt(seed)), the_plan


def _salt(seed: int) -> int:
    return int(np.random.default_rng([seed, 2]).integers(0, 2**63 - 1))


def _chunk(
    p: SimulationPlan, k: Knobs, rng: np.random.Generator, size: int, days: float, end_s: float
) -> dict[str, np.ndarray]:
    u = rng.random((16, size))
    lesson = np.minimum(np.searchsorted(p.lesson_p, u[0], side="right"), len(p.lessons) - 1)
    course = p.lesson_course[lesson]
    target = course + u[1] * p.lesson_limit[lesson]
    enrolment = np.minimum(np.searchsorted(p.student_cum, target, side="right"), len(p.student_cum) - 1)
    viewer = p.student_viewer[enrolment]
    second = u[2] < k.second_device_share
    profile = p.viewer_profiles[viewer, second.astype(np.int64)]
    country = p.viewer_country[viewer]

    prof_failure = np.array([x.failure for x in catalog.PROFILES])[profile]
    prof_startup = np.array([x.startup for x in catalog.PROFILES])[profile]
    prof_rebuffer = np.array([x.rebuffer for x in catalog.PROFILES])[profile]
    phone = np.array([x.device == "phone" for x in catalog.PROFILES])[profile]
    network = np.array([x.network for x in catalog.COUNTRIES])[country]

    # -- outcome -------------------------------------------------------------------------------
    ebvs = u[3] < k.exit_before_start * np.where(phone, 1.6, 1.0)
    failed = ~ebvs & (u[4] < k.failure_rate * prof_failure * (0.5 + 0.5 * network))
    startup_failed = failed & (u[5] < 0.4)
    started = ~ebvs & ~startup_failed
    resumed = started & (u[6] < k.resume_share)
    start_frac = np.where(resumed, 0.1 + 0.75 * u[7], 0.0)

    cdf = p.cdf  # (lessons, GRID + 1), row l holds 2l + F_l(x)
    base = 2.0 * lesson
    at = start_frac * GRID
    j = np.minimum(at.astype(np.int64), GRID - 1)
    w = at - j
    f_start = cdf[lesson, j] * (1 - w) + cdf[lesson, j + 1] * w - base
    f_end = cdf[lesson, GRID] - base
    level = f_start + u[8] * (1.0 - f_start)
    completes = level >= f_end
    flat = cdf.ravel()
    idx = np.searchsorted(flat, base + level, side="right") - 1
    i = np.clip(idx - lesson * (GRID + 1), 0, GRID - 1)
    lo = flat[lesson * (GRID + 1) + i] - base
    hi = flat[lesson * (GRID + 1) + i + 1] - base
    frac = np.clip((level - lo) / np.maximum(hi - lo, 1e-12), 0.0, 1.0)
    stop_frac = np.where(completes, 1.0, (i + frac) / GRID)
    stop_frac = np.maximum(stop_frac, start_frac)
    mid_failed = failed & ~startup_failed
    stop_frac = np.where(mid_failed, start_frac + (stop_frac - start_frac) * u[9], stop_frac)
    stop_frac = np.where(started, stop_frac, 0.0)

    duration = p.lesson_duration[lesson]
    content = (stop_frac - start_frac) * duration
    seek_back = started & (u[10] < k.seek_back_share)
    skipped = started & (u[11] < k.skip_share)
    content = content * (1.0 + np.where(seek_back, np.minimum(rng.exponential(0.2, size), 1.0), 0.0))
    content = content * (1.0 - np.where(skipped, 0.4 * u[12], 0.0))
    # Replays never add up to more than the lesson itself in one view.
    content = np.minimum(content, duration)
    speed = np.where(u[13] < k.fast_share, 1.25 + 0.75 * u[14], 1.0)
    playing_ms = np.where(started, content / speed * 1000.0, 0.0)
    seeks = (
        seek_back * (1 + rng.poisson(0.8, size)) + skipped * (1 + rng.poisson(0.8, size)) + rng.poisson(0.2, size)
    ) * started

    # -- quality of experience ---------------------------------------------------------------
    startup = k.startup_median_ms * prof_startup * np.sqrt(network) * rng.lognormal(0.0, 0.5, size)
    startup = np.clip(startup, 80.0, 60_000.0)
    startup_ms = np.where(started, startup, 0.0)
    lam = k.rebuffer_per_minute * prof_rebuffer * network * playing_ms / 60_000.0
    rebuf_count = np.minimum(rng.poisson(lam), 65_535)
    rebuf_ms = rebuf_count * 1_500.0 * rng.lognormal(0.0, 0.6, size)
    waited = np.where(ebvs, 1_000.0 + 14_000.0 * u[15], 2_000.0 + 20_000.0 * u[15])
    watch_ms = np.where(started, startup_ms + playing_ms + rebuf_ms + 250.0 * seeks, waited)
    paused = rng.random(size) < k.pause_share
    pause_ms = np.where(paused & started, np.minimum(rng.exponential(180_000.0, size), 7_200_000.0), 0.0)
    wall_ms = watch_ms + pause_ms

    rebuf_pct = np.divide(rebuf_ms, watch_ms, out=np.zeros(size), where=watch_ms > 0)
    startup_score = 1.0 / (1.0 + (startup_ms / 4_000.0) ** 1.5)
    rebuffer_score = np.exp(-12.0 * rebuf_pct)
    quality_score = 0.88 + 0.12 * rng.beta(5.0, 1.5, size)
    success = np.where(failed, 0.0, np.where(ebvs, 0.5, 1.0))
    ves = np.where(started, success * (0.35 * startup_score + 0.4 * rebuffer_score + 0.25 * quality_score), success)

    errors = np.cumsum(np.array([x.errors for x in catalog.PROFILES]), axis=1)
    errors /= errors[:, -1:]
    error = np.where(failed, (rng.random(size)[:, None] > errors[profile]).sum(axis=1) + 1, 0)

    # -- time ----------------------------------------------------------------------------------
    bounded = bool(np.isfinite(p.lesson_from).any() or np.isfinite(p.student_from).any())
    earliest = np.maximum(p.lesson_from[lesson], p.student_from[enrolment]) if bounded else None
    start_s = _start_times(p, k, rng, lesson, country, size, days, end_s, earliest)
    end_ms = np.round(start_s * 1000.0 + wall_ms).astype(np.int64)

    flags = (
        failed * FLAG_PLAYBACK_FAILURE
        + startup_failed * FLAG_STARTUP_FAILURE
        + ebvs * FLAG_EXIT_BEFORE_START
        + second * FLAG_SECOND_DEVICE
        + resumed * FLAG_RESUMED
    )
    return {
        "end_ms": end_ms,
        "wall_ms": np.round(wall_ms),
        "lesson": lesson,
        "viewer": viewer,
        "profile": profile,
        "country": country,
        "playing_ms": np.round(playing_ms),
        "watch_ms": np.round(watch_ms),
        "playhead_ms": np.round(stop_frac * duration * 1000.0),
        "startup_ms": np.round(startup_ms),
        "rebuf_count": rebuf_count,
        "rebuf_ms": np.round(rebuf_ms),
        "seeks": np.minimum(seeks, 255),
        "flags": flags,
        "error": error,
        "ves": np.round(np.clip(ves, 0.0, 1.0) * VES_SCALE),
    }


def _start_times(
    p: SimulationPlan,
    k: Knobs,
    rng: np.random.Generator,
    lesson: np.ndarray,
    country: np.ndarray,
    size: int,
    days: float,
    end_s: float,
    earliest: np.ndarray | None = None,
) -> np.ndarray:
    window_start = end_s - days * DAY
    if days < 1:
        # Too short for a daily rhythm: moving sessions by whole days (below) would pile them at the
        # window's edges, so they start evenly across it instead (an incident of the last hour, say).
        uniform: np.ndarray = window_start + rng.random(size) * max(days * DAY - 60.0, 0.0)
        return uniform if earliest is None else _not_before(uniform, earliest, rng, end_s)
    n_days = max(1, math.ceil(days))
    last_midnight = math.floor(end_s / DAY) * DAY
    midnights = last_midnight - DAY * np.arange(n_days - 1, -1, -1, dtype=np.float64)
    weekday = ((midnights // DAY).astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday (3)
    weekend = weekday >= 5
    day_weight = np.where(weekend, k.weekend_factor, 1.0) * (1.0 + k.growth * np.arange(n_days) / max(1, n_days - 1))
    day_cum = _cumulative(day_weight)
    tilt = 1.0 + k.later_lessons_later * p.lesson_q[lesson]
    # The day is the inverse of `day_cum` at r**(1/tilt); a bound draws it from the days on or after its own.
    floor = np.zeros(size)
    if earliest is not None:
        first = np.clip(np.floor((earliest - midnights[0]) / DAY), 0, n_days - 1).astype(np.int64)
        floor = np.where(first > 0, day_cum[np.maximum(first - 1, 0)], 0.0) ** tilt
    draw = floor + rng.random(size) * (1.0 - floor)
    day = np.minimum(np.searchsorted(day_cum, draw ** (1.0 / tilt), side="right"), n_days - 1)
    hour_cum = np.stack([_cumulative(np.array(catalog.WEEKDAY_HOURS)), _cumulative(np.array(catalog.WEEKEND_HOURS))])
    hour = (rng.random(size)[:, None] > hour_cum[weekend[day].astype(np.int64)]).sum(axis=1)
    offset_h = np.array([c.utc_offset_h for c in catalog.COUNTRIES])[country]
    start = midnights[day] + hour * 3600.0 + rng.random(size) * 3600.0 - offset_h * 3600.0
    # Sessions that would begin after the end or before the window move by whole weeks (or days in a
    # short window), which keeps their weekday and hour.
    step = 7 * DAY if days >= 14 else DAY
    start = np.where(start > end_s - 60.0, start - step * np.ceil((start - end_s + 60.0) / step), start)
    start = np.where(start < window_start, start + step * np.ceil((window_start - start) / step), start)
    starts: np.ndarray = np.clip(start, window_start, end_s - 60.0)
    return starts if earliest is None else _not_before(starts, earliest, rng, end_s)


def _not_before(start: np.ndarray, earliest: np.ndarray, rng: np.random.Generator, end_s: float) -> np.ndarray:
    """Sessions that would begin before their bound move on by whole days (keeping their hour) while that
    stays inside the window, else to a random time between the bound and the end."""
    last = end_s - 60.0
    moved = start + np.ceil(np.maximum(earliest - start, 0.0) / DAY) * DAY
    start = np.where((start < earliest) & (moved <= last), moved, start)
    spread = earliest + rng.random(start.size) * np.maximum(last - earliest, 0.0)
    bounded: np.ndarray = np.maximum(np.where(start < earliest, spread, start), earliest)
    return bounded

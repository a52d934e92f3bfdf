"""Alert rules measured on the warehouse: playback failures, startup time, sync jobs failing or behind.

Each function runs on the sync's working connection (the `alerts` job) or a reader's, binds its
parameters, and returns the conditions that hold now (core.alerts.planner.Observation). The view rules
read `mux_views` over a short window by `view_end`, which DuckDB prunes with the column's min/max per row
group (views are loaded roughly in time order), so they stay fast on a large table.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import duckdb

from core.alerts.planner import Observation
from core.alerts.rules import PLAYBACK_FAILURE, PLAYBACK_FAILURE_LESSON, STARTUP_TIME_P95, SYNC_JOB, Rule


def _window(rule: Rule) -> str:
    minutes = rule.window_s / 60
    return f"{minutes:g} min" if minutes < 120 else f"{minutes / 60:g} h"


def playback_failures(
    con: duckdb.DuckDBPyConnection, overall: Rule, per_lesson: Rule, *, now: datetime
) -> tuple[list[Observation], list[Observation]]:
    """(overall, per lesson): views that ended in each rule's window with a playback failure, over the
    rule's threshold (%) once at least `min_count` views ended there."""
    return _overall_failures(con, overall, now), _lesson_failures(con, per_lesson, now)


def _overall_failures(con: duckdb.DuckDBPyConnection, rule: Rule, now: datetime) -> list[Observation]:
    row = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE playback_failure) FROM mux_views "
        "WHERE view_end > $since AND view_end <= $now",
        {"since": now - timedelta(seconds=rule.window_s), "now": now},
    ).fetchone()
    views, failures = (int(row[0]), int(row[1])) if row else (0, 0)
    if views == 0 or views < rule.min_count:
        return []
    pct = 100.0 * failures / views
    if pct <= rule.threshold:
        return []
    return [
        Observation(
            PLAYBACK_FAILURE,
            PLAYBACK_FAILURE,
            f"Playback failures at {pct:.1f}% of views in the last {_window(rule)} ({failures} of {views}; "
            f"threshold {rule.threshold:g}%).",
            value=round(pct, 2),
            threshold=rule.threshold,
            subject="all lessons",
            context={"views": views, "failures": failures, "window_s": rule.window_s},
        )
    ]


def _lesson_failures(con: duckdb.DuckDBPyConnection, rule: Rule, now: datetime) -> list[Observation]:
    rows = con.execute(
        """SELECT lesson_id, count(*) AS views, count(*) FILTER (WHERE playback_failure) AS failures,
                  any_value(video_title) AS title
           FROM mux_views
           WHERE view_end > $since AND view_end <= $now AND lesson_id IS NOT NULL
           GROUP BY lesson_id
           HAVING count(*) >= greatest($min_count, 1)
              AND 100.0 * count(*) FILTER (WHERE playback_failure) / count(*) > $threshold
           ORDER BY lesson_id""",
        {
            "since": now - timedelta(seconds=rule.window_s),
            "now": now,
            "min_count": rule.min_count,
            "threshold": rule.threshold,
        },
    ).fetchall()
    out: list[Observation] = []
    for lesson_id, views, failures, title in rows:
        pct = 100.0 * failures / views
        name = f"lesson {lesson_id}" + (f" ({title})" if title else "")
        out.append(
            Observation(
                PLAYBACK_FAILURE_LESSON,
                f"{PLAYBACK_FAILURE_LESSON}:{lesson_id}",
                f"Playback failures at {pct:.1f}% of {name}'s views in the last {_window(rule)} "
                f"({failures} of {views}; threshold {rule.threshold:g}%).",
                value=round(pct, 2),
                threshold=rule.threshold,
                subject=name,
                context={"views": int(views), "failures": int(failures), "window_s": rule.window_s},
                lesson_id=int(lesson_id),
            )
        )
    return out


def startup_time_p95(con: duckdb.DuckDBPyConnection, rule: Rule, *, now: datetime) -> list[Observation]:
    """The 95th percentile of startup time (s) of the views that started, ended in the window."""
    row = con.execute(
        "SELECT count(startup_time_ms), quantile_cont(startup_time_ms, 0.95) FROM mux_views "
        "WHERE view_end > $since AND view_end <= $now AND startup_time_ms IS NOT NULL",
        {"since": now - timedelta(seconds=rule.window_s), "now": now},
    ).fetchone()
    if not row or row[1] is None or int(row[0]) < max(rule.min_count, 1):
        return []
    views, p95_s = int(row[0]), float(row[1]) / 1000.0
    if p95_s <= rule.threshold:
        return []
    return [
        Observation(
            STARTUP_TIME_P95,
            STARTUP_TIME_P95,
            f"Video startup time p95 is {p95_s:.1f} s over the last {_window(rule)} ({views} views; "
            f"threshold {rule.threshold:g} s).",
            value=round(p95_s, 3),
            threshold=rule.threshold,
            subject="all lessons",
            context={"views": views, "window_s": rule.window_s},
        )
    ]


def sync_jobs(con: duckdb.DuckDBPyConnection, rule: Rule, *, now: datetime, jobs: Iterable[str]) -> list[Observation]:
    """Each of `jobs` whose last run failed, or whose last success is over `threshold` hours old (a job that
    never ran has no row and raises nothing: a fresh install is not behind)."""
    wanted = list(jobs)
    if not wanted:
        return []
    rows = con.execute(
        "SELECT job, status, error, last_run_at, last_success_at FROM sync_state WHERE list_contains($jobs, job) "
        "ORDER BY job",
        {"jobs": wanted},
    ).fetchall()
    behind_after = timedelta(hours=rule.threshold)
    out: list[Observation] = []
    for job, status, error, last_run_at, last_success_at in rows:
        age_h = (now - last_success_at).total_seconds() / 3600 if last_success_at is not None else None
        failing = status == "error"
        behind = age_h is None or age_h > behind_after.total_seconds() / 3600
        if not failing and not behind:
            continue
        since = f"last success {last_success_at:%Y-%m-%d %H:%M} UTC" if last_success_at else "never succeeded"
        if failing:
            message = f"Sync job {job} is failing ({since}): {error or 'no error recorded'}"
        else:
            message = f"Sync job {job} is {age_h:.1f} h behind ({since}; threshold {rule.threshold:g} h)."
        out.append(
            Observation(
                SYNC_JOB,
                f"{SYNC_JOB}:{job}",
                message,
                value=round(age_h, 2) if age_h is not None else None,
                threshold=rule.threshold,
                subject=job,
                context={
                    "job": job,
                    "status": status,
                    "error": error,
                    "last_run_at": last_run_at.isoformat() if last_run_at else None,
                    "last_success_at": last_success_at.isoformat() if last_success_at else None,
                },
            )
        )
    return out

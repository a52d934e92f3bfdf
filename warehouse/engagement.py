"""Engagement queries the dashboard needs beyond warehouse/queries.py: the S3-vs-Mux comparison and replays.

Same rules as queries.py (and the `scope` CTE of warehouse/scope.py, so the teacher filter is the same everywhere):
parameters bound, the teacher scope in SQL, inclusive UTC dates, rows capped.

Definitions:
- provider of a lesson: `mux` when it has a Mux playback id, `s3` when it has a legacy video URL, else `none`.
- progress metrics come from the platform's lesson_progress of enrolled students (state at the snapshot, so
  they exist for S3 and Mux lessons alike); Mux Data metrics come from lesson_daily over the date range.
- replays: a view *replayed* when its playing time exceeds 1.25 x the furthest point it reached (it went
  back over parts). Mux Data has no per-second heatmap, so replays are attributed to the 5 % bucket where
  the view stopped — a spike says "viewers who stopped around here had rewatched", not the exact second.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from warehouse.scope import SCOPE_CTE, run_capped, scope_params

REPLAY_FACTOR = 1.25


def provider_comparison(
    con: duckdb.DuckDBPyConnection,
    *,
    start: date,
    end: date,
    course_id: int | None = None,
    teacher_id: int | None = None,
) -> pd.DataFrame:
    """One row per provider (mux, s3, none) with progress-based and Mux Data metrics for its lessons."""
    sql = f"""WITH {SCOPE_CTE},
    lessons_in AS (
        SELECT s.lesson_id, s.course_id,
               CASE WHEN l.mux_playback_id IS NOT NULL THEN 'mux'
                    WHEN l.video_url IS NOT NULL THEN 's3' ELSE 'none' END AS provider,
               coalesce(l.video_duration_s, l.duration_s) AS duration_s
        FROM scope s JOIN lessons l ON l.id = s.lesson_id
    ),
    enrolled AS (SELECT course_id, count(*) AS students FROM enrollments
                 WHERE course_id IN (SELECT course_id FROM scope) GROUP BY course_id),
    possible AS (
        SELECT li.provider, sum(coalesce(e.students, 0)) AS student_lessons, count(*) AS lessons
        FROM lessons_in li LEFT JOIN enrolled e USING (course_id) GROUP BY li.provider
    ),
    progress AS (
        SELECT li.provider, count(*) AS started, count(p.completed_at) AS completed,
               avg(least(p.furthest_position_s / NULLIF(li.duration_s, 0), 1.0)) AS avg_progress_fraction,
               sum(p.seconds_watched) AS seconds_watched
        FROM lesson_progress p
        JOIN lessons_in li ON li.lesson_id = p.lesson_id
        JOIN enrollments e ON e.user_id = p.user_id AND e.course_id = li.course_id
        GROUP BY li.provider
    ),
    data AS (
        SELECT li.provider, sum(d.views) AS views, sum(d.watch_time_ms) / 1000.0 AS watch_time_s,
               sum(d.watched_fraction_sum) / NULLIF(sum(d.watched_fraction_n), 0) AS avg_fraction_watched,
               sum(d.completed_views) / NULLIF(sum(d.views), 0) AS view_completion_rate
        FROM lesson_daily d JOIN lessons_in li ON li.lesson_id = d.lesson_id
        WHERE d.view_day BETWEEN $start AND $end
        GROUP BY li.provider
    )
    SELECT x.provider, x.lessons, x.student_lessons,
           coalesce(p.started, 0) AS students_started, coalesce(p.completed, 0) AS students_completed,
           coalesce(p.completed, 0) / NULLIF(x.student_lessons, 0) AS completion_rate,
           p.avg_progress_fraction, coalesce(p.seconds_watched, 0) AS progress_seconds_watched,
           coalesce(d.views, 0) AS views, coalesce(d.watch_time_s, 0) AS watch_time_s,
           d.avg_fraction_watched, d.view_completion_rate
    FROM possible x LEFT JOIN progress p USING (provider) LEFT JOIN data d USING (provider)
    ORDER BY CASE x.provider WHEN 's3' THEN 0 WHEN 'mux' THEN 1 ELSE 2 END"""
    return run_capped(con, sql, {**scope_params(teacher_id, course_id), "start": start, "end": end}, 3)


def replays_by_position(
    con: duckdb.DuckDBPyConnection,
    *,
    lesson_id: int,
    start: date,
    end: date,
    teacher_id: int | None = None,
) -> pd.DataFrame:
    """Per 5 % bucket where views stopped: views, views that replayed, and their share (empty outside scope)."""
    sql = f"""WITH {SCOPE_CTE},
    v AS (
        SELECT least(floor(least(greatest(max_playhead_ms, 0)::DOUBLE / video_duration_ms, 1.0) * 20 + 1e-9), 20)
                   ::INTEGER AS bucket,
               playing_time_ms, max_playhead_ms
        FROM mux_views
        WHERE lesson_id = $lesson_id AND lesson_id IN (SELECT lesson_id FROM scope)
          AND view_day BETWEEN $start AND $end
          AND video_duration_ms > 0 AND max_playhead_ms IS NOT NULL
    )
    SELECT bucket * 5 AS pct_of_duration, count(*) AS views,
           count(*) FILTER (max_playhead_ms > 0 AND playing_time_ms > $factor * max_playhead_ms) AS replayed_views,
           count(*) FILTER (max_playhead_ms > 0 AND playing_time_ms > $factor * max_playhead_ms) / count(*)
               AS replay_share
    FROM v GROUP BY bucket ORDER BY bucket"""
    params = {**scope_params(teacher_id, lesson_id=lesson_id), "start": start, "end": end, "factor": REPLAY_FACTOR}
    return run_capped(con, sql, params, 21)

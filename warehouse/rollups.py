"""Daily rollups of `mux_views` that dashboards read instead of the raw views.

Each rollup is keyed by `view_day` (UTC day a view started) and is recomputed for exactly the days a
load touched, inside the load's transaction, so rollups and raw views always agree in any committed
state. Definitions (also in README.md):
- watched fraction of a view = min(max_playhead_ms / video_duration_ms, 1) (null without a duration);
- a view is *completed* when its watched fraction >= COMPLETED_FRACTION;
- retention bucket b (0..20) = floor(watched fraction * 20): the view reached at least b * 5 %;
- QoE rows hold one row per day, dimension (browser, os ...) and value; startup times as a log-scale
  histogram, from which platform-wide p50/p95 are read to within half a bucket (about 3.5 %).

`refresh_platform_rollups` derives the per-lesson completion and per-student progress tables from the
platform snapshot; the platform job calls it in the transaction that replaces the snapshot.
"""

from __future__ import annotations

from datetime import date

import duckdb

COMPLETED_FRACTION = 0.9
ROLLUP_TABLES = (
    "lesson_daily",
    "viewer_lesson_daily",
    "viewer_daily",
    "lesson_retention_daily",
    "qoe_daily",
    "qoe_startup_daily",
)
QOE_DIMENSIONS = ("browser", "os", "device", "country", "player")
# Startup-time histogram: bucket b holds [2^(b/10), 2^((b+1)/10)) ms — about 7 % wide.
BUCKETS_PER_DOUBLING = 10
# Integer viewer identity for distinct counts (4x faster than text): the platform user id when the player
# sent one, else a 62-bit hash of the text id, negated so it can never equal a user id.
VIEWER_KEY = "coalesce(user_id, -(hash(viewer_user_id) >> 2)::BIGINT)"

_FRACTION = (
    "CASE WHEN video_duration_ms > 0 AND max_playhead_ms IS NOT NULL "
    "THEN least(greatest(max_playhead_ms, 0)::DOUBLE / video_duration_ms, 1.0) END"
)


def refresh_rollups(con: duckdb.DuckDBPyConnection, days: tuple[date, date] | None) -> None:
    """Recompute every rollup for view_day in [first, last] (None: all days). Runs in the caller's transaction."""
    if days is None:
        where, params = "view_day IS NOT NULL", []
    else:
        where, params = "view_day BETWEEN ? AND ?", [days[0], days[1]]
    for table in ROLLUP_TABLES:
        con.execute(f"DELETE FROM {table} WHERE {where}", params)
    source = f"(SELECT *, {_FRACTION} AS fraction, {VIEWER_KEY} AS viewer_key FROM mux_views WHERE {where})"
    con.execute(
        f"""INSERT INTO lesson_daily
        SELECT view_day, lesson_id, count(*), count(DISTINCT viewer_user_id),
               coalesce(sum(watch_time_ms), 0), coalesce(sum(playing_time_ms), 0),
               coalesce(sum(fraction), 0), count(fraction), count(*) FILTER (fraction >= {COMPLETED_FRACTION}),
               coalesce(sum(startup_time_ms), 0), count(startup_time_ms),
               coalesce(sum(rebuffer_percentage), 0), count(rebuffer_percentage),
               count(*) FILTER (playback_failure), count(*) FILTER (video_startup_failure),
               count(*) FILTER (exit_before_video_start)
        FROM {source} GROUP BY view_day, lesson_id ORDER BY view_day, lesson_id""",
        params,
    )
    con.execute(
        f"""INSERT INTO viewer_lesson_daily
        SELECT view_day, lesson_id, viewer_user_id, any_value(viewer_key), any_value(user_id), count(*),
               coalesce(sum(watch_time_ms), 0), coalesce(sum(playing_time_ms), 0), max(fraction), max(view_end)
        FROM {source} WHERE viewer_user_id IS NOT NULL
        GROUP BY view_day, lesson_id, viewer_user_id ORDER BY view_day, lesson_id""",
        params,
    )
    con.execute(
        f"""INSERT INTO viewer_daily
        SELECT view_day, viewer_key, count(*), coalesce(sum(watch_time_ms), 0)
        FROM {source} WHERE viewer_user_id IS NOT NULL
        GROUP BY view_day, viewer_key ORDER BY view_day""",
        params,
    )
    per_dimension = ", ".join(f"{{'dimension': '{d}', 'value': {d}}}" for d in QOE_DIMENSIONS)
    exploded = f"(SELECT s.*, d.dimension, d.value FROM {source} s, unnest([{per_dimension}]) t(d))"
    con.execute(
        f"""INSERT INTO qoe_daily
        SELECT view_day, dimension, value, count(*),
               coalesce(sum(rebuffer_percentage), 0), count(rebuffer_percentage),
               count(*) FILTER (rebuffer_count > 0), count(*) FILTER (playback_failure),
               count(*) FILTER (video_startup_failure), count(*) FILTER (exit_before_video_start),
               coalesce(sum(viewer_experience_score), 0), count(viewer_experience_score)
        FROM {exploded} GROUP BY view_day, dimension, value ORDER BY view_day""",
        params,
    )
    con.execute(
        f"""INSERT INTO qoe_startup_daily
        SELECT view_day, dimension, value,
               floor(log2(greatest(startup_time_ms, 1)) * {BUCKETS_PER_DOUBLING})::SMALLINT AS bucket, count(*)
        FROM {exploded} WHERE startup_time_ms IS NOT NULL
        GROUP BY view_day, dimension, value, bucket ORDER BY view_day""",
        params,
    )
    con.execute(
        f"""INSERT INTO lesson_retention_daily
        SELECT view_day, lesson_id, least(floor(fraction * 20 + 1e-9), 20)::SMALLINT AS bucket, count(*)
        FROM {source} WHERE fraction IS NOT NULL
        GROUP BY view_day, lesson_id, bucket ORDER BY view_day, lesson_id, bucket""",
        params,
    )


def refresh_platform_rollups(con: duckdb.DuckDBPyConnection) -> None:
    """Completion per lesson and progress per (student, course), counting enrolled students only."""
    con.execute("DELETE FROM lesson_completion")
    con.execute(
        """INSERT INTO lesson_completion
        WITH enrolled AS (SELECT course_id, count(DISTINCT user_id) AS n FROM enrollments GROUP BY course_id),
        progress AS (
            SELECT p.lesson_id, count(DISTINCT p.user_id) AS started,
                   count(DISTINCT p.user_id) FILTER (p.completed_at IS NOT NULL) AS completed
            FROM lesson_progress p
            JOIN lessons l ON l.id = p.lesson_id
            SEMI JOIN enrollments e ON e.user_id = p.user_id AND e.course_id = l.course_id
            GROUP BY p.lesson_id
        )
        SELECT l.id, l.course_id, coalesce(e.n, 0), coalesce(p.started, 0), coalesce(p.completed, 0)
        FROM lessons l LEFT JOIN enrolled e USING (course_id) LEFT JOIN progress p ON p.lesson_id = l.id"""
    )
    con.execute("DELETE FROM student_course_progress")
    con.execute(
        """INSERT INTO student_course_progress
        WITH first_enrolment AS (
            SELECT user_id, course_id, min(enrolled_at) AS enrolled_at FROM enrollments GROUP BY ALL
        ),
        progress AS (
            SELECT p.user_id, l.course_id, count(*) AS started, count(p.completed_at) AS completed,
                   sum(p.seconds_watched) AS seconds, max(p.updated_at) AS last_at
            FROM lesson_progress p JOIN lessons l ON l.id = p.lesson_id
            GROUP BY ALL
        )
        SELECT e.user_id, e.course_id, e.enrolled_at, coalesce(p.started, 0), coalesce(p.completed, 0),
               coalesce(p.seconds, 0), p.last_at
        FROM first_enrolment e LEFT JOIN progress p USING (user_id, course_id)"""
    )

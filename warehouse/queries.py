"""Named queries for dashboards and the API: parameters bound, teacher scope enforced in SQL, rows capped.

Every function takes a read-only connection (`WarehouseReader.connect()`), inclusive UTC dates where
it has a range, an optional `teacher_id` (a teacher only ever sees lessons of courses they teach — the
filter is part of each query's `scope` CTE, not left to the caller), and `max_rows`
(settings.query_max_rows). A result cut at `max_rows` has `df.attrs["truncated"] = True`.
Metric definitions are in warehouse/README.md.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from warehouse import rollups
from warehouse.rollups import BUCKETS_PER_DOUBLING
from warehouse.scope import SCOPE_CTE, run_capped, scope_params

# What QoE breaks down by -> its `mux_views` column: the dimensions the `qoe_daily` rollups keep (one list,
# in warehouse/rollups.py), plus the lesson, which is read from the views themselves.
QOE_DIMENSIONS = {**{name: f"v.{name}" for name in rollups.QOE_DIMENSIONS}, "lesson": "v.lesson_id"}


# The QoE figures of a group of `mux_views v` rows (one definition, shared with warehouse/operations.py).
QOE_METRICS = """count(*) AS views,
           quantile_cont(v.startup_time_ms, 0.5) AS startup_time_ms_p50,
           quantile_cont(v.startup_time_ms, 0.95) AS startup_time_ms_p95,
           avg(v.rebuffer_percentage) AS avg_rebuffer_percentage,
           count(*) FILTER (v.rebuffer_count > 0) / count(*) AS rebuffered_view_share,
           count(*) FILTER (v.playback_failure) / count(*) AS playback_failure_rate,
           count(*) FILTER (v.video_startup_failure) / count(*) AS startup_failure_rate,
           count(*) FILTER (v.exit_before_video_start) / count(*) AS exit_before_start_rate,
           avg(v.viewer_experience_score) AS avg_viewer_experience_score"""


def _unscoped(teacher_id: int | None, course_id: int | None, lesson_id: int | None) -> bool:
    return teacher_id is None and course_id is None and lesson_id is None


def _lesson_filter(unscoped: bool) -> str:
    """Without any scope every view counts (also videos that are not, or no longer, lessons), which lets
    the query skip the lesson semi-join; a scoped query keeps only the scope's lessons."""
    return "" if unscoped else "AND lesson_id IN (SELECT lesson_id FROM scope)"


def _viewer_rows(unscoped: bool, *, per_day: bool) -> str:
    """Viewer rows of the range: the per-day table when unscoped (one row per viewer and day instead of
    one per viewer, day and lesson), else the scope's lessons' rows — distinct per day when asked."""
    if unscoped:
        return "SELECT view_day, viewer_key FROM viewer_daily WHERE view_day BETWEEN $start AND $end"
    return (
        f"SELECT {'DISTINCT' if per_day else ''} view_day, viewer_key FROM viewer_lesson_daily "
        "WHERE view_day BETWEEN $start AND $end AND lesson_id IN (SELECT lesson_id FROM scope)"
    )


def engagement_kpis(
    con: duckdb.DuckDBPyConnection,
    *,
    start: date,
    end: date,
    course_id: int | None = None,
    lesson_id: int | None = None,
    teacher_id: int | None = None,
) -> pd.DataFrame:
    """One row: views, unique viewers, watch time, average view duration and % watched, completion rates."""
    everything = _unscoped(teacher_id, course_id, lesson_id)
    sql = f"""WITH {SCOPE_CTE},
    d AS (
        SELECT sum(views) AS views, sum(watch_time_ms) AS watch_ms, sum(playing_time_ms) AS playing_ms,
               sum(watched_fraction_sum) AS fraction_sum, sum(watched_fraction_n) AS fraction_n,
               sum(completed_views) AS completed_views
        FROM lesson_daily
        WHERE view_day BETWEEN $start AND $end {_lesson_filter(everything)}
    ),
    u AS (SELECT count(DISTINCT viewer_key) AS unique_viewers FROM ({_viewer_rows(everything, per_day=False)})),
    c AS (
        SELECT sum(students_completed) AS completed, sum(enrolled_students) AS possible,
               (SELECT count(DISTINCT user_id) FROM enrollments WHERE course_id IN (SELECT course_id FROM scope))
                   AS enrolled_students
        FROM lesson_completion WHERE lesson_id IN (SELECT lesson_id FROM scope)
    )
    SELECT coalesce(d.views, 0) AS views, u.unique_viewers,
           coalesce(d.watch_ms, 0) / 1000.0 AS watch_time_s, coalesce(d.playing_ms, 0) / 1000.0 AS playing_time_s,
           d.watch_ms / 1000.0 / NULLIF(d.views, 0) AS avg_view_duration_s,
           d.fraction_sum / NULLIF(d.fraction_n, 0) AS avg_fraction_watched,
           d.completed_views / NULLIF(d.views, 0) AS view_completion_rate,
           c.enrolled_students, coalesce(c.completed, 0) AS lesson_completions,
           c.completed / NULLIF(c.possible, 0) AS completion_rate
    FROM d, u, c"""
    return run_capped(con, sql, {**scope_params(teacher_id, course_id, lesson_id), "start": start, "end": end}, 1)


def engagement_trend(
    con: duckdb.DuckDBPyConnection,
    *,
    start: date,
    end: date,
    course_id: int | None = None,
    lesson_id: int | None = None,
    teacher_id: int | None = None,
    max_rows: int | None = None,
) -> pd.DataFrame:
    """Per day: views, unique viewers, watch time, average % watched (days without views are absent)."""
    everything = _unscoped(teacher_id, course_id, lesson_id)
    sql = f"""WITH {SCOPE_CTE},
    d AS (
        SELECT view_day, sum(views) AS views, sum(watch_time_ms) AS watch_ms,
               sum(watched_fraction_sum) / NULLIF(sum(watched_fraction_n), 0) AS avg_fraction_watched
        FROM lesson_daily
        WHERE view_day BETWEEN $start AND $end {_lesson_filter(everything)}
        GROUP BY view_day
    ),
    u AS (
        SELECT view_day, count(*) AS unique_viewers FROM ({_viewer_rows(everything, per_day=True)})
        GROUP BY view_day
    )
    SELECT d.view_day AS day, d.views, coalesce(u.unique_viewers, 0) AS unique_viewers,
           d.watch_ms / 1000.0 AS watch_time_s, d.avg_fraction_watched
    FROM d LEFT JOIN u USING (view_day)
    ORDER BY day"""
    params = {**scope_params(teacher_id, course_id, lesson_id), "start": start, "end": end}
    return run_capped(con, sql, params, max_rows)


def lesson_table(
    con: duckdb.DuckDBPyConnection,
    *,
    start: date,
    end: date,
    course_id: int | None = None,
    teacher_id: int | None = None,
    max_rows: int | None = None,
) -> pd.DataFrame:
    """One row per lesson in scope (watched or not), in course order."""
    sql = f"""WITH {SCOPE_CTE},
    d AS (
        SELECT lesson_id, sum(views) AS views, sum(watch_time_ms) AS watch_ms,
               sum(watched_fraction_sum) AS fraction_sum, sum(watched_fraction_n) AS fraction_n,
               sum(completed_views) AS completed_views
        FROM lesson_daily
        WHERE view_day BETWEEN $start AND $end AND lesson_id IN (SELECT lesson_id FROM scope)
        GROUP BY lesson_id
    ),
    u AS (
        SELECT lesson_id, count(DISTINCT viewer_key) AS unique_viewers FROM viewer_lesson_daily
        WHERE view_day BETWEEN $start AND $end AND lesson_id IN (SELECT lesson_id FROM scope)
        GROUP BY lesson_id
    ),
    SELECT s.lesson_id, s.lesson_title, s.position, s.course_id, s.course_title,
           coalesce(d.views, 0) AS views, coalesce(u.unique_viewers, 0) AS unique_viewers,
           coalesce(d.watch_ms, 0) / 1000.0 AS watch_time_s,
           d.watch_ms / 1000.0 / NULLIF(d.views, 0) AS avg_view_duration_s,
           d.fraction_sum / NULLIF(d.fraction_n, 0) AS avg_fraction_watched,
           d.completed_views / NULLIF(d.views, 0) AS view_completion_rate,
           coalesce(x.enrolled_students, 0) AS enrolled_students,
           coalesce(x.students_completed, 0) AS students_completed,
           x.students_completed / NULLIF(x.enrolled_students, 0) AS completion_rate
    FROM scope s
    LEFT JOIN d USING (lesson_id)
    LEFT JOIN u USING (lesson_id)
    LEFT JOIN lesson_completion x ON x.lesson_id = s.lesson_id
    ORDER BY s.course_id, s.position"""
    return run_capped(con, sql, {**scope_params(teacher_id, course_id), "start": start, "end": end}, max_rows)


def retention_curve(
    con: duckdb.DuckDBPyConnection,
    *,
    lesson_id: int,
    start: date,
    end: date,
    teacher_id: int | None = None,
) -> pd.DataFrame:
    """21 rows (0 %, 5 % ... 100 % of the video): share of the lesson's views still watching there."""
    sql = f"""WITH {SCOPE_CTE},
    h AS (
        SELECT bucket, sum(views) AS views FROM lesson_retention_daily
        WHERE view_day BETWEEN $start AND $end AND lesson_id IN (SELECT lesson_id FROM scope)
        GROUP BY bucket
    ),
    total AS (SELECT sum(views) AS views FROM h)
    SELECT (b.bucket * 5)::INTEGER AS pct_of_duration,
           coalesce((SELECT sum(h.views) FROM h WHERE h.bucket >= b.bucket), 0) AS views_reaching,
           coalesce((SELECT sum(h.views) FROM h WHERE h.bucket >= b.bucket), 0) / NULLIF(t.views, 0)
               AS share_still_watching
    FROM range(0, 21) b(bucket), total t
    WHERE t.views IS NOT NULL
    ORDER BY pct_of_duration"""
    return run_capped(con, sql, {**scope_params(teacher_id, lesson_id=lesson_id), "start": start, "end": end}, 21)


def course_funnel(con: duckdb.DuckDBPyConnection, *, course_id: int, teacher_id: int | None = None) -> pd.DataFrame:
    """Per lesson of a course: enrolled students, how many reached it (platform progress), viewed it on Mux,
    and completed it."""
    sql = f"""WITH {SCOPE_CTE},
    enrolled AS (SELECT DISTINCT user_id FROM enrollments WHERE course_id IN (SELECT course_id FROM scope)),
    viewed AS (
        SELECT v.lesson_id, count(DISTINCT v.user_id) AS viewed
        FROM viewer_lesson_daily v SEMI JOIN enrolled e ON e.user_id = v.user_id
        WHERE v.lesson_id IN (SELECT lesson_id FROM scope)
        GROUP BY v.lesson_id
    )
    SELECT s.position, s.lesson_id, s.lesson_title, coalesce(x.enrolled_students, 0) AS enrolled_students,
           coalesce(x.students_started, 0) AS students_reached, coalesce(w.viewed, 0) AS students_viewed,
           coalesce(x.students_completed, 0) AS students_completed,
           x.students_started / NULLIF(x.enrolled_students, 0) AS reached_share
    FROM scope s
    LEFT JOIN lesson_completion x ON x.lesson_id = s.lesson_id
    LEFT JOIN viewed w ON w.lesson_id = s.lesson_id
    ORDER BY s.position"""
    return run_capped(con, sql, scope_params(teacher_id, course_id), None)


def students_table(
    con: duckdb.DuckDBPyConnection,
    *,
    start: date,
    end: date,
    course_id: int | None = None,
    teacher_id: int | None = None,
    max_rows: int | None = None,
) -> pd.DataFrame:
    """One row per (enrolled student, course) in scope: platform progress plus Mux views in the range.

    Students are their student keys (core/privacy.py): the warehouse holds no names or emails.
    """
    sql = f"""WITH {SCOPE_CTE},
    courses_in AS (SELECT DISTINCT course_id, course_title FROM scope),
    views AS (
        SELECT v.user_id, s.course_id, sum(v.views) AS views, sum(v.watch_time_ms) / 1000.0 AS watch_time_s,
               max(v.last_view_end) AS last_view_at
        FROM viewer_lesson_daily v JOIN scope s USING (lesson_id)
        WHERE v.view_day BETWEEN $start AND $end AND v.user_id IS NOT NULL
        GROUP BY v.user_id, s.course_id
    )
    SELECT p.user_id AS student_key, p.course_id, c.course_title, p.enrolled_at,
           p.lessons_started, p.lessons_completed, p.seconds_watched, coalesce(v.views, 0) AS views,
           coalesce(v.watch_time_s, 0) AS watch_time_s, v.last_view_at, p.last_progress_at
    FROM student_course_progress p
    JOIN courses_in c ON c.course_id = p.course_id
    LEFT JOIN views v ON v.user_id = p.user_id AND v.course_id = p.course_id
    ORDER BY watch_time_s DESC, p.user_id"""
    return run_capped(con, sql, {**scope_params(teacher_id, course_id), "start": start, "end": end}, max_rows)


def qoe_breakdown(
    con: duckdb.DuckDBPyConnection,
    *,
    start: date,
    end: date,
    by: str = "browser",
    course_id: int | None = None,
    lesson_id: int | None = None,
    teacher_id: int | None = None,
    max_rows: int | None = None,
) -> pd.DataFrame:
    """Quality of experience per `by` (browser, os, device, country, player, lesson), most views first.

    Scoped to a teacher, course or lesson, everything is computed from the views themselves (startup
    percentiles exact). Platform-wide, by anything but lesson, it comes from the `qoe_daily` rollups:
    rates exact, startup p50/p95 read from a log-scale histogram (within ~3.5 %); the result then has
    `df.attrs["approximate_percentiles"] = True`.
    """
    if by not in QOE_DIMENSIONS:
        raise ValueError(f"cannot break QoE down by {by!r}; choose from {', '.join(QOE_DIMENSIONS)}")
    params = {**scope_params(teacher_id, course_id, lesson_id), "start": start, "end": end}
    everything = _unscoped(teacher_id, course_id, lesson_id)
    if everything and by != "lesson":
        df = run_capped(con, f"WITH {SCOPE_CTE}, {_QOE_FROM_ROLLUPS}", {**params, "dimension": by}, max_rows)
        df = df.rename(columns={"value": by})
        df.attrs["approximate_percentiles"] = True
        return df
    # The column comes from the fixed map above, never from the caller's text.
    column = QOE_DIMENSIONS[by]
    sql = f"""WITH {SCOPE_CTE}
    SELECT {column} AS {by}, {QOE_METRICS}
    FROM mux_views v
    WHERE v.view_day BETWEEN $start AND $end {_lesson_filter(everything)}
    GROUP BY 1
    ORDER BY views DESC"""
    df = run_capped(con, sql, params, max_rows)
    df.attrs["approximate_percentiles"] = False
    return df


# Bucket b of the startup histogram covers [2^(b/10), 2^((b+1)/10)) ms; a percentile is reported as the
# geometric middle of the bucket it falls in.
_QOE_FROM_ROLLUPS = f"""q AS (
        SELECT value, sum(views) AS views, sum(rebuffer_percentage_sum) / NULLIF(sum(rebuffer_percentage_n), 0)
                   AS avg_rebuffer_percentage,
               sum(rebuffered_views) / sum(views) AS rebuffered_view_share,
               sum(playback_failures) / sum(views) AS playback_failure_rate,
               sum(startup_failures) / sum(views) AS startup_failure_rate,
               sum(exits_before_start) / sum(views) AS exit_before_start_rate,
               sum(experience_score_sum) / NULLIF(sum(experience_score_n), 0) AS avg_viewer_experience_score
        FROM qoe_daily WHERE dimension = $dimension AND view_day BETWEEN $start AND $end
        GROUP BY value
    ),
    h AS (
        SELECT value, bucket, sum(views) AS n FROM qoe_startup_daily
        WHERE dimension = $dimension AND view_day BETWEEN $start AND $end GROUP BY value, bucket
    ),
    c AS (
        SELECT value, bucket, sum(n) OVER (PARTITION BY value ORDER BY bucket) AS cum,
               sum(n) OVER (PARTITION BY value) AS total
        FROM h
    ),
    p AS (
        SELECT value,
               pow(2, (min(bucket) FILTER (cum >= 0.5 * total) + 0.5) / {BUCKETS_PER_DOUBLING}) AS p50,
               pow(2, (min(bucket) FILTER (cum >= 0.95 * total) + 0.5) / {BUCKETS_PER_DOUBLING}) AS p95
        FROM c GROUP BY value
    )
    SELECT q.value, q.views, p.p50 AS startup_time_ms_p50, p.p95 AS startup_time_ms_p95,
           q.avg_rebuffer_percentage, q.rebuffered_view_share, q.playback_failure_rate, q.startup_failure_rate,
           q.exit_before_start_rate, q.avg_viewer_experience_score
    FROM q LEFT JOIN p ON p.value IS NOT DISTINCT FROM q.value
    ORDER BY q.views DESC"""


_USAGE_SCOPED = f"""{SCOPE_CTE},
    by_asset AS (SELECT mux_asset_id AS asset_id, min(lesson_id) AS lesson_id FROM scope
                 WHERE mux_asset_id IS NOT NULL GROUP BY 1),
    u AS (
        SELECT d.*, coalesce(a.lesson_id, s.lesson_id) AS scoped_lesson_id
        FROM delivery_usage d
        LEFT JOIN by_asset a ON a.asset_id = d.asset_id
        LEFT JOIN scope s ON s.lesson_id = d.lesson_id
        WHERE d.usage_day BETWEEN $start AND $end AND coalesce(a.lesson_id, s.lesson_id) IS NOT NULL
    )"""


def usage_by_day(
    con: duckdb.DuckDBPyConnection,
    *,
    start: date,
    end: date,
    course_id: int | None = None,
    teacher_id: int | None = None,
    max_rows: int | None = None,
) -> pd.DataFrame:
    """Delivered minutes per UTC day for the lessons in scope, split by resolution tier."""
    sql = f"""WITH {_USAGE_SCOPED}
    SELECT usage_day AS day, sum(delivered_seconds) / 60.0 AS delivered_minutes,
           sum(delivered_seconds_720p) / 60.0 AS minutes_720p, sum(delivered_seconds_1080p) / 60.0 AS minutes_1080p,
           sum(delivered_seconds_1440p) / 60.0 AS minutes_1440p, sum(delivered_seconds_2160p) / 60.0 AS minutes_2160p,
           sum(delivered_seconds_audio_only) / 60.0 AS minutes_audio_only, count(DISTINCT asset_id) AS assets
    FROM u GROUP BY usage_day ORDER BY day"""
    return run_capped(con, sql, {**scope_params(teacher_id, course_id), "start": start, "end": end}, max_rows)


def usage_by_asset(
    con: duckdb.DuckDBPyConnection,
    *,
    start: date,
    end: date,
    course_id: int | None = None,
    teacher_id: int | None = None,
    max_rows: int | None = None,
) -> pd.DataFrame:
    """Delivered minutes per asset (and its lesson and course) over the range, largest first."""
    sql = f"""WITH {_USAGE_SCOPED}
    SELECT u.asset_id, u.scoped_lesson_id AS lesson_id, s.lesson_title, s.course_id, s.course_title,
           sum(u.delivered_seconds) / 60.0 AS delivered_minutes,
           any_value(u.asset_resolution_tier) AS resolution_tier, any_value(u.asset_video_quality) AS video_quality,
           any_value(u.asset_duration_s) AS asset_duration_s
    FROM u JOIN scope s ON s.lesson_id = u.scoped_lesson_id
    GROUP BY ALL ORDER BY delivered_minutes DESC, u.asset_id"""
    return run_capped(con, sql, {**scope_params(teacher_id, course_id), "start": start, "end": end}, max_rows)


def sync_status(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The sync_state table, one row per job (what `lectern sync status` prints)."""
    return con.execute(
        "SELECT job, status, watermark, last_run_at, last_success_at, rows, duration_s, error "
        "FROM sync_state ORDER BY job"
    ).df()

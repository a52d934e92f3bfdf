"""Example queries shipped with the workbench: the common questions, answered from the documented views.

Each reads the rollups or `v_*` views where one answers the question (they stay fast at 10M views), and
runs in a teacher's copy too (it holds the same tables for their own courses).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.costs.pricebook import TIERS, load_pricebook


@dataclass(frozen=True)
class Example:
    name: str
    description: str
    sql: str


def _delivery_prices() -> str:
    """`(quality, tier, usd_per_minute)` rows of the list price book, for the cost example."""
    book = load_pricebook()
    rows = [
        f"('{quality}', '{tier}', {book.price('delivery', quality, tier)})"
        for quality in ("basic", "plus", "premium")
        for tier in TIERS
    ]
    return ",\n        ".join(rows)


VIEWS_BY_COURSE_WEEK = Example(
    "Views and watch time by course per week",
    "Mux Data views and hours watched per course and ISO week (weeks start on Monday, UTC).",
    """SELECT date_trunc('week', day)::DATE AS week, course_id, course_title,
       sum(views) AS views, round(sum(watch_time_s) / 3600, 2) AS watch_hours
FROM v_daily_lesson_engagement
WHERE course_id IS NOT NULL
GROUP BY ALL
ORDER BY week, course_title""",
)

EXAMPLES: tuple[Example, ...] = (
    VIEWS_BY_COURSE_WEEK,
    Example(
        "Completion by lesson",
        "Per lesson, in course order: enrolled students, how many started and completed it (platform progress).",
        """SELECT course_title, position, lesson_title, enrolled_students, students_started,
       students_completed, round(completion_rate, 3) AS completion_rate
FROM v_lesson_completion
ORDER BY course_title, position""",
    ),
    Example(
        "Startup time by browser",
        "Time to first frame per browser over all views: median and 95th percentile (exact, from the raw views).",
        """SELECT browser, count(*) AS views,
       quantile_cont(startup_time_ms, 0.5) AS startup_ms_p50,
       quantile_cont(startup_time_ms, 0.95) AS startup_ms_p95,
       round(avg(rebuffer_percentage), 4) AS avg_rebuffer_percentage
FROM mux_views
GROUP BY browser
ORDER BY views DESC""",
    ),
    Example(
        "Cost per course per month",
        "Mux delivery cost per course and month at list prices by resolution tier (no free minutes, storage or "
        "encoding: the Costs page and `lectern costs report --group-by course` give the full estimate).",
        f"""WITH price(quality, tier, usd_per_minute) AS (
    VALUES
        {_delivery_prices()}
),
usage AS (
    SELECT date_trunc('month', day)::DATE AS month, course_id, course_title,
           CASE WHEN asset_video_quality IN ('plus', 'smart') THEN 'plus'
                WHEN asset_video_quality = 'premium' THEN 'premium' ELSE 'basic' END AS quality,
           unnest(['720p', '1080p', '1440p', '2160p', 'audio-only']) AS tier,
           unnest([delivered_seconds_720p, delivered_seconds_1080p, delivered_seconds_1440p,
                   delivered_seconds_2160p, delivered_seconds_audio_only]) / 60 AS minutes
    FROM v_usage_daily
)
SELECT month, course_id, course_title, round(sum(minutes), 1) AS delivered_minutes,
       round(sum(minutes * usd_per_minute), 2) AS delivery_usd
FROM usage JOIN price USING (quality, tier)
GROUP BY ALL
ORDER BY month, delivery_usd DESC""",
    ),
    Example(
        "S3 vs Mux lessons during the cut-over",
        "Per course: lessons on Mux, still on S3, and without a video, with Mux's share and its views this month.",
        """SELECT c.title AS course_title,
       count(*) FILTER (l.video_provider = 'mux') AS mux_lessons,
       count(*) FILTER (l.video_provider = 's3') AS s3_lessons,
       count(*) FILTER (l.video_provider IS NULL) AS no_video,
       round(count(*) FILTER (l.video_provider = 'mux') / count(*), 3) AS mux_share,
       (SELECT coalesce(sum(d.views), 0) FROM lesson_daily d JOIN lessons m ON m.id = d.lesson_id
        WHERE m.course_id = c.id AND m.video_provider = 'mux'
          AND d.view_day >= date_trunc('month', current_date)) AS mux_views_this_month
FROM lessons l JOIN courses c ON c.id = l.course_id
GROUP BY c.id, c.title
ORDER BY mux_share, course_title""",
    ),
)

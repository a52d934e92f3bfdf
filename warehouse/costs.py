"""The frames cost estimates need, read from the warehouse (bound parameters only).

`load_cost_inputs(con, period)` returns what `core.costs.estimate_costs` takes: assets (from the `assets`
table, plus assets only seen in `delivery_usage` — long-deleted ones keep their metadata there), delivery
usage unpivoted to one row per asset x day x delivered resolution tier, play days from `mux_views` (from
`cold_after_days` before the window, for Automatic Cold Storage), the lesson -> course -> teacher
attribution, and the lessons still on S3 with their platform watch rate (for what-if and migration preview).
Mux test assets are free and left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import pandas as pd

from core.costs.errors import CostInputInvalid
from core.costs.estimate import CostEstimate, Period, estimate_costs, month_start
from core.costs.forecast import Forecast, forecast_costs, history_from_estimate, history_period
from core.costs.pricebook import PriceBook

# Deleted basic assets are billed up to a month past deletion; reach back far enough to see them.
DELETED_LOOKBACK_DAYS = 400

ASSETS_SQL = """
WITH lesson_by_asset AS (
    SELECT mux_asset_id AS asset_id, min(id) AS lesson_id FROM lessons
    WHERE mux_asset_id IS NOT NULL GROUP BY 1
), from_usage AS (
    SELECT asset_id, any_value(lesson_id) AS lesson_id, max(asset_duration_s) AS duration_s,
           any_value(asset_resolution_tier) AS resolution_tier,
           any_value(coalesce(asset_video_quality, asset_encoding_tier)) AS video_quality,
           min(asset_created_at) AS created_at, max(asset_deleted_at) AS deleted_at,
           any_value(asset_state) AS status
    FROM delivery_usage
    WHERE usage_day >= $start AND usage_day < $end
    GROUP BY asset_id
)
SELECT a.asset_id, coalesce(a.lesson_id, l.lesson_id) AS lesson_id, a.duration_s,
       coalesce(a.resolution_tier, a.max_resolution_tier) AS resolution_tier,
       coalesce(a.video_quality, a.encoding_tier) AS video_quality, a.created_at, a.deleted_at, a.status
FROM assets a
LEFT JOIN lesson_by_asset l ON l.asset_id = a.asset_id
WHERE coalesce(a.is_test, false) = false
  AND a.created_at < $end
  AND (a.deleted_at IS NULL OR a.deleted_at >= $deleted_since)
UNION ALL
SELECT u.asset_id, coalesce(u.lesson_id, l.lesson_id), u.duration_s, u.resolution_tier, u.video_quality,
       u.created_at, u.deleted_at, u.status
FROM from_usage u
LEFT JOIN lesson_by_asset l ON l.asset_id = u.asset_id
WHERE u.created_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM assets a WHERE a.asset_id = u.asset_id)
"""

# One row per asset, day and delivered tier; seconds Mux did not break down by tier go to the asset's tier.
DELIVERY_SQL = """
WITH d AS (
    SELECT asset_id, usage_day AS day, any_value(asset_resolution_tier) AS asset_tier,
           any_value(coalesce(asset_video_quality, asset_encoding_tier)) AS video_quality,
           any_value(lesson_id) AS lesson_id,
           sum(delivered_seconds) AS total_s,
           sum(delivered_seconds_720p) AS s720, sum(delivered_seconds_1080p) AS s1080,
           sum(delivered_seconds_1440p) AS s1440, sum(delivered_seconds_2160p) AS s2160,
           sum(delivered_seconds_audio_only) AS saudio
    FROM delivery_usage
    WHERE usage_day >= $start AND usage_day < $end
    GROUP BY asset_id, usage_day
), long AS (
    SELECT asset_id, day, video_quality, lesson_id, '720p' AS resolution_tier, s720 AS delivered_s FROM d
    UNION ALL SELECT asset_id, day, video_quality, lesson_id, '1080p', s1080 FROM d
    UNION ALL SELECT asset_id, day, video_quality, lesson_id, '1440p', s1440 FROM d
    UNION ALL SELECT asset_id, day, video_quality, lesson_id, '2160p', s2160 FROM d
    UNION ALL SELECT asset_id, day, video_quality, lesson_id, 'audio-only', saudio FROM d
    UNION ALL SELECT asset_id, day, video_quality, lesson_id, coalesce(asset_tier, '1080p'),
                     total_s - (s720 + s1080 + s1440 + s2160 + saudio) FROM d
)
SELECT asset_id, day, resolution_tier, sum(delivered_s) AS delivered_s,
       any_value(video_quality) AS video_quality, any_value(lesson_id) AS lesson_id
FROM long WHERE delivered_s > 0.5
GROUP BY ALL
"""

VIEWS_SQL = """
SELECT DISTINCT asset_id, view_day AS day FROM mux_views
WHERE asset_id IS NOT NULL AND view_day >= $start AND view_day < $end
"""

ATTRIBUTION_SQL = """
SELECT l.id AS lesson_id, l.title AS lesson_title, l.course_id, c.title AS course_title,
       c.teacher_id, t.name AS teacher_name
FROM lessons l
LEFT JOIN courses c ON c.id = l.course_id
LEFT JOIN users t ON t.id = c.teacher_id
"""

# Watch rate: seconds watched on the platform per day since the course's first enrollment (at least 7 days,
# so a lesson enrolled yesterday does not extrapolate one eager student to a month).
S3_LESSONS_SQL = """
WITH first_enrolled AS (SELECT course_id, min(enrolled_at) AS since FROM enrollments GROUP BY course_id),
watched AS (SELECT lesson_id, sum(seconds_watched) AS seconds FROM lesson_progress GROUP BY lesson_id)
SELECT l.id AS lesson_id, l.title AS lesson_title, l.course_id, c.teacher_id,
       coalesce(l.video_duration_s, l.duration_s, 0) AS duration_s,
       coalesce(w.seconds, 0) AS seconds_watched,
       coalesce(w.seconds, 0) / greatest(7, date_diff('day', coalesce(f.since, l.created_at), $as_of))
           AS watched_s_per_day
FROM lessons l
LEFT JOIN courses c ON c.id = l.course_id
LEFT JOIN first_enrolled f ON f.course_id = l.course_id
LEFT JOIN watched w ON w.lesson_id = l.id
WHERE l.mux_asset_id IS NULL AND l.video_url IS NOT NULL
  AND (l.video_provider = 's3' OR l.video_provider IS NULL)
ORDER BY l.id
"""

LATEST_DAY_SQL = "SELECT max(usage_day) FROM delivery_usage"


@dataclass
class CostInputs:
    period: Period
    assets: pd.DataFrame
    delivery: pd.DataFrame
    views: pd.DataFrame
    attribution: pd.DataFrame


def _ts(d: date) -> pd.Timestamp:
    return pd.Timestamp(d).tz_localize("UTC")


def load_cost_inputs(con: duckdb.DuckDBPyConnection, period: Period, *, cold_after_days: int = 90) -> CostInputs:
    """Everything `estimate_costs` needs for `period` (whole months around it, views from before it)."""
    window_start, window_end = period.data_window()
    assets = con.execute(
        ASSETS_SQL,
        {
            "start": window_start,
            "end": _ts(window_end),
            "deleted_since": _ts(window_start - timedelta(days=DELETED_LOOKBACK_DAYS)),
        },
    ).df()
    delivery = con.execute(DELIVERY_SQL, {"start": window_start, "end": window_end}).df()
    views = con.execute(
        VIEWS_SQL, {"start": window_start - timedelta(days=cold_after_days + 1), "end": window_end}
    ).df()
    attribution = con.execute(ATTRIBUTION_SQL).df()
    return CostInputs(period, assets, delivery, views, attribution)


def load_s3_lessons(con: duckdb.DuckDBPyConnection, as_of: date) -> pd.DataFrame:
    """Lessons still on S3: `lesson_id`, `duration_s`, `watched_s_per_day` (+ title, course, teacher)."""
    return con.execute(S3_LESSONS_SQL, {"as_of": _ts(as_of)}).df()


def latest_usage_day(con: duckdb.DuckDBPyConnection) -> date | None:
    row = con.execute(LATEST_DAY_SQL).fetchone()
    return row[0] if row and row[0] is not None else None


def estimate_period(
    con: duckdb.DuckDBPyConnection, period: Period, book: PriceBook, *, today: date
) -> tuple[CostEstimate, pd.DataFrame]:
    """The priced rows for `period` (nothing after `today`) and the attribution frame for rollups."""
    inputs = load_cost_inputs(con, period, cold_after_days=book.cold_after_days)
    estimate = estimate_costs(
        inputs.assets, inputs.delivery, inputs.views, period, book, as_of=today + timedelta(days=1)
    )
    return estimate, inputs.attribution


@dataclass
class CostOverview:
    """Everything the admin costs page shows, from one pass over the warehouse."""

    today: date
    period: Period
    estimate: CostEstimate  # the selected period
    attribution: pd.DataFrame
    month_to_date_micros: int
    last_month_micros: int
    last_month_same_days_micros: int
    forecast: Forecast | None
    inputs: CostInputs  # for what-if (covers the selected period)
    notes: list[str]


def cost_overview(
    con: duckdb.DuckDBPyConnection,
    book: PriceBook,
    *,
    today: date,
    period: Period,
    budget_usd: float | None = None,
    history_days: int = 90,
) -> CostOverview:
    """One estimate over the selected period, this month, last month and the forecast's history."""
    as_of = today + timedelta(days=1)
    this_month = month_start(today)
    last_month = month_start(this_month - timedelta(days=1))
    history = history_period(as_of, history_days)
    start = min(period.start, last_month, history.start)
    end = max(period.end, as_of)
    whole = Period(start, end)
    inputs = load_cost_inputs(con, whole, cold_after_days=book.cold_after_days)
    bounds = [period.start, period.end, history.start, this_month, last_month, as_of]
    same_days_end = min(last_month + (as_of - this_month), this_month)
    bounds.append(same_days_end)
    estimate = estimate_costs(inputs.assets, inputs.delivery, inputs.views, whole, book, as_of=as_of, split_at=bounds)
    notes = list(estimate.notes)
    try:
        forecast = forecast_costs(
            history_from_estimate(estimate.subset(history)), book, as_of=as_of, budget_usd=budget_usd
        )
        notes += forecast.notes
    except CostInputInvalid as exc:
        forecast = None
        notes.append(f"no forecast: {exc.message}")
    return CostOverview(
        today=today,
        period=period,
        estimate=estimate.subset(period),
        attribution=inputs.attribution,
        month_to_date_micros=estimate.subset(Period(this_month, as_of)).total_micros,
        last_month_micros=estimate.subset(Period(last_month, this_month)).total_micros,
        last_month_same_days_micros=estimate.subset(Period(last_month, same_days_end)).total_micros,
        forecast=forecast,
        inputs=CostInputs(period, inputs.assets, inputs.delivery, inputs.views, inputs.attribution),
        notes=notes,
    )

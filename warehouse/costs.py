"""Cost estimates from the warehouse: DuckDB reads the usage in place, only arrays and roll-ups come back.

The estimator's inputs are SQL over the warehouse tables (bound parameters only): assets (from the `assets`
table, plus assets only seen in `delivery_usage` — long-deleted ones keep their metadata there), delivery
usage per asset and day with a column per delivered tier, play days from `mux_views` (from
`cold_after_days` before the window, for Automatic Cold Storage). `estimate_period`, `cost_overview` and
`forecast_from_warehouse` read them on the caller's connection (a reader's cursor, or the sync's working
file) and price them (`core/costs/pricing.py`); `load_cost_inputs` reads the same relations as frames for
what-if scenarios (`what_if_from_warehouse`). Also: the lesson -> course -> teacher attribution, and the
lessons still on S3 with their platform watch rate (for what-if and migration preview). Mux test assets
are free and left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import pandas as pd

from core.costs.errors import CostInputInvalid
from core.costs.forecast import Forecast, forecast_costs, history_from_estimate, history_period
from core.costs.period import CostEstimate, Period, month_start, priced_window
from core.costs.pricebook import PriceBook
from core.costs.pricing import Priced, Sources, price
from core.costs.rollups import estimate
from core.costs.whatif import Levers, WhatIf, what_if

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
    FROM delivery_usage u
    WHERE usage_day >= $window_start AND usage_day < $window_end
      AND NOT EXISTS (SELECT 1 FROM assets a WHERE a.asset_id = u.asset_id)
    GROUP BY asset_id
)
SELECT a.asset_id, coalesce(a.lesson_id, l.lesson_id) AS lesson_id, a.duration_s,
       coalesce(a.resolution_tier, a.max_resolution_tier) AS resolution_tier,
       coalesce(a.video_quality, a.encoding_tier) AS video_quality, a.created_at, a.deleted_at, a.status
FROM assets a
LEFT JOIN lesson_by_asset l ON l.asset_id = a.asset_id
WHERE coalesce(a.is_test, false) = false
  AND a.created_at < $window_end_ts
  AND (a.deleted_at IS NULL OR a.deleted_at >= $deleted_since)
UNION ALL
SELECT u.asset_id, coalesce(u.lesson_id, l.lesson_id), u.duration_s, u.resolution_tier, u.video_quality,
       u.created_at, u.deleted_at, u.status
FROM from_usage u
LEFT JOIN lesson_by_asset l ON l.asset_id = u.asset_id
WHERE u.created_at IS NOT NULL
"""

# Delivery usage per asset and day. The sync stores whole UTC days (one row per asset and day: the primary
# key is asset + window start); usage stored in other windows is summed per day first (slower: a hash of
# every asset-day).
USAGE_BY_DAY = {
    True: """
    SELECT asset_id, usage_day AS day, asset_resolution_tier AS asset_tier,
           coalesce(asset_video_quality, asset_encoding_tier) AS video_quality, lesson_id,
           delivered_seconds AS total_s, delivered_seconds_720p AS s720, delivered_seconds_1080p AS s1080,
           delivered_seconds_1440p AS s1440, delivered_seconds_2160p AS s2160,
           delivered_seconds_audio_only AS saudio
    FROM delivery_usage
    WHERE usage_day >= $window_start AND usage_day < $window_end""",
    False: """
    SELECT asset_id, usage_day AS day, any_value(asset_resolution_tier) AS asset_tier,
           any_value(coalesce(asset_video_quality, asset_encoding_tier)) AS video_quality,
           any_value(lesson_id) AS lesson_id,
           sum(delivered_seconds) AS total_s,
           sum(delivered_seconds_720p) AS s720, sum(delivered_seconds_1080p) AS s1080,
           sum(delivered_seconds_1440p) AS s1440, sum(delivered_seconds_2160p) AS s2160,
           sum(delivered_seconds_audio_only) AS saudio
    FROM delivery_usage
    WHERE usage_day >= $window_start AND usage_day < $window_end
    GROUP BY asset_id, usage_day""",
}
# Every window starts at midnight UTC of its usage day (integer arithmetic: one cheap pass).
WHOLE_DAYS_SQL = """
SELECT coalesce(bool_and(epoch_ms(window_start) = (usage_day - DATE '1970-01-01') * 86400000), true)
FROM delivery_usage WHERE usage_day >= $window_start AND usage_day < $window_end
"""
TIER_SECONDS = {"720p": "s720", "1080p": "s1080", "1440p": "s1440", "2160p": "s2160", "audio-only": "saudio"}


REST = "total_s - (s720 + s1080 + s1440 + s2160 + saudio)"


def _with_rest(whole_days: bool) -> str:
    """Usage per asset and day, with the seconds Mux did not break down by tier (`rest`) and their tier."""
    return f"SELECT *, {REST} AS rest, coalesce(asset_tier, '1080p') AS rest_tier FROM ({USAGE_BY_DAY[whole_days]})"


def _part(column: str, tier: str) -> str:
    """Seconds at `tier`: its own part and the rest when the asset's tier is spelled as it, each dropped
    under half a second."""
    return (
        f"CASE WHEN {column} > 0.5 THEN {column} ELSE 0 END "
        f"+ CASE WHEN rest > 0.5 AND rest_tier = '{tier}' THEN rest ELSE 0 END"
    )


OWN_TIERS = ", ".join(f"'{tier}'" for tier in TIER_SECONDS)
OTHER = f"CASE WHEN rest > 0.5 AND rest_tier NOT IN ({OWN_TIERS}) THEN rest ELSE 0 END"


def _delivery_sql(whole_days: bool) -> str:
    """One row per asset, day and delivered tier (the frames `estimate_costs` takes). Seconds Mux did not
    break down by tier go to the asset's tier: added to that tier's row when the asset's tier is spelled
    as one, else a row of their own (the estimator reads the spelling)."""
    parts = [
        f"SELECT asset_id, day, video_quality, lesson_id, '{tier}' AS resolution_tier, "
        f"{_part(col, tier)} AS delivered_s FROM d"
        for tier, col in TIER_SECONDS.items()
    ]
    parts.append(f"SELECT asset_id, day, video_quality, lesson_id, rest_tier, {OTHER} FROM d")
    union = "\n    UNION ALL ".join(parts)
    return f"""
WITH d AS MATERIALIZED ({_with_rest(whole_days)}), long AS (
    {union}
)
SELECT asset_id, day, resolution_tier, delivered_s, video_quality, lesson_id FROM long WHERE delivered_s > 0
"""


def _delivery_source(whole_days: bool) -> str:
    """The same usage for the estimator (`core/costs/inputs.py`): one row per asset and day, a column per tier."""
    parts = ", ".join(f"{_part(col, tier)} AS {col}" for tier, col in TIER_SECONDS.items())
    return f"""
SELECT asset_id, CAST(day - DATE '1970-01-01' AS BIGINT) AS day, {parts}, {OTHER} AS other_s,
       rest_tier AS other_tier, video_quality, lesson_id, 0 AS ord
FROM ({_with_rest(whole_days)})
"""


VIEWS_SQL = """
SELECT DISTINCT asset_id, view_day AS day FROM mux_views
WHERE asset_id IS NOT NULL AND view_day >= $views_start AND view_day < $window_end
"""

# The same relations in the estimator's input shape (`core/costs/inputs.py`): days as day numbers.
ASSET_SOURCE = f"""
SELECT asset_id, lesson_id, duration_s, resolution_tier, video_quality,
       CAST(CAST(timezone('UTC', created_at) AS DATE) - DATE '1970-01-01' AS BIGINT) AS created_day,
       CAST(CAST(timezone('UTC', deleted_at) AS DATE) - DATE '1970-01-01' AS BIGINT) AS deleted_day,
       status, 0 AS ord
FROM ({ASSETS_SQL})
"""
# Every view, not one per day: the estimator drops repeated days while sorting them (cheaper than DISTINCT).
VIEW_SOURCE = """
SELECT asset_id, CAST(view_day - DATE '1970-01-01' AS BIGINT) AS day FROM mux_views
WHERE asset_id IS NOT NULL AND view_day >= $views_start AND view_day < $window_end
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


@dataclass
class CostInputs:
    period: Period
    assets: pd.DataFrame
    delivery: pd.DataFrame
    views: pd.DataFrame
    attribution: pd.DataFrame


def _ts(d: date) -> pd.Timestamp:
    return pd.Timestamp(d).tz_localize("UTC")


def _params(period: Period, cold_after_days: int) -> dict[str, object]:
    window_start, window_end = period.data_window()
    return {
        "window_start": window_start,
        "window_end": window_end,
        "window_end_ts": _ts(window_end),
        "deleted_since": _ts(window_start - timedelta(days=DELETED_LOOKBACK_DAYS)),
        "views_start": window_start - timedelta(days=cold_after_days + 1),
    }


def _bound(sql: str, params: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in params.items() if f"${k}" in sql}


def _whole_days(con: duckdb.DuckDBPyConnection, params: dict[str, object]) -> bool:
    return bool(con.execute(WHOLE_DAYS_SQL, _bound(WHOLE_DAYS_SQL, params)).fetchall()[0][0])


def cost_sources(con: duckdb.DuckDBPyConnection, period: Period, *, cold_after_days: int = 90) -> Sources:
    """The estimator's inputs for `period` (whole months around it, plays from before it) as warehouse SQL."""
    params = _params(period, cold_after_days)
    delivery = _delivery_source(_whole_days(con, params))
    # `assets` has one row per asset_id, and usage adds only assets missing from it.
    return Sources(ASSET_SOURCE, delivery, VIEW_SOURCE, params, unique_assets=True)


def load_cost_inputs(con: duckdb.DuckDBPyConnection, period: Period, *, cold_after_days: int = 90) -> CostInputs:
    """The same inputs as frames (what `estimate_costs` takes), for what-if scenarios."""
    params = _params(period, cold_after_days)
    assets = con.execute(ASSETS_SQL, _bound(ASSETS_SQL, params)).df()
    delivery_sql = _delivery_sql(_whole_days(con, params))
    delivery = con.execute(delivery_sql, _bound(delivery_sql, params)).df()
    views = con.execute(VIEWS_SQL, _bound(VIEWS_SQL, params)).df()
    attribution = con.execute(ATTRIBUTION_SQL).df()
    return CostInputs(period, assets, delivery, views, attribution)


def load_attribution(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """lesson -> course -> teacher, with titles (through Arrow: 3-4x faster than `.df()` for the strings)."""
    return con.sql(ATTRIBUTION_SQL).to_arrow_table().to_pandas()


def load_s3_lessons(con: duckdb.DuckDBPyConnection, as_of: date) -> pd.DataFrame:
    """Lessons still on S3: `lesson_id`, `duration_s`, `watched_s_per_day` (+ title, course, teacher)."""
    return con.execute(S3_LESSONS_SQL, {"as_of": _ts(as_of)}).df()


def price_period(
    con: duckdb.DuckDBPyConnection, period: Period, book: PriceBook, *, as_of: date, boundaries: list[date]
) -> tuple[Priced, list[str]]:
    """Read `period`'s window on `con` and price it, cut at the period's bounds and `boundaries`."""
    start, end, notes = priced_window(period, as_of)
    sources = cost_sources(con, period, cold_after_days=book.cold_after_days)
    priced = price(con, sources, book, window=(start, end), boundaries=[period.start, period.end, *boundaries])
    return priced, notes


def estimate_period(
    con: duckdb.DuckDBPyConnection, period: Period, book: PriceBook, *, today: date, detail: bool = False
) -> tuple[CostEstimate, pd.DataFrame]:
    """The roll-ups for `period` (nothing after `today`) and the attribution frame for course/teacher reports."""
    priced, notes = price_period(con, period, book, as_of=today + timedelta(days=1), boundaries=[])
    return estimate(priced, period, detail=detail, notes=notes), load_attribution(con)


@dataclass
class CostOverview:
    """Everything the admin costs page shows, from one pricing pass over the warehouse."""

    today: date
    period: Period
    estimate: CostEstimate  # the selected period
    attribution: pd.DataFrame
    month_to_date_micros: int
    last_month_micros: int
    last_month_same_days_micros: int
    forecast: Forecast | None
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
    """One pricing pass over the selected period, this month, last month and the forecast's history."""
    as_of = today + timedelta(days=1)
    this_month = month_start(today)
    last_month = month_start(this_month - timedelta(days=1))
    history = history_period(as_of, history_days)
    whole = Period(min(period.start, last_month, history.start), max(period.end, as_of))
    same_days_end = min(last_month + (as_of - this_month), this_month)
    bounds = [period.start, period.end, history.start, this_month, last_month, as_of, same_days_end]
    priced, notes = price_period(con, whole, book, as_of=as_of, boundaries=bounds)
    # Per-lesson figures for the selected period only; every other figure is a sum of days. Settled: the
    # page caches the overview, and the priced rows need not stay in memory with it.
    selected = estimate(priced, period, notes=notes).settled()
    days = estimate(priced, whole, lessons=False, notes=notes).settled()
    notes = list(days.notes)
    try:
        forecast = forecast_costs(history_from_estimate(days.subset(history)), book, as_of=as_of, budget_usd=budget_usd)
        notes += forecast.notes
    except CostInputInvalid as exc:
        forecast = None
        notes.append(f"no forecast: {exc.message}")
    return CostOverview(
        today=today,
        period=period,
        estimate=selected,
        attribution=load_attribution(con),
        month_to_date_micros=days.subset(Period(this_month, as_of)).total_micros,
        last_month_micros=days.subset(Period(last_month, this_month)).total_micros,
        last_month_same_days_micros=days.subset(Period(last_month, same_days_end)).total_micros,
        forecast=forecast,
        notes=notes,
    )


def forecast_from_warehouse(
    con: duckdb.DuckDBPyConnection, book: PriceBook, *, today: date, budget_usd: float | None
) -> Forecast:
    """This month and the next three projected from the last 90 days (what budget alerts are raised on)."""
    # As `lectern costs forecast` does: history until yesterday (today's usage is never complete yet).
    period = history_period(today)
    priced, notes = price_period(con, period, book, as_of=today + timedelta(days=1), boundaries=[])
    days = estimate(priced, period, lessons=False, notes=notes)
    return forecast_costs(history_from_estimate(days), book, as_of=period.end, budget_usd=budget_usd)


def what_if_from_warehouse(
    con: duckdb.DuckDBPyConnection, period: Period, book: PriceBook, levers: Levers, *, as_of: date
) -> WhatIf:
    """Today's cost of `period` against the same usage with `levers` applied.

    A scenario re-prices the usage itself, so it reads the period's relations as frames (the overview keeps
    only roll-ups); the S3 lessons are read only when the scenario migrates them.
    """
    inputs = load_cost_inputs(con, period, cold_after_days=book.cold_after_days)
    s3 = load_s3_lessons(con, as_of) if levers.migrate_s3 else None
    return what_if(inputs.assets, inputs.delivery, inputs.views, period, book, levers, s3_lessons=s3, as_of=as_of)

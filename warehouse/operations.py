"""Warehouse queries of Admin > Operations: playback health over a time window, and the views behind it.

Same rules as warehouse/queries.py: parameters bound, rows capped. Operations is admin-only, so there is no
teacher scope. The window is `[start, end)` on `view_start` (a view counts where it started, as in the
rollups), read from `mux_views` itself so an hour is an hour; the `view_day` condition only lets DuckDB skip
the row groups of other days (views are loaded in time order). The QoE figures are the ones of
`queries.qoe_breakdown` (`queries.QOE_METRICS`) and break down by its dimensions (`queries.QOE_DIMENSIONS`:
the rollups' list plus the lesson).

Drill-down: `playback_errors` and `failed_views` take an optional dimension value (`by` + `value`; a value
of None means the views where that dimension is unknown) and an optional error message, so a row picked in
the breakdown or the error table narrows the views listed below it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb
import pandas as pd

from warehouse.queries import QOE_DIMENSIONS, QOE_METRICS
from warehouse.scope import run_capped

# The breakdowns the Operations page offers, in its order (a subset of QOE_DIMENSIONS).
PLAYBACK_BY = ("lesson", "browser", "os", "country")
# The three ways a view fails, as `mux_views` columns; `failed_views(flag=...)` picks one.
FAILURE_FLAGS = ("playback_failure", "video_startup_failure", "exit_before_video_start")
_ANY_FAILURE = "(" + " OR ".join(f"v.{flag}" for flag in FAILURE_FLAGS) + ")"
_WINDOW = (
    "v.view_day BETWEEN CAST($start AS DATE) AND CAST($end AS DATE) AND v.view_start >= $start AND v.view_start < $end"
)
_NO_PICK = {"picked": False, "value": None, "message_picked": False, "message": None}


def _column(by: str) -> str:
    if by not in QOE_DIMENSIONS:
        raise ValueError(f"cannot break playback down by {by!r}; choose from {', '.join(QOE_DIMENSIONS)}")
    return QOE_DIMENSIONS[by]


def _window(start: datetime, end: datetime) -> dict[str, Any]:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("the window needs timezone-aware datetimes (UTC)")
    return {"start": start, "end": end}


def _picked(by: str | None, value: object, message: object, message_picked: bool) -> tuple[str, dict[str, Any]]:
    """SQL narrowing the views to one dimension value and/or one error message, and its parameters."""
    # The column comes from the fixed map, never from the caller's text; values are bound.
    column = _column(by) if by is not None else "NULL"
    sql = (
        f"AND (NOT $picked OR CAST({column} AS VARCHAR) IS NOT DISTINCT FROM $value) "
        "AND (NOT $message_picked OR v.error_message IS NOT DISTINCT FROM $message)"
    )
    params = {
        "picked": by is not None,
        "value": None if value is None else str(value),
        "message_picked": message_picked,
        "message": None if message is None else str(message),
    }
    return sql, params


def playback_totals(con: duckdb.DuckDBPyConnection, *, start: datetime, end: datetime) -> pd.DataFrame:
    """One row: views, startup p50/p95, rebuffering, failure rates, over every view started in the window."""
    sql = f"SELECT {QOE_METRICS} FROM mux_views v WHERE {_WINDOW}"
    return run_capped(con, sql, _window(start, end), 1)


def playback_breakdown(
    con: duckdb.DuckDBPyConnection, *, start: datetime, end: datetime, by: str, max_rows: int | None = None
) -> pd.DataFrame:
    """One row per `by` value (a lesson also gets its title), most views first."""
    column = _column(by)
    grouped = f"SELECT {column} AS {by}, {QOE_METRICS} FROM mux_views v WHERE {_WINDOW} GROUP BY 1"
    if by == "lesson":
        sql = f"""WITH g AS ({grouped})
        SELECT g.lesson, l.title AS lesson_title, g.* EXCLUDE (lesson)
        FROM g LEFT JOIN lessons l ON l.id = g.lesson
        ORDER BY g.views DESC, g.lesson"""
    else:
        sql = f"{grouped} ORDER BY views DESC, 1"
    return run_capped(con, sql, _window(start, end), max_rows)


def playback_errors(
    con: duckdb.DuckDBPyConnection,
    *,
    start: datetime,
    end: datetime,
    by: str | None = None,
    value: object = None,
    limit: int = 10,
) -> pd.DataFrame:
    """The most frequent error messages of failed views (or views carrying an error), with their counts; the
    failed views without a message come last, as one row."""
    picked, params = _picked(by, value, None, False)
    sql = f"""SELECT v.error_message, v.error_code, count(*) AS views,
           count(*) FILTER (v.playback_failure) AS playback_failures,
           count(*) FILTER (v.video_startup_failure) AS startup_failures,
           count(DISTINCT v.lesson_id) AS lessons, max(v.view_start) AS last_seen
    FROM mux_views v
    WHERE {_WINDOW} AND ({_ANY_FAILURE} OR v.error_message IS NOT NULL) {picked}
    GROUP BY v.error_message, v.error_code
    ORDER BY v.error_message IS NULL, views DESC, last_seen DESC"""
    return run_capped(con, sql, {**_window(start, end), **params}, limit)


def failed_views(
    con: duckdb.DuckDBPyConnection,
    *,
    start: datetime,
    end: datetime,
    by: str | None = None,
    value: object = None,
    flag: str | None = None,
    message: object = None,
    message_picked: bool = False,
    max_rows: int = 200,
) -> pd.DataFrame:
    """The failed views behind the numbers (newest first): any failure, or only `flag`; narrowed to one
    dimension value and/or one error message when picked. No viewer ids: a student is a key, not a name."""
    if flag is not None and flag not in FAILURE_FLAGS:
        raise ValueError(f"unknown failure {flag!r}; choose from {', '.join(FAILURE_FLAGS)}")
    failure = f"v.{flag}" if flag is not None else _ANY_FAILURE
    picked, params = _picked(by, value, message, message_picked)
    sql = f"""SELECT v.view_start, v.lesson_id, l.title AS lesson_title, v.browser, v.os, v.country, v.device,
           v.playback_failure, v.video_startup_failure, v.exit_before_video_start, v.startup_time_ms,
           v.rebuffer_percentage, v.error_code, v.error_message, v.view_id
    FROM mux_views v LEFT JOIN lessons l ON l.id = v.lesson_id
    WHERE {_WINDOW} AND {failure} {picked}
    ORDER BY v.view_start DESC, v.view_id"""
    return run_capped(con, sql, {**_window(start, end), **params}, max_rows)

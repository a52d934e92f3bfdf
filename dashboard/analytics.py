"""Warehouse reads for the analytics and cost pages: named queries only, cached per snapshot and per scope.

Every call takes the user's `Scope`; the teacher id it carries is passed to the query, which filters in SQL.
The cache key holds the published snapshot's path (a new sync publishes a new file, so results refresh as
soon as it lands, and within `CACHE_TTL_S` otherwise) and the teacher id, so one teacher's cached result is
never served to another.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

from core.costs.period import Period
from core.costs.pricebook import PriceBook, pricebook_from_settings
from core.costs.whatif import Levers, WhatIf
from dashboard import context
from dashboard.auth import Scope
from warehouse import engagement, queries
from warehouse.costs import CostOverview, cost_overview, what_if_from_warehouse
from warehouse.reader import WarehouseReader, reader_for
from warehouse.schema import TABLES, VIEWS
from warehouse.store import WarehouseNotReady

CACHE_TTL_S = 300
QUERIES: dict[str, Callable[..., pd.DataFrame]] = {
    "kpis": queries.engagement_kpis,
    "trend": queries.engagement_trend,
    "lessons": queries.lesson_table,
    "retention": queries.retention_curve,
    "replays": engagement.replays_by_position,
    "funnel": queries.course_funnel,
    "students": queries.students_table,
    "qoe": queries.qoe_breakdown,
    "providers": engagement.provider_comparison,
}
NEEDS_MAX_ROWS = {"trend", "lessons", "students", "qoe"}
STUDENT_LEVEL = {"students"}  # names and emails: teachers (their own students) and admins only


NOT_SYNCED = (
    "No analytics yet: these pages fill in after the first warehouse sync, which runs by itself every few minutes."
)


class NoWarehouse(WarehouseNotReady):
    """Nothing published yet; the message says when it will be (`NOT_SYNCED`)."""


@st.cache_resource
def reader() -> WarehouseReader:
    return reader_for(context.settings().warehouse_path)


def snapshot() -> str:
    published = reader().snapshot
    if published is None:
        raise NoWarehouse(NOT_SYNCED)
    return str(published)


def snapshot_name() -> str | None:
    """The published snapshot's file name, or None before the first sync."""
    published = reader().snapshot
    return None if published is None else str(published).rsplit("/", 1)[-1]


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=1024)
def _cached(name: str, snapshot_path: str, params: tuple[tuple[str, Any], ...]) -> pd.DataFrame:
    # snapshot_path is only part of the cache key: the reader resolves the snapshot itself.
    del snapshot_path
    with reader().connect() as con:
        return QUERIES[name](con, **dict(params))


def query(name: str, scope: Scope, **params: Any) -> pd.DataFrame:
    """Run a named query within the user's scope (teacher_id is always taken from the scope, never a param)."""
    if name in STUDENT_LEVEL and not scope.sees_students:
        raise PermissionError("student-level data is for teachers and admins")
    if "teacher_id" in params:
        raise ValueError("teacher_id comes from the signed-in user's scope")
    if name in NEEDS_MAX_ROWS:
        params["max_rows"] = context.settings().query_max_rows
    params["teacher_id"] = scope.teacher_id
    try:
        return _cached(name, snapshot(), tuple(sorted(params.items())))
    except WarehouseNotReady:
        raise NoWarehouse(NOT_SYNCED) from None


def kpis(scope: Scope, *, start: date, end: date, course_id: int | None, lesson_id: int | None) -> pd.DataFrame:
    return query("kpis", scope, start=start, end=end, course_id=course_id, lesson_id=lesson_id)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=8)
def cached_table_counts(snapshot_path: str) -> pd.DataFrame:
    """Row counts and columns of every documented table and view (names from the schema's fixed lists)."""
    del snapshot_path  # the cache key: counts change only when a new snapshot is published
    rows = []
    with reader().connect() as con:
        columns: dict[str, list[str]] = {}
        for table, column in con.execute(
            "SELECT table_name, column_name FROM information_schema.columns ORDER BY table_name, ordinal_position"
        ).fetchall():
            columns.setdefault(table, []).append(column)
        for name in (*TABLES, *VIEWS):
            # Names come from warehouse.schema's constants, never from user input.
            count = con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]
            rows.append(
                {
                    "name": name,
                    "kind": "view" if name in VIEWS else "table",
                    "rows": int(count),
                    "columns": ", ".join(columns.get(name, [])),
                }
            )
    return pd.DataFrame(rows)


def price_book() -> PriceBook:
    """The price book in force (list prices plus LECTERN_PRICE_OVERRIDES); raises CostError when invalid."""
    return pricebook_from_settings(context.settings())


@st.cache_data(ttl=CACHE_TTL_S, show_spinner="Estimating Mux costs…")
def _cost_overview(snapshot_path: str, first: date, last: date, today: date) -> CostOverview:
    del snapshot_path  # the cache key: a newly published warehouse invalidates cached estimates
    settings = context.settings()
    with reader().connect() as con:
        return cost_overview(
            con, price_book(), today=today, period=Period.inclusive(first, last), budget_usd=settings.monthly_budget_usd
        )


def costs(first: date, last: date, *, today: date) -> CostOverview:
    """Every figure of the costs page for the period `first`..`last` (inclusive), cached per snapshot."""
    try:
        return _cost_overview(snapshot(), first, last, today)
    except WarehouseNotReady:
        raise NoWarehouse(NOT_SYNCED) from None


def cost_what_if(period: Period, levers: Levers, *, as_of: date) -> WhatIf:
    """The period re-priced with `levers` (not cached: each form submit is a new question)."""
    with reader().connect() as con:
        return what_if_from_warehouse(con, period, price_book(), levers, as_of=as_of)

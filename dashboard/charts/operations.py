"""Operations charts: pure DataFrame -> plotly Figure functions (no Streamlit, no I/O)."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go

from dashboard.charts.layout import HALF_WIDTH_TITLE, tidy

OUTCOME_COLORS = {
    "applied": "#00b894",
    "received": "#74b9ff",
    "ignored": "#b2bec3",
    "stale": "#fdcb6e",
    "unmatched": "#e17055",
    "failed": "#d63031",
}
UPLOAD_COLORS = {"ready": "#00b894", "failed": "#d63031", "cancelled": "#b2bec3", "in_progress": "#74b9ff"}
# Bar widths in milliseconds (plotly's unit on a date axis): without them a single hour or day is drawn as
# one bar spanning the whole axis, labelled in fractions of a millisecond.
HOUR_MS, DAY_MS = 3_600_000, 86_400_000


def _layout(fig: go.Figure, title: str, **extra: object) -> go.Figure:
    fig.update_yaxes(rangemode="tozero")  # counts: an empty hour is 0, not the middle of -1..4
    return tidy(fig, title, title_chars=HALF_WIDTH_TITLE, height=320, **extra)


def webhooks_per_hour(per_hour: pd.DataFrame) -> go.Figure:
    """Stored events per received hour, stacked by outcome (expects `hour`, `outcome`, `events`)."""
    fig = go.Figure()
    for outcome, rows in per_hour.groupby("outcome", sort=False):
        fig.add_bar(
            x=rows["hour"],
            y=rows["events"],
            name=str(outcome),
            marker_color=OUTCOME_COLORS.get(str(outcome), "#636e72"),
        )
    return _layout(fig, "Webhook events per hour", barmode="stack", yaxis_title="events")


def uploads_per_day(by_day: pd.DataFrame) -> go.Figure:
    """Uploads per UTC day by outcome, and the day's success rate on the right axis."""
    fig = go.Figure()
    for column, color in UPLOAD_COLORS.items():
        name = column.replace("_", " ")
        fig.add_bar(x=by_day["day"], y=by_day[column], name=name, marker_color=color, width=0.8 * DAY_MS)
    fig.add_scatter(
        x=by_day["day"],
        y=by_day["success_rate"],
        name="success rate",
        yaxis="y2",
        mode="lines+markers",
        line_color="#2d3436",
    )
    # Whole days only: left to itself, plotly ticks a one- or two-day range every few hours ("Dec 03" repeated).
    days = pd.to_datetime(by_day["day"])
    span = int((days.max() - days.min()) / pd.Timedelta(days=1)) + 1 if len(days) else 1
    fig.update_xaxes(type="date", tickformat="%b %d", dtick=DAY_MS * max(1, math.ceil(span / 10)))
    if len(days):
        fig.update_xaxes(tick0=days.min())
    return _layout(
        fig,
        "Uploads per day",
        barmode="stack",
        yaxis_title="uploads",
        yaxis2={"overlaying": "y", "side": "right", "tickformat": ".0%", "range": [0, 1.05], "showgrid": False},
    )

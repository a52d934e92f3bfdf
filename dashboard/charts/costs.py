"""Cost charts: pure DataFrame -> plotly Figure functions (amounts come in as micro-dollars, shown in USD)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from core.costs.money import MICROS
from core.costs.money import micros_to_dollars as dollars

LINE_COLORS = {"encoding": "#6c5ce7", "storage": "#00b894", "delivery": "#0984e3"}


def _layout(fig: go.Figure, title: str, y_title: str = "USD") -> go.Figure:
    fig.update_layout(
        title=title, yaxis_title=y_title, margin={"l": 10, "r": 10, "t": 50, "b": 10}, legend_orientation="h"
    )
    return fig


def _budget_line(fig: go.Figure, budget_micros: int | None) -> None:
    if budget_micros is not None:
        fig.add_hline(y=budget_micros / MICROS, line_dash="dash", line_color="#d63031", annotation_text="budget")


def cost_by_line(daily: pd.DataFrame) -> go.Figure:
    """Stacked cost per day (or month) by line item; expects `day`|`month` and `<line>_micros` columns."""
    x_col = "day" if "day" in daily.columns else "month"
    fig = go.Figure()
    for line, color in LINE_COLORS.items():
        fig.add_bar(x=daily[x_col], y=dollars(daily[f"{line}_micros"]), name=line, marker_color=color)
    fig.update_layout(barmode="stack", yaxis_tickprefix="$")
    return _layout(fig, "Cost by line item (after free minutes and volume discounts)")


def top_groups(frame: pd.DataFrame, label: str, title: str, n: int = 10) -> go.Figure:
    """Horizontal stacked bars of the `n` most expensive groups (frame sorted or not)."""
    top = frame.nlargest(n, "net_micros").iloc[::-1]
    fig = go.Figure()
    for line, color in LINE_COLORS.items():
        fig.add_bar(
            y=top[label].astype(str), x=dollars(top[f"{line}_micros"]), name=line, orientation="h", marker_color=color
        )
    fig.update_layout(barmode="stack", xaxis_tickprefix="$", height=max(300, 28 * len(top) + 120))
    return _layout(fig, title, y_title="")


def forecast_months(months: pd.DataFrame, budget_micros: int | None = None) -> go.Figure:
    """Projected month totals (median) with the band as error bars, spent-so-far, and the budget line."""
    label = pd.to_datetime(months["month"]).dt.strftime("%Y-%m")
    p50 = dollars(months["p50_micros"])
    fig = go.Figure()
    fig.add_bar(
        x=label,
        y=p50,
        name="projected (median)",
        marker_color="#74b9ff",
        error_y={
            "type": "data",
            "symmetric": False,
            "array": dollars(months["high_micros"]) - p50,
            "arrayminus": p50 - dollars(months["low_micros"]),
        },
    )
    current = months["is_current"].astype(bool)
    fig.add_scatter(
        x=label[current],
        y=dollars(months.loc[current, "actual_micros"]),
        mode="markers",
        name="spent so far",
        marker={"size": 14, "symbol": "diamond", "color": "#2d3436"},
    )
    _budget_line(fig, budget_micros)
    fig.update_layout(yaxis_tickprefix="$")
    return _layout(fig, "Month-end projection and the next months (bars: median; whiskers: band)")


def month_path(current: pd.DataFrame, budget_micros: int | None = None) -> go.Figure:
    """This month's cumulative cost: actual so far, then the projected band to month end."""
    fig = go.Figure()
    fig.add_scatter(x=current["day"], y=dollars(current["actual_cum_micros"]), name="actual", line_color="#2d3436")
    fig.add_scatter(
        x=current["day"], y=dollars(current["high_cum_micros"]), line_width=0, showlegend=False, hoverinfo="skip"
    )
    fig.add_scatter(
        x=current["day"],
        y=dollars(current["low_cum_micros"]),
        fill="tonexty",
        fillcolor="rgba(116,185,255,0.35)",
        line_width=0,
        name="band",
    )
    fig.add_scatter(
        x=current["day"],
        y=dollars(current["p50_cum_micros"]),
        name="projected",
        line={"dash": "dot", "color": "#0984e3"},
    )
    _budget_line(fig, budget_micros)
    fig.update_layout(yaxis_tickprefix="$")
    return _layout(fig, "This month, cumulative")


def what_if_diff(diff: pd.DataFrame) -> go.Figure:
    """Baseline vs scenario per line item."""
    fig = go.Figure()
    fig.add_bar(x=diff["item"], y=dollars(diff["baseline_micros"]), name="today", marker_color="#b2bec3")
    fig.add_bar(x=diff["item"], y=dollars(diff["scenario_micros"]), name="what-if", marker_color="#0984e3")
    fig.update_layout(barmode="group", yaxis_tickprefix="$")
    return _layout(fig, "What-if vs today, per line item")

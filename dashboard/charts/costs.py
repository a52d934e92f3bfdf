"""Cost charts: pure DataFrame -> plotly Figure functions (amounts come in as micro-dollars, shown in USD)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import plotly.graph_objects as go

from core.costs.money import MICROS, axis_tick_format
from core.costs.money import micros_to_dollars as dollars
from dashboard.charts.layout import FULL_WIDTH_TITLE, HALF_WIDTH_TITLE, tidy
from dashboard.views.display import short

LINE_COLORS = {"encoding": "#6c5ce7", "storage": "#00b894", "delivery": "#0984e3"}
PARTIAL_OPACITY = 0.45  # today's bar: the day is not over
LABEL_LIMIT = 44  # characters of a course or lesson name on a top-groups axis (the hover shows it whole)
SMALLEST_AXIS_DOLLARS = 0.1  # an axis never spans less than ten cents (sub-cent ticks would all read $0.00)


def _layout(fig: go.Figure, title: str, *, half: bool = False) -> go.Figure:
    return tidy(fig, title, title_chars=HALF_WIDTH_TITLE if half else FULL_WIDTH_TITLE)


def money_axis(fig: go.Figure, largest_dollars: float, axis: str = "yaxis") -> None:
    """A dollar axis with round ticks written as `usd` writes money (`$0.25`, `$1,250`), from zero."""
    largest = max(float(largest_dollars), 0.0) if pd.notna(largest_dollars) else 0.0
    settings: dict[str, object] = {"tickprefix": "$", "tickformat": axis_tick_format(largest), "rangemode": "tozero"}
    if largest < SMALLEST_AXIS_DOLLARS:
        settings["range"] = [0, SMALLEST_AXIS_DOLLARS]
    fig.update_layout({axis: settings})


def _budget_line(fig: go.Figure, budget_micros: int | None) -> None:
    if budget_micros is not None:
        fig.add_hline(y=budget_micros / MICROS, line_dash="dash", line_color="#d63031", annotation_text="budget")


def cost_by_line(daily: pd.DataFrame, today: date | None = None) -> go.Figure:
    """Stacked cost per day (or month) by line item; expects `day`|`month` and `<line>_micros` columns.

    The bar of `today` (a day still under way) is paler and labelled "so far".
    """
    x_col = "day" if "day" in daily.columns else "month"
    partial = [x_col == "day" and today is not None and pd.Timestamp(x).date() == today for x in daily[x_col]]
    opacity = [PARTIAL_OPACITY if p else 1.0 for p in partial]
    fig = go.Figure()
    for line, color in LINE_COLORS.items():
        fig.add_bar(
            x=daily[x_col], y=dollars(daily[f"{line}_micros"]), name=line, marker={"color": color, "opacity": opacity}
        )
    totals = dollars(daily[[f"{line}_micros" for line in LINE_COLORS]].sum(axis=1))
    for x, total, is_partial in zip(daily[x_col], totals, partial, strict=True):
        if is_partial:
            fig.add_annotation(x=x, y=total, text="today, so far", showarrow=False, yanchor="bottom", font_size=11)
    fig.update_layout(barmode="stack")
    money_axis(fig, totals.max() if len(totals) else 0.0)
    return _layout(fig, "Cost per day by line item (after free minutes and volume discounts)")


def top_groups(frame: pd.DataFrame, label: str, title: str, n: int = 10) -> go.Figure:
    """Horizontal stacked bars of the `n` most expensive groups (frame sorted or not)."""
    top = frame.nlargest(n, "net_micros").iloc[::-1]  # plotly draws the first row at the bottom
    names = [short(str(name), LABEL_LIMIT) for name in top[label]]
    fig = go.Figure()
    for line, color in LINE_COLORS.items():
        fig.add_bar(
            y=names,
            x=dollars(top[f"{line}_micros"]),
            name=line,
            orientation="h",
            marker_color=color,
            customdata=top[label].astype(str),
            hovertemplate="%{customdata}: %{x:$,.2f}<extra>" + line + "</extra>",
        )
    fig.update_layout(barmode="stack", height=max(300, 28 * len(top) + 120))
    fig.update_yaxes(automargin=True)
    money_axis(fig, dollars(top["net_micros"]).max() if len(top) else 0.0, axis="xaxis")
    return _layout(fig, title, half=True)


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
    money_axis(fig, max(dollars(months["high_micros"]).max(), (budget_micros or 0) / MICROS))
    return _layout(fig, "Month totals: projected median, band and spent so far", half=True)


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
    money_axis(fig, max(dollars(current["high_cum_micros"]).max(), (budget_micros or 0) / MICROS))
    return _layout(fig, "This month, cumulative", half=True)


def what_if_diff(diff: pd.DataFrame) -> go.Figure:
    """Baseline vs scenario per line item."""
    fig = go.Figure()
    fig.add_bar(x=diff["item"], y=dollars(diff["baseline_micros"]), name="today", marker_color="#b2bec3")
    fig.add_bar(x=diff["item"], y=dollars(diff["scenario_micros"]), name="what-if", marker_color="#0984e3")
    fig.update_layout(barmode="group")
    money_axis(fig, max(dollars(diff["baseline_micros"]).max(), dollars(diff["scenario_micros"]).max()))
    return _layout(fig, "What-if vs today, per line item")

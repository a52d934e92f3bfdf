"""The SQL page's chart builder: any query result drawn as a line, bar or scatter chart (DataFrame in, Figure out)."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from dashboard.charts.layout import tidy

CHART_KINDS = ("line", "bar", "scatter")


def result_chart(frame: pd.DataFrame, kind: str, x: str, y: str, color: str | None = None) -> go.Figure:
    """`y` against `x`, one trace per value of `color` when given; lines are drawn in x order."""
    if kind not in CHART_KINDS:
        raise ValueError(f"chart kind must be one of {', '.join(CHART_KINDS)}")
    data = frame.sort_values(x, kind="stable") if kind == "line" else frame
    if color is not None:
        # A numeric colour would become a continuous scale; a legend of values is what the builder offers.
        data = data.assign(**{color: data[color].astype("string")})
    draw = {"line": px.line, "bar": px.bar, "scatter": px.scatter}[kind]
    fig = draw(data, x=x, y=y, color=color)
    return tidy(fig, f"{y} by {x}")

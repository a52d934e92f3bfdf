"""Engagement charts: pure functions, DataFrame in, plotly Figure out."""

from __future__ import annotations

from datetime import date

import pandas as pd
import plotly.graph_objects as go

from dashboard.charts.layout import tidy
from dashboard.insights import RetentionMoments
from dashboard.views.display import lesson_label

ACCENT = "#fa50b5"
SECOND = "#0984e3"
PROVIDER_COLORS = {"s3": "#e17055", "mux": ACCENT, "none": "#b2bec3"}


def _layout(fig: go.Figure, title: str, *, y_title: str = "", height: int = 360) -> go.Figure:
    return tidy(fig, title, yaxis_title=y_title, height=height, hovermode="x unified")


def trend_chart(trend: pd.DataFrame, start: date, end: date, today: date | None = None) -> go.Figure:
    """Views and unique viewers per day; days without views show as zero, not as a gap.

    When the range ends on `today`, the day still under way is drawn dashed, as "today, so far".
    """
    days = pd.DataFrame({"day": pd.date_range(start, end, freq="D").date})
    data = trend.assign(day=pd.to_datetime(trend["day"]).dt.date) if not trend.empty else trend
    merged = days.merge(data, on="day", how="left") if not trend.empty else days.assign(views=0, unique_viewers=0)
    merged = merged.fillna({"views": 0, "unique_viewers": 0})
    partial = today is not None and end == today and len(merged) > 1
    full = merged.iloc[:-1] if partial else merged
    fig = go.Figure()
    fig.add_scatter(x=full["day"], y=full["views"], name="views", mode="lines+markers", line_color=ACCENT)
    fig.add_scatter(x=full["day"], y=full["unique_viewers"], name="unique viewers", mode="lines", line_color=SECOND)
    if partial:
        last_two = merged.iloc[-2:]
        for column, color, mode in (("views", ACCENT, "lines+markers"), ("unique_viewers", SECOND, "lines")):
            fig.add_scatter(
                x=last_two["day"],
                y=last_two[column],
                name="today, so far",
                legendgroup="partial",
                showlegend=column == "views",
                mode=mode,
                line={"color": color, "dash": "dash"},
                marker={"symbol": "circle-open"},
            )
    return _layout(fig, "Views per day", y_title="count")


def retention_chart(
    curve: pd.DataFrame,
    moments: RetentionMoments,
    chapters: list[tuple[float, str]],
    *,
    title: str = "Audience retention",
) -> go.Figure:
    """Share still watching at each 5 % of the video, with key moments and chapter starts marked."""
    fig = go.Figure()
    fig.add_scatter(
        x=curve["pct_of_duration"],
        y=curve["share_still_watching"],
        mode="lines+markers",
        name="still watching",
        line={"color": ACCENT, "shape": "hv"},
        hovertemplate="%{x}% of the video: %{y:.0%} still watching<extra></extra>",
    )
    for pct, chapter in chapters:
        fig.add_vline(x=pct, line={"color": "#636e72", "dash": "dot", "width": 1})
        fig.add_annotation(x=pct, y=1.04, text=chapter, showarrow=False, textangle=-30, font={"size": 10}, yref="y")
    if moments.early_pct is not None and moments.share_after_early is not None:
        fig.add_scatter(
            x=[moments.early_pct],
            y=[moments.share_after_early],
            mode="markers+text",
            name="after 30 s",
            marker={"size": 11, "color": SECOND, "symbol": "diamond"},
            text=[f"{moments.share_after_early:.0%} after 30 s"],
            textposition="top right",
        )
    if moments.drop_offs:
        fig.add_scatter(
            x=[m.pct for m in moments.drop_offs],
            y=[_share_at(curve, m.pct) for m in moments.drop_offs],
            mode="markers+text",
            name="biggest drop-offs",
            marker={"size": 12, "color": "#d63031", "symbol": "triangle-down"},
            text=[m.label for m in moments.drop_offs],
            textposition="bottom left",
        )
    if moments.replay_spikes:
        fig.add_scatter(
            x=[m.pct for m in moments.replay_spikes],
            y=[_share_at(curve, m.pct) for m in moments.replay_spikes],
            mode="markers+text",
            name="replay spikes",
            marker={"size": 12, "color": "#00b894", "symbol": "star"},
            text=[m.label for m in moments.replay_spikes],
            textposition="top center",
        )
    fig.update_xaxes(title="% of the video", range=[-2, 102], ticksuffix="%")
    fig.update_yaxes(range=[0, 1.12], tickformat=".0%")
    return _layout(fig, title, y_title="share of views still watching", height=420)


def _share_at(curve: pd.DataFrame, pct: float) -> float:
    match = curve.loc[curve["pct_of_duration"] == pct, "share_still_watching"]
    return float(match.iloc[0]) if not match.empty else 0.0


def funnel_chart(funnel: pd.DataFrame) -> go.Figure:
    """Enrolled students reaching and completing each lesson, in course order."""
    labels = [lesson_label(int(p), str(t)) for p, t in zip(funnel["position"], funnel["lesson_title"], strict=True)]
    fig = go.Figure()
    fig.add_bar(y=labels, x=funnel["students_reached"], name="reached", orientation="h", marker_color=ACCENT)
    fig.add_bar(y=labels, x=funnel["students_completed"], name="completed", orientation="h", marker_color=SECOND)
    fig.update_yaxes(autorange="reversed")
    enrolled = int(funnel["enrolled_students"].max()) if not funnel.empty else 0
    fig.add_vline(x=enrolled, line={"color": "#636e72", "dash": "dash"})
    return _layout(fig, f"Course funnel ({enrolled} enrolled)", height=max(300, 28 * len(funnel) + 120)).update_layout(
        barmode="group", hovermode="y unified"
    )


def qoe_chart(qoe: pd.DataFrame, by: str) -> go.Figure:
    """Startup time (median) as bars, rebuffering and failure rates as lines, per `by` value."""
    names = qoe[by].astype(str)
    fig = go.Figure()
    fig.add_bar(x=names, y=qoe["startup_time_ms_p50"], name="startup time p50 (ms)", marker_color=SECOND)
    fig.add_scatter(
        x=names,
        y=qoe["avg_rebuffer_percentage"] * 100,
        name="rebuffer %",
        yaxis="y2",
        mode="markers+lines",
        line_color=ACCENT,
    )
    fig.add_scatter(
        x=names,
        y=qoe["playback_failure_rate"] * 100,
        name="playback failure %",
        yaxis="y2",
        mode="markers+lines",
        line_color="#d63031",
    )
    fig.update_layout(yaxis2={"overlaying": "y", "side": "right", "title": "%", "rangemode": "tozero"})
    return _layout(fig, f"Quality of experience by {by}", y_title="ms")


def provider_chart(providers: pd.DataFrame) -> go.Figure:
    """S3 vs Mux lessons: completion rate and average progress (platform), % watched (Mux Data)."""
    metrics = {
        "lessons completed (platform)": "completion_rate",
        "avg progress (platform)": "avg_progress_fraction",
        "avg % watched (Mux Data)": "avg_fraction_watched",
    }
    fig = go.Figure()
    for row in providers.itertuples():
        values = [getattr(row, column) for column in metrics.values()]
        fig.add_bar(
            x=list(metrics),
            y=[None if pd.isna(v) else v for v in values],
            name=str(row.provider).upper(),
            marker_color=PROVIDER_COLORS.get(str(row.provider), "#b2bec3"),
        )
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    return _layout(fig, "S3 and Mux lessons side by side").update_layout(barmode="group")

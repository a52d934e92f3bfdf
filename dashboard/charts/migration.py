"""Migration charts: pure DataFrame -> plotly Figure functions (no Streamlit, no I/O)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.charts.layout import HALF_WIDTH_TITLE, tidy

# Finished states first, so the bar fills from the left as the migration advances.
STATE_COLORS = {
    "done": "#00b894",
    "failed": "#d63031",
    "cancelled": "#b2bec3",
    "verifying": "#6c5ce7",
    "waiting": "#0984e3",
    "ingesting": "#74b9ff",
    "queued": "#dfe6e9",
}


def _layout(fig: go.Figure, title: str, **extra: object) -> go.Figure:
    return tidy(fig, title, title_chars=HALF_WIDTH_TITLE, **extra)


def state_frame(counts: dict[str, int]) -> pd.DataFrame:
    """`state`, `jobs` in chart order (every known state, zeros included) from a Progress's counts."""
    return pd.DataFrame({"state": list(STATE_COLORS), "jobs": [int(counts.get(s, 0)) for s in STATE_COLORS]})


def states_bar(states: pd.DataFrame) -> go.Figure:
    """One horizontal bar of all jobs, one segment per state (expects `state`, `jobs`)."""
    fig = go.Figure()
    for row in states.itertuples(index=False):
        fig.add_bar(
            y=["jobs"],
            x=[row.jobs],
            name=f"{row.state} ({row.jobs})",
            orientation="h",
            marker_color=STATE_COLORS.get(str(row.state), "#636e72"),
        )
    fig.update_layout(barmode="stack", height=240, yaxis_visible=False, xaxis_title="lessons")
    fig.update_xaxes(rangemode="tozero", tickformat=",d")  # whole lessons, from zero even with no jobs
    return _layout(fig, "Jobs by state")


def throughput(timeline: pd.DataFrame) -> go.Figure:
    """Lessons finished per minute (expects `minute`, `done`, `failed`), stacked."""
    fig = go.Figure()
    fig.add_bar(x=timeline["minute"], y=timeline["done"], name="done", marker_color=STATE_COLORS["done"])
    fig.add_bar(x=timeline["minute"], y=timeline["failed"], name="failed", marker_color=STATE_COLORS["failed"])
    fig.update_layout(barmode="stack", height=280, yaxis_title="lessons / min")
    fig.update_yaxes(rangemode="tozero", tickformat=",d")
    return _layout(fig, "Finished per minute (last hour)")

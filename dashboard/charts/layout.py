"""The layout every chart shares, so that nothing clips or overlaps at 1400 px or on a 1024 px laptop.

Titles wrap at word boundaries and push the top margin; the legend sits in its own band at the bottom of the
figure, below the axis and its tick labels (which push their own margins), never over them or over the
title. Checked in Chromium by tests/dashboard/test_layout_browser.py.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

# Characters of a title per line: a chart in half a 1024 px page is about 270 px wide.
HALF_WIDTH_TITLE = 34
FULL_WIDTH_TITLE = 70


def wrap(text: str, limit: int) -> str:
    """`text` broken into lines of at most `limit` characters (a longer word stays whole), joined by <br>."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= limit:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "<br>".join(lines)


def tidy(fig: go.Figure, title: str, *, title_chars: int = FULL_WIDTH_TITLE, **extra: Any) -> go.Figure:
    fig.update_layout(
        title={
            "text": wrap(title, title_chars),
            "automargin": True,
            "yref": "paper",
            "x": 0,
            "xanchor": "left",
            "xref": "paper",
            "font": {"size": 15},
        },
        margin={"l": 10, "r": 24, "t": 30, "b": 10},
        legend={"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "x": 0, "xanchor": "left"},
        **extra,
    )
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    return fig

"""Layout helpers the pages share: a view model's values drawn with Streamlit widgets."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.views.display import Metric, Tone

_SHOW: dict[Tone, Callable[[str], object]] = {
    "success": st.success,
    "error": st.error,
    "warning": st.warning,
    "info": st.info,
    "plain": st.markdown,
}


def message(tone: Tone, text: str) -> None:
    _SHOW[tone](text)


def metric_row(metrics: Sequence[Metric]) -> None:
    """The cards side by side, one column each."""
    for column, m in zip(st.columns(len(metrics)), metrics, strict=True):
        column.metric(m.label, m.value, delta=m.delta, delta_color=m.delta_color, help=m.help)


def selectable_table(
    frame: pd.DataFrame, *, key: str, column_config: dict[str, Any] | None = None, single: bool = False
) -> list[int]:
    """`frame` as a table whose rows the user can pick (one at most when `single`); returns the picked rows'
    positions in `frame`."""
    event = st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row" if single else "multi-row",
        key=key,
        column_config=column_config,
    )
    return list(event.selection.rows) if event is not None else []

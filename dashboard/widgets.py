"""Layout helpers the pages share: a view model's values drawn with Streamlit widgets."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import pandas as pd
import streamlit as st

from dashboard import definitions
from dashboard.error_boundary import run_guarded
from dashboard.views import operations as ops_view
from dashboard.views import operator_actions as actions
from dashboard.views.display import MISSING, Metric, Tone, cards_per_row

T = TypeVar("T")

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
    """The cards side by side, in as many rows as it takes for none to be cut at 1024 px (`cards_per_row`)."""
    per_row = cards_per_row(list(metrics))
    columns = [c for start in range(0, len(metrics), per_row) for c in st.columns(per_row)][: len(metrics)]
    for column, m in zip(columns, metrics, strict=True):
        column.metric(
            m.label,
            m.value,
            delta=m.delta,
            delta_color=m.delta_color,
            delta_arrow=m.delta_arrow,
            delta_description=m.delta_description,
            help=m.help,
        )


def table(
    frame: pd.DataFrame, *, key: str | None = None, column_config: Mapping[str, Any] | None = None, **kw: Any
) -> Any:
    """`frame` as a full-width table: every header a human label (`definitions.column_config`), no index,
    and "—" where a value is missing (never "None")."""
    return st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        key=key,
        column_config=definitions.column_config(frame, column_config),
        placeholder=MISSING,
        **kw,
    )


def selectable_table(
    frame: pd.DataFrame, *, key: str, column_config: Mapping[str, Any] | None = None, single: bool = False
) -> list[int]:
    """`frame` as a table whose rows the user can pick (one at most when `single`); returns the picked rows'
    positions in `frame`."""
    event = table(
        frame,
        key=key,
        column_config=column_config,
        on_select="rerun",
        selection_mode="single-row" if single else "multi-row",
    )
    return list(event.selection.rows) if event is not None else []


def action_button(label: str, request: actions.Request | None, *, state_key: str, key: str, **kw: Any) -> None:
    """A button that files `request` under `state_key` when clicked (off without a request)."""
    st.button(
        label,
        key=key,
        disabled=request is None,
        on_click=actions.ask,
        args=(st.session_state, state_key, request),
        **kw,
    )


def confirmation(state_key: str) -> None:
    """The question of the request waiting under `state_key`, with its Yes and a No; nothing when none waits."""
    request = actions.pending(st.session_state, state_key)
    if request is None:
        return
    st.warning(request.question)
    yes, no = st.columns(2)
    args = (st.session_state, state_key)
    yes.button(request.confirm_label, type="primary", key=f"{state_key}_yes", on_click=actions.confirm, args=args)
    no.button("No, leave it", key=f"{state_key}_no", on_click=actions.decline, args=args)


def run_request(state_key: str, perform: Callable[..., T], *, page: str, user_id: int) -> T | None:
    """Run the request filed under `state_key`, if any, as `perform(action, target, **options)`; a failure
    shows in the page's error display (as a failing page does: the error's message, never a traceback) and
    gives None."""
    request = actions.take(st.session_state, state_key)
    if request is None:
        return None
    done: list[T] = []
    run = lambda: done.append(perform(request.action, request.target, **request.options))  # noqa: E731
    run_guarded(run, page=page, user_id=user_id)
    return done[0] if done else None


def window_picker(prefix: str, now: datetime, *, index: int = 0) -> ops_view.Window:
    """The operations pages' time range: the last hour/day/week, or whole UTC days; captioned."""
    left, right = st.columns([1, 2])
    choice = left.selectbox("Time range", ops_view.RANGE_CHOICES, index=index, key=f"{prefix}_range")
    custom = choice != ops_view.CUSTOM
    days = right.date_input("Days (UTC)", ops_view.default_days(now.date()), key=f"{prefix}_days", disabled=custom)
    win = ops_view.window(choice, days, now)
    st.caption(ops_view.window_caption(win))
    return win


def alert_actions(alert: pd.Series | None, *, state_key: str, prefix: str) -> None:
    """Acknowledge and silence-for buttons for the alert picked (off without one)."""
    ack, length, custom, mute = st.columns(4, vertical_alignment="bottom")
    with ack:
        action_button("Acknowledge", actions.acknowledge_request(alert), state_key=state_key, key=f"{prefix}_ack")
    choice = length.selectbox("Silence for", list(actions.SILENCE_CHOICES), key=f"{prefix}_silence_for")
    off = choice != actions.CUSTOM
    text = custom.text_input("Custom (e.g. 90m, 2d)", key=f"{prefix}_silence_custom", disabled=off)
    with mute:
        request = actions.silence_request(alert, choice, text)
        action_button("Silence", request, state_key=state_key, key=f"{prefix}_silence")

"""What a view model hands a page to show: KPI cards (`st.metric`) and messages with their tone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Metric:
    label: str
    value: str
    help: str | None = None
    delta: str | None = None
    # "inverse" where a rise is bad news (costs): Streamlit then shows it in red.
    delta_color: Literal["normal", "inverse", "off"] = "normal"


# How loud a message is: `st.success`, `st.error`, `st.warning`, `st.info`, or plain text.
Tone = Literal["success", "error", "warning", "info", "plain"]

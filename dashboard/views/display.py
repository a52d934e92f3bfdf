"""What a view model hands a page to show: KPI cards (`st.metric`) and messages with their tone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from core.costs.money import micros_to_cents, usd, usd_change

# What a page shows where a value is missing (never `None`, `nan` or an empty cell that reads as zero).
MISSING = "—"
# A title that carries its own number ("1. DataFrames", "2) Setup"): the course numbers its lessons itself.
_NUMBERED = re.compile(r"^\s*(\d+)\s*[.)]\s+")


# Column-name endings and the words a reader sees instead ("duration_s" -> "duration (s)").
_UNITS = {"_s": " (s)", "_ms": " (ms)", "_min": " (min)", "_bytes": " (bytes)", "_pct": " (%)", "_usd": ""}
_WORDS = {"id": "ID", "ids": "IDs", "url": "URL", "s3": "S3", "mux": "Mux", "qoe": "QoE", "utc": "UTC"}


def human_label(column: str) -> str:
    """A table header for a column name: words instead of snake_case, units spelled out, `_at` dropped
    (`finished_at` -> "finished"), ids as "lesson ID"."""
    name, unit = column, ""
    for ending, words in _UNITS.items():
        if name.endswith(ending) and len(name) > len(ending):
            name, unit = name[: -len(ending)], words
            break
    if name.endswith("_at") and len(name) > 3:
        name = name[:-3]
    return " ".join(_WORDS.get(word, word) for word in name.replace("_", " ").split()) + unit


def short(text: str, limit: int) -> str:
    """`text` cut to `limit` characters with an ellipsis (for chart axis labels; hovers show it whole)."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def data_as_of(snapshot_name: str | None) -> str:
    """When the data on an analytics page was synced (the published snapshot is named by its UTC time)."""
    stamp = (snapshot_name or "").removesuffix(".duckdb")
    try:
        at = datetime.strptime(stamp, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
    except ValueError:
        return "Data from the last warehouse sync."
    return f"Data as of {at:%Y-%m-%d %H:%M} UTC (the last warehouse sync)."


def lesson_label(position: int | None, title: str) -> str:
    """`3. Title`, or the title alone when it already starts with a number (never "1. 1. DataFrames")."""
    if position is None or _NUMBERED.match(title):
        return title
    return f"{position}. {title}"


def bare_title(position: int | None, title: str) -> str:
    """The title without a leading number that repeats `position` (for tables with their own `#` column)."""
    found = _NUMBERED.match(title)
    if found is None or position is None or int(found.group(1)) != int(position):
        return title
    return title[found.end() :]


@dataclass(frozen=True)
class Metric:
    label: str
    value: str
    help: str | None = None
    delta: str | None = None
    # "inverse" where a rise is bad news (costs): Streamlit then shows it in red; "off" is grey.
    delta_color: Literal["normal", "inverse", "off"] = "normal"
    delta_arrow: Literal["auto", "up", "down", "off"] = "auto"
    delta_description: str | None = None  # what the delta compares with ("vs same days last month")


def cost_metric(
    label: str,
    micros: int,
    *,
    change_micros: int | None = None,
    compared_with: str | None = None,
    help: str | None = None,
) -> Metric:
    """A money card; a change in cost is red when it rises and green when it falls, and a change that rounds
    to no cent is grey with no arrow (an unchanged cost is not bad news)."""
    if change_micros is None:
        return Metric(label, usd(micros), help=help)
    if micros_to_cents(change_micros) == 0:
        return Metric(label, usd(micros), help, "no change", "off", delta_arrow="off", delta_description=compared_with)
    return Metric(label, usd(micros), help, usd_change(change_micros), "inverse", delta_description=compared_with)


# How many KPI cards fit side by side without cutting a label, value or delta, sized for the narrowest page
# (a 1024 px window with the sidebar open leaves about 560 px); Streamlit cuts what does not fit with "…".
CARDS_WIDTH_PX = 560
CARD_GAP_PX = 16
LABEL_PX, HELP_ICON_PX, VALUE_PX, DELTA_PX = 7.4, 24, 18.0, 7.4  # per character, measured in Chromium


def card_width(m: Metric) -> float:
    label = LABEL_PX * len(m.label) + (HELP_ICON_PX if m.help else 0)
    delta = DELTA_PX * (len(m.delta or "") + len(m.delta_description or "")) + (40 if m.delta else 0)
    return max(label, VALUE_PX * len(m.value), delta)


def cards_per_row(metrics: list[Metric]) -> int:
    """The cards a row holds at 560 px, spread evenly over the rows (5 cards: 3 and 2, not 4 and 1)."""
    if not metrics:
        return 1
    widest = max(card_width(m) for m in metrics)
    fit = max(1, min(len(metrics), int((CARDS_WIDTH_PX + CARD_GAP_PX) // (widest + CARD_GAP_PX))))
    rows = -(-len(metrics) // fit)
    return -(-len(metrics) // rows)


# How loud a message is: `st.success`, `st.error`, `st.warning`, `st.info`, or plain text.
Tone = Literal["success", "error", "warning", "info", "plain"]

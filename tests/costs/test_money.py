"""core/costs/money.py: the one dollar formatter, and no page or command formatting dollars by hand."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from core.costs.money import MICROS, axis_tick_format, micros_to_dollars, usd, usd_change

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("core", "warehouse", "sync", "api", "dashboard", "lectern")
# `f"${amount:,.2f}"` and the like: dollars formatted from a float, outside money.py.
HAND_FORMATTED = re.compile(r"\$\{[^}]*:[^}]*f\}")


@pytest.mark.parametrize(
    ("micros", "shown"),
    [
        (0, "$0.00"),
        (4_999, "$0.00"),
        (5_000, "$0.01"),  # half a cent rounds up
        (-5_000, "-$0.01"),  # and a negative half mirrors it
        (1_234_565_000, "$1,234.57"),
        (1_234_564_999, "$1,234.56"),
        (-1_234_000_000_000, "-$1,234,000.00"),
        (10 * MICROS, "$10.00"),
        (420_000, "$0.42"),  # cents below a dollar
        (140, "$0.00"),  # a sub-cent amount is $0.00, never "$140µ"
        (-420_000, "-$0.42"),
        (1_234_567_890_123, "$1,234,567.89"),  # thousands separators above
    ],
)
def test_usd(micros: int, shown: str) -> None:
    assert usd(micros) == shown


@pytest.mark.parametrize(
    ("micros", "shown"),
    [
        (0, "$0.00"),  # no change has no sign (and no arrow: dashboard.views.display.cost_metric)
        (4_999, "$0.00"),  # rounds to no cent: no sign either
        (-4_999, "$0.00"),
        (5_000, "+$0.01"),
        (-5_000, "-$0.01"),
        (1_530_000, "+$1.53"),
        (-1_234_567_890, "-$1,234.57"),
    ],
)
def test_a_change_carries_its_sign(micros: int, shown: str) -> None:
    assert usd_change(micros) == shown


@pytest.mark.parametrize(
    ("largest", "fmt"), [(0.0, ",.2f"), (0.003, ",.2f"), (9.99, ",.2f"), (10.0, ",.0f"), (48_250.0, ",.0f")]
)
def test_axis_ticks_are_cents_on_small_axes_and_whole_dollars_on_large_ones(largest: float, fmt: str) -> None:
    assert axis_tick_format(largest) == fmt
    assert "s" not in fmt and "~" not in fmt  # no SI prefixes ("140µ", "2k")


def test_usd_does_not_slip_where_floats_would() -> None:
    # 1.005 dollars is 1.00499999... as a float, so f"{1.005:.2f}" shows 1.00; integers round it to 1.01.
    assert f"{1_005_000 / MICROS:.2f}" == "1.00"
    assert usd(1_005_000) == "$1.01"


def test_micros_to_dollars_for_chart_axes() -> None:
    dollars = micros_to_dollars(pd.Series([0, 1_500_000, -250_000], dtype="int64"))
    assert dollars.dtype == "float64"
    assert dollars.tolist() == [0.0, 1.5, -0.25]


def test_no_dollars_formatted_by_hand() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for package in PRODUCT
        for path in sorted((ROOT / package).rglob("*.py"))
        if path.name != "money.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if HAND_FORMATTED.search(line)
    ]
    assert not found, "format dollars with core.costs.money.usd:\n" + "\n".join(found)


def test_the_hand_formatted_pattern_catches_the_usual_forms() -> None:
    assert HAND_FORMATTED.search('return f"${micros / 1_000_000:,.2f}"')
    assert HAND_FORMATTED.search('f"cost ${total:.2f}/month"')
    assert not HAND_FORMATTED.search('f"{usd(total)} per month"')

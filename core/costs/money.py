"""Money as integers: every estimate is int64 micro-dollars, rounded to cents only when shown.

Integers make every grouping add up exactly (lesson sums = course sums = teacher sums = total). When rows
are shown in cents, `allocate_cents` rounds the total once and hands out the cents by cumulative rounding,
so the displayed rows still add up to the displayed total.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MICROS = 1_000_000
MICROS_PER_CENT = 10_000


def micros_to_cents(micros: int) -> int:
    """Half-up rounding to the cent (negative amounts mirror positive ones)."""
    sign = -1 if micros < 0 else 1
    return sign * ((abs(int(micros)) + MICROS_PER_CENT // 2) // MICROS_PER_CENT)


def allocate_cents(micros: pd.Series | np.ndarray) -> np.ndarray:
    """Cents per row that add up to the rounded total: cents_i = round(cum_i) - round(cum_{i-1})."""
    values = np.asarray(micros, dtype=np.int64)
    if values.size == 0:
        return values.copy()
    cumulative = np.cumsum(values)
    rounded = np.sign(cumulative) * ((np.abs(cumulative) + MICROS_PER_CENT // 2) // MICROS_PER_CENT)
    cents: np.ndarray = np.diff(rounded, prepend=0).astype(np.int64)
    return cents


def cents_str(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(int(cents))
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def usd(micros: int) -> str:
    """`$1,234.57` for display (rounded half-up to the cent): the one way every page and command shows money."""
    cents = micros_to_cents(micros)
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}${cents // 100:,}.{cents % 100:02d}"


def usd_change(micros: int) -> str:
    """A difference in money: `+$1.23`, `-$1.23`, and `$0.00` (no sign) when it rounds to no change."""
    shown = usd(micros)
    return shown if shown.startswith("-") or micros_to_cents(micros) == 0 else f"+{shown}"


def micros_to_dollars(micros: pd.Series) -> pd.Series:
    """Float dollars for a chart axis (`axis_tick_format` formats the ticks); text for people goes through `usd`."""
    return micros.astype("float64") / MICROS


def axis_tick_format(largest_dollars: float) -> str:
    """The d3 number format of a dollar axis whose largest value is `largest_dollars` (the `$` is a prefix).

    Round ticks the way `usd` writes money: cents where the axis stays under $10 (`$0.25`, `$7.50`),
    whole dollars with thousands separators above (`$1,250`); never SI suffixes (`$140µ`, `$2k`).
    """
    return ",.2f" if abs(largest_dollars) < 10 else ",.0f"


def round_micros(values: np.ndarray) -> np.ndarray:
    """Float micro-dollars -> int64, half away from zero (np.rint would round half to even)."""
    micros: np.ndarray = (np.sign(values) * np.floor(np.abs(values) + 0.5)).astype(np.int64)
    return micros

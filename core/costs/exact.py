"""Exact money: prices and credit shares as fractions, amounts rounded once per priced row, half up.

Durations and delivered seconds enter as whole microseconds (Mux reports them to the microsecond), so a
quantity of minutes is `us / 60_000_000` exactly, a storage piece `us x days / (60_000_000 x days in the
month)`, and every amount is a rational number: quantity x price (x class factor), times the bucket's
volume share, times the month's free share. `round_exact` rounds such products half up to integer
micro-dollars, exactly: in floating point where the fraction is clearly away from one half (the float's
error is ~1e-15 of the value, the margin 1e-12), in Python integers for the few rows near a half.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from core.costs.money import MICROS
from core.costs.pricebook import LINES, QUALITIES, STORAGE_CLASSES, TIERS, PriceBook

US_PER_MINUTE = 60_000_000
NO_CLASS = -1
N_CLASSES = len(STORAGE_CLASSES) + 1  # + 1: no storage class (encoding, delivery)


@dataclass(frozen=True)
class VolumeTier:
    lo: int  # first minute of the tier
    hi: int | None  # first minute past it (None: no end)
    discount: Fraction  # 1 - the tier's multiplier: the share of its list price taken off


def rate_key(line: Any, quality: Any, tier: Any, cls: Any) -> Any:
    """Index of a (line, quality, tier, storage class) price in `rates` (ints, or arrays of them)."""
    return ((line * len(QUALITIES) + quality) * len(TIERS) + tier) * N_CLASSES + cls + 1


def rates(book: PriceBook) -> list[Fraction]:
    """Micro-dollars per minute (per minute-month for storage) by `rate_key`, class factors applied."""
    factors = [
        Fraction(1),
        1 - Fraction(book.rule("storage.infrequent_discount")),
        1 - Fraction(book.rule("storage.cold_discount")),
    ]
    out = [Fraction(0)] * (len(LINES) * len(QUALITIES) * len(TIERS) * N_CLASSES)
    for li, line in enumerate(LINES):
        for qi, quality in enumerate(QUALITIES):
            for ti, tier in enumerate(TIERS):
                price = Fraction(book.price(line, quality, tier)) * MICROS
                out[rate_key(li, qi, ti, NO_CLASS)] = price
                if line == "storage":
                    for ci, factor in enumerate(factors):
                        out[rate_key(li, qi, ti, ci)] = price * factor
    return out


def volume_tiers(book: PriceBook, line: str) -> list[VolumeTier]:
    """The line's tiers with a discount (the first tier is list price); empty when volume tiers are off."""
    if not book.volume_enabled:
        return []
    out: list[VolumeTier] = []
    lo: int | None = 0
    for tier in book.volume[line]:
        assert lo is not None  # only the last tier may be open-ended (checked when the book loads)
        hi = None if tier.size is None else lo + tier.size
        discount = 1 - Fraction(tier.multiplier)
        if discount != 0:
            out.append(VolumeTier(lo, hi, discount))
        lo = hi
    if lo is not None:
        # Minutes past a bounded last tier are not charged (the float estimator's rule): all discount.
        out.append(VolumeTier(lo, None, Fraction(1)))
    return out


def volume_share(book: PriceBook, line: str, minutes: Fraction) -> Fraction:
    """The share of a bucket's list price its volume tiers take off, for `minutes` in one month.

    Per tier, the minutes inside it times the tier's discount, over all the minutes: the float
    estimator's `1 - volume_multiplier`, exactly.
    """
    if minutes <= 0:
        return Fraction(0)
    off = Fraction(0)
    for tier in volume_tiers(book, line):
        top = minutes if tier.hi is None else min(minutes, Fraction(tier.hi))
        if top > tier.lo:
            off += (top - tier.lo) * tier.discount
    return off / minutes


def free_minutes(book: PriceBook) -> Fraction:
    return Fraction(book.rule("delivery.free_minutes_per_month"))


def free_share(book: PriceBook, delivered_minutes: Fraction) -> Fraction:
    """The share of every delivery row (after volume) the month's free minutes cover: free / delivered, <= 1."""
    if delivered_minutes <= 0:
        return Fraction(0)
    return min(Fraction(1), free_minutes(book) / delivered_minutes)


def exact_sums(keys: np.ndarray, values: np.ndarray, n: int) -> list[int]:
    """Exact sums of non-negative int64 values per key (0..n-1).

    bincount adds in float64, exact while every partial sum stays below 2**53 — true when the totals do
    (non-negative addends). Otherwise the values are split into 26-bit halves so neither half's sum can
    reach it (3M rows x 2**26 < 2**53)."""
    values = np.asarray(values, dtype=np.int64)
    sums = np.bincount(keys, weights=values, minlength=n)
    if sums.size == 0 or sums.max() < 2.0**52:
        return [int(v) for v in sums]
    high = np.bincount(keys, weights=values >> 26, minlength=n)
    low = np.bincount(keys, weights=values & ((1 << 26) - 1), minlength=n)
    return [(int(h) << 26) + int(lo) for h, lo in zip(high, low, strict=True)]


ROUND_CHUNK = 1 << 16  # rows per pass: the temporaries stay in cache and their memory is reused


def round_exact(
    x: np.ndarray, group: np.ndarray, factors: Sequence[Fraction], divisor: np.ndarray | None = None
) -> np.ndarray:
    """round(x * factors[group] / divisor) half up, per row, exactly (x >= 0 integers, factors >= 0).

    Works through the rows in chunks: one output array is allocated, the float temporaries are a chunk
    long (whole-column temporaries cost more in first-touch page faults than in arithmetic here).
    """
    x = np.asarray(x, dtype=np.int64)
    out = np.zeros(x.size, dtype=np.int64)
    if not any(factors):
        return out
    approx = np.array([float(f) for f in factors], dtype=np.float64)
    for lo in range(0, x.size, ROUND_CHUNK):
        hi = min(lo + ROUND_CHUNK, x.size)
        _round_chunk(x[lo:hi], group[lo:hi], factors, approx, None if divisor is None else divisor[lo:hi], out[lo:hi])
    return out


def _round_chunk(
    x: np.ndarray,
    group: np.ndarray,
    factors: Sequence[Fraction],
    approx: np.ndarray,
    divisor: np.ndarray | None,
    out: np.ndarray,
) -> None:
    value = approx[group]
    value *= x
    if divisor is not None:
        value /= divisor
    shifted = value + 0.5
    floor = np.floor(shifted)
    # Near a half, the float may sit on the wrong side of it: those rows are redone in integers. The gap to
    # the rounding point is in [0, 1): a tie sits at 0 or just under 1, within the float's error.
    gap = np.subtract(shifted, floor, out=shifted)
    gap -= 0.5
    np.abs(gap, out=gap)
    value *= -1e-12
    value += 0.5 - 1e-9
    near = np.flatnonzero(gap >= value)  # |gap - 0.5| >= 0.5 - (1e-9 + 1e-12 x value)
    out[:] = floor
    for i in near:
        f = factors[int(group[i])]
        num, den = int(x[i]) * f.numerator, f.denominator * (1 if divisor is None else int(divisor[i]))
        out[i] = (2 * num + den) // (2 * den)

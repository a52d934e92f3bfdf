"""Pricing: the estimator's inputs (integer arrays from DuckDB) in, priced rows out, in exact micro-dollars.

One row per asset x line item x day (or x storage run), kept as one block of arrays per line item:
- encoding: duration x price[quality, tier] on the creation day (basic is free);
- storage: per day stored, duration x price[quality, tier] x (days / days in that month), at the standard,
  infrequent or cold rate depending on days since the last play (`core/costs/storage_runs.py`); a
  never-played asset is cold from creation; a deleted basic asset is billed until `basic_minimum_days`
  after creation;
- delivery: delivered minutes per tier x price[quality, delivered tier].
Then per calendar month, account-wide: volume tiers per (line, quality, tier) bucket as a blended share,
and the free delivery minutes as the share `free / delivered` of every delivery row, so both credits are
spread pro rata to usage. The window is whole months (credits are monthly); storage runs are cut at month
starts and at `boundaries`, so the rows of a period starting and ending at boundaries are exactly its
share of its months' bills. Every amount is rounded once per row, half up, exactly (`core/costs/exact.py`).
See `pricebook_2026.json` for the numbers and their sources.

Why numpy and not SQL: ~3M rows for 100,000 assets over a year; on our 2-core machines DuckDB spends
0.1-0.3 us per row per operator and ~0.2 s per materialised 3M-row table, numpy ~5 ns per element per
pass (docs/costs.md). DuckDB reads, normalises and joins the strings (`core/costs/inputs.py`); only
integer arrays cross, never strings or frames of rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

import duckdb
import numpy as np
import pyarrow as pa

from core.costs.exact import NO_CLASS, US_PER_MINUTE, exact_sums, free_share, rate_key, rates, round_exact, volume_share
from core.costs.inputs import Inputs, Sources, read_inputs
from core.costs.period import DELIVERY, ENCODING, STORAGE, day_number, next_month
from core.costs.pricebook import LINES, QUALITIES, TIERS, PriceBook
from core.costs.storage_runs import split_runs, storage_runs

__all__ = ["Block", "Priced", "Sources", "price", "price_inputs"]
N_BUCKETS_PER_MONTH = len(LINES) * len(QUALITIES) * len(TIERS)


@dataclass
class Block:
    """The priced rows of one line item, as arrays of equal length (`days` is 1 except for storage)."""

    line: int
    asset: np.ndarray
    day: np.ndarray
    days: np.ndarray
    month: np.ndarray  # index into Priced.month_starts
    quality: np.ndarray
    tier: np.ndarray
    cls: np.ndarray  # storage class (NO_CLASS off storage)
    qn: np.ndarray  # quantity in minutes (minute-months for storage) = qn / qd
    qd: np.ndarray
    gross: np.ndarray
    volume: np.ndarray
    free: np.ndarray

    @property
    def net(self) -> np.ndarray:
        net: np.ndarray = self.gross - self.volume - self.free
        return net

    @property
    def quantity(self) -> np.ndarray:
        minutes: np.ndarray = self.qn / self.qd
        return minutes

    def take(self, keep: np.ndarray | slice) -> Block:
        return Block(self.line, *(getattr(self, name)[keep] for name in ARRAYS))


ARRAYS = ("asset", "day", "days", "month", "quality", "tier", "cls", "qn", "qd", "gross", "volume", "free")


@dataclass
class Priced:
    """The priced rows of a window (one Block per line item) and what names their assets."""

    start: date
    end: date  # exclusive; stops before the last month's end when there is no data after it
    pricebook_version: str
    notes: list[str]
    month_starts: np.ndarray  # day numbers of the window's months
    asset_ids: pa.Array  # by asset index
    lesson_id: np.ndarray  # by asset index (int64, see `lesson_missing`)
    lesson_missing: np.ndarray
    blocks: list[Block]  # encoding, storage, delivery


def price(
    con: duckdb.DuckDBPyConnection,
    sources: Sources,
    book: PriceBook,
    *,
    window: tuple[date, date],
    boundaries: Iterable[date] = (),
) -> Priced:
    """Read the inputs of `window` (whole months, or cut short where data ends) on `con` and price them."""
    w0, w1 = day_number(window[0]), day_number(window[1])
    return price_inputs(read_inputs(con, sources, book, window=(w0, w1)), book, window=window, boundaries=boundaries)


def price_inputs(inputs: Inputs, book: PriceBook, *, window: tuple[date, date], boundaries: Iterable[date]) -> Priced:
    """Price inputs already read (the bench times reading and pricing apart)."""
    start, end = window
    w0, w1 = day_number(start), day_number(end)
    months = [start]
    while next_month(months[-1]) < end:
        months.append(next_month(months[-1]))
    month_starts = np.array([day_number(m) for m in months], dtype=np.int64)
    lengths = np.array([(next_month(m) - m).days for m in months], dtype=np.int64)
    month_of = np.searchsorted(month_starts, np.arange(w0, w1), side="right") - 1  # by day - w0
    cuts = sorted({*month_starts[1:].tolist(), *(d for d in map(day_number, boundaries) if w0 < d < w1)})

    enc = np.flatnonzero((inputs.created >= w0) & (inputs.created < w1) & (inputs.duration_us > 0))
    runs = storage_runs(inputs.play_keys, inputs.created, inputs.end, w0, w1, book)
    st_asset, st_start, st_end, st_class = split_runs(*runs, boundaries=np.array(cuts, dtype=np.int64))
    st_days = st_end - st_start
    st_month = month_of[st_start - w0]
    dlv = inputs.delivery
    unpriced = [
        (
            ENCODING,
            enc,
            inputs.created[enc],
            np.ones(enc.size, np.int64),
            inputs.quality[enc],
            inputs.tier[enc],
            np.full(enc.size, NO_CLASS),
            inputs.duration_us[enc],
            np.full(enc.size, US_PER_MINUTE),
        ),
        # Storage is priced per minute-month: microseconds x days over a minute x the month's days.
        (
            STORAGE,
            st_asset,
            st_start,
            st_days,
            inputs.quality[st_asset],
            inputs.tier[st_asset],
            st_class,
            inputs.duration_us[st_asset] * st_days,
            US_PER_MINUTE * lengths[st_month],
        ),
        (
            DELIVERY,
            dlv["asset"],
            dlv["day"],
            np.ones(dlv["day"].size, np.int64),
            dlv["quality"],
            dlv["tier"],
            np.full(dlv["day"].size, NO_CLASS),
            dlv["us"],
            np.full(dlv["day"].size, US_PER_MINUTE),
        ),
    ]
    unit = rates(book)
    blocks = []
    for line, asset, day, days, quality, tier, cls, qn, qd in unpriced:
        month = month_of[day - w0]
        gross = round_exact(qn, rate_key(line, quality, tier, cls), unit, qd)
        zeros = np.zeros(asset.size, np.int64)
        blocks.append(Block(line, asset, day, days, month, quality, tier, cls, qn, qd, gross, zeros, zeros.copy()))
    _credit(blocks, book, lengths)
    return Priced(
        start=start,
        end=end,
        pricebook_version=book.version,
        notes=inputs.notes,
        month_starts=month_starts,
        asset_ids=inputs.asset_ids,
        lesson_id=inputs.lesson_id,
        lesson_missing=inputs.lesson_missing,
        blocks=blocks,
    )


def _bucket(block: Block) -> np.ndarray:
    """(month, line, quality, tier): the unit volume tiers count minutes in."""
    cell = (block.month * len(LINES) + block.line) * len(QUALITIES) + block.quality
    bucket: np.ndarray = cell * len(TIERS) + block.tier
    return bucket


def _credit(blocks: list[Block], book: PriceBook, lengths: np.ndarray) -> None:
    """Each row's share of its bucket's volume discount, then of its month's free delivery minutes."""
    n_buckets = lengths.size * N_BUCKETS_PER_MONTH
    totals = [0] * n_buckets
    keys = [_bucket(b) for b in blocks]
    for block, key in zip(blocks, keys, strict=True):
        totals = [a + b for a, b in zip(totals, exact_sums(key, block.qn, n_buckets), strict=True)]
    shares = []
    for bucket, qn in enumerate(totals):
        month, line = divmod(bucket // (len(QUALITIES) * len(TIERS)), len(LINES))
        per_minute = US_PER_MINUTE * (int(lengths[month]) if line == STORAGE else 1)
        shares.append(volume_share(book, LINES[line], Fraction(qn, per_minute)))
    for block, key in zip(blocks, keys, strict=True):
        block.volume = round_exact(block.gross, key, shares)
    delivered = [0] * lengths.size
    for bucket, qn in enumerate(totals):
        month, line = divmod(bucket // (len(QUALITIES) * len(TIERS)), len(LINES))
        if line == DELIVERY:
            delivered[month] += qn
    free = [free_share(book, Fraction(us, US_PER_MINUTE)) for us in delivered]
    for block in blocks:
        if block.line == DELIVERY:
            block.free = round_exact(block.gross - block.volume, block.month, free)

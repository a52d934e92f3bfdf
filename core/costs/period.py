"""Periods (days [start, end)), day numbers, and `CostEstimate`, the rolled-up result of pricing a period."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Protocol

import numpy as np
import pandas as pd

from core.costs.errors import CostInputInvalid
from core.costs.pricebook import LINES

EPOCH = date(1970, 1, 1)
# The days a period may cover: day numbers stay non-negative, and pandas' nanosecond timestamps end in 2262
# (a report to 9999-12-31 overflowed date arithmetic into a 500). Checked when a Period is made.
FIRST_DAY = EPOCH
LAST_DAY = date(2261, 12, 31)
ENCODING, STORAGE, DELIVERY = 0, 1, 2
# Per (lesson) group: net per line item, the credits, and the quantities behind them.
MEASURES = (
    "encoding_micros",
    "storage_micros",
    "delivery_micros",
    "gross_micros",
    "volume_micros",
    "free_micros",
    "net_micros",
    "encoded_min",
    "stored_min_months",
    "delivered_min",
)
QUANTITY_OF = ("encoded_min", "stored_min_months", "delivered_min")  # by line item
# Per (day, line item): the amounts spread over the days they cover, in micro-dollars, and the quantity.
DAILY_COLUMNS = ("day", "line", "gross_micros", "volume_micros", "free_micros", "net_micros", "quantity")
ROW_COLUMNS = (
    "asset_id",
    "lesson_id",
    "line",
    "day",
    "days",
    "month",
    "quality",
    "tier",
    "storage_class",
    "quantity",
    "gross_micros",
    "volume_micros",
    "free_micros",
    "net_micros",
)


def month_start(d: date) -> date:
    return d.replace(day=1)


def next_month(d: date) -> date:
    return (d.replace(day=28) + timedelta(days=4)).replace(day=1)


def day_number(d: date) -> int:
    return (d - EPOCH).days


def to_day(n: int) -> date:
    return EPOCH + timedelta(days=int(n))


def day_numbers(values: pd.Series) -> np.ndarray:
    """Dates/datetimes (tz-aware, or naive UTC) -> int days since 1970-01-01; missing -> min int64."""
    dtype = values.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        arr = values.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    elif isinstance(dtype, np.dtype) and np.issubdtype(dtype, np.datetime64):
        arr = values.to_numpy()
    else:
        arr = pd.to_datetime(values, utc=True).dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    out: np.ndarray = arr.astype("datetime64[D]").astype(np.int64)
    out[np.isnat(arr)] = np.iinfo(np.int64).min
    return out


@dataclass(frozen=True)
class Period:
    """Days [start, end): `end` is exclusive. `Period.inclusive(first, last)` for report parameters."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.start < FIRST_DAY or self.end > LAST_DAY + timedelta(days=1):
            raise CostInputInvalid(f"dates must be between {FIRST_DAY} and {LAST_DAY} (got {self.start} .. {self.end})")
        if self.end <= self.start:
            raise CostInputInvalid(f"period must end after it starts (got {self.start} .. {self.end})")

    @classmethod
    def inclusive(cls, first: date, last: date) -> Period:
        for name, day in (("from", first), ("to", last)):
            if not FIRST_DAY <= day <= LAST_DAY:
                raise CostInputInvalid(f"`{name}` must be between {FIRST_DAY} and {LAST_DAY} (got {day})")
        if last < first:
            raise CostInputInvalid(f"`to` ({last}) is before `from` ({first})")
        return cls(first, last + timedelta(days=1))

    @classmethod
    def month(cls, any_day: date) -> Period:
        if not FIRST_DAY <= any_day <= LAST_DAY:
            raise CostInputInvalid(f"dates must be between {FIRST_DAY} and {LAST_DAY} (got {any_day})")
        return cls(month_start(any_day), next_month(any_day))

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def last(self) -> date:
        return self.end - timedelta(days=1)

    def months(self) -> list[date]:
        out, m = [], month_start(self.start)
        while m < self.end:
            out.append(m)
            m = next_month(m)
        return out

    def data_window(self, lookback_days: int = 0) -> tuple[date, date]:
        """What the estimator needs: whole months around the period, views from `lookback_days` earlier."""
        first = month_start(self.start)
        return first - timedelta(days=lookback_days), next_month(self.last)


def priced_window(period: Period, as_of: date | None) -> tuple[date, date, list[str]]:
    """The days to price for `period`: its whole months (credits are monthly), cut at `as_of` (exclusive,
    the first day without data) so storage is not billed for days not lived yet; and the note saying so."""
    start, end = month_start(period.start), next_month(period.last)
    notes: list[str] = []
    if as_of is not None and as_of < end:
        end = max(as_of, start + timedelta(days=1))
        if as_of < period.end:
            notes.append(f"data until {as_of - timedelta(days=1)}: later days of the period are not estimated")
    return start, end, notes


class RollupSource(Protocol):
    """Where an estimate's roll-ups come from when they are first asked for (`core/costs/rollups.py`)."""

    def by_lesson(self) -> pd.DataFrame: ...

    def daily(self) -> pd.DataFrame: ...

    def totals(self) -> dict[str, float]: ...


@dataclass
class CostEstimate:
    """A priced period, rolled up: per lesson (for lesson, course and teacher reports) and per day x line.

    The estimator keeps the priced rows (one per asset x line item x day, or x storage run) as arrays and
    rolls them up on first use: a course report never pays for the daily spread, a day report never for
    the lessons. `settled()` computes both and lets the rows go (what caches keep). `rows` holds the priced
    rows as a frame when they were asked for (tests, what-if on small inputs). Every amount is integer
    micro-dollars, so each roll-up adds up to the same total.
    """

    period: Period
    pricebook_version: str
    notes: list[str] = field(default_factory=list)
    rows: pd.DataFrame | None = None  # ROW_COLUMNS, only when asked for
    source: RollupSource | None = field(default=None, repr=False)
    lessons_frame: pd.DataFrame | None = field(default=None, repr=False)
    daily_frame: pd.DataFrame | None = field(default=None, repr=False)
    daily_only: bool = False  # a `subset`: per-lesson figures cannot be cut by day

    @property
    def by_lesson(self) -> pd.DataFrame | None:
        """lesson_id (nullable) + MEASURES; None for a daily-only `subset`."""
        if self.lessons_frame is None and self.source is not None and not self.daily_only:
            self.lessons_frame = self.source.by_lesson()
        return self.lessons_frame

    @property
    def daily(self) -> pd.DataFrame:
        """DAILY_COLUMNS: every day of the period x every line item."""
        if self.daily_frame is None:
            if self.source is None:
                raise CostInputInvalid("estimate has no daily figures")
            self.daily_frame = self.source.daily()
        return self.daily_frame

    def totals(self) -> dict[str, float]:
        """MEASURES summed over the period (micro-dollars as ints)."""
        if self.source is not None:
            return self.source.totals()
        daily = self.daily
        out: dict[str, float] = {}
        for i, line in enumerate(LINES):
            mine = daily[daily["line"] == line]
            out[f"{line}_micros"] = int(mine["net_micros"].sum())
            out[QUANTITY_OF[i]] = float(mine["quantity"].sum())
        for amount in ("gross", "volume", "free", "net"):
            out[f"{amount}_micros"] = int(daily[f"{amount}_micros"].sum())
        return {k: out[k] for k in MEASURES}

    @property
    def total_micros(self) -> int:
        return int(self.totals()["net_micros"])

    @property
    def is_empty(self) -> bool:
        """Nothing priced at all (no usage, no stored asset) in the period."""
        totals = self.totals()
        return not any(totals[k] for k in ("gross_micros", "encoded_min", "stored_min_months", "delivered_min"))

    def totals_by_line(self) -> dict[str, int]:
        totals = self.totals()
        return {line: int(totals[f"{line}_micros"]) for line in LINES}

    def settled(self) -> CostEstimate:
        """Both roll-ups computed and the priced rows let go (small, picklable: what caches keep)."""
        lessons, daily = self.by_lesson, self.daily
        return replace(self, source=None, lessons_frame=lessons, daily_frame=daily)

    def subset(self, period: Period) -> CostEstimate:
        """The daily figures (and priced rows, if any) of a sub-period; exact when it was priced with its
        bounds as split points. Per-lesson figures cannot be cut by day, so the subset has none."""
        start, end = pd.Timestamp(period.start), pd.Timestamp(period.end)
        days = pd.to_datetime(self.daily["day"])
        daily = self.daily.loc[(days >= start) & (days < end)].reset_index(drop=True)
        rows = None
        if self.rows is not None:
            keep = (self.rows["day"] >= start) & (self.rows["day"] < end)
            rows = self.rows.loc[keep].reset_index(drop=True)
        return CostEstimate(period, self.pricebook_version, self.notes, rows, daily_frame=daily, daily_only=True)

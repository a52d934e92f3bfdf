"""Month-end and next-months cost projections with an honest band, from daily gross usage. No I/O.

Model, per line item, on the last `history_days` of daily *gross* cost (list price, before credits):
- delivery: linear trend + day-of-week effect (views follow the week; delivery follows views);
- storage: linear trend (stored minutes accumulate with uploads, so daily storage cost grows ~linearly);
- encoding: linear trend (uploads are spiky; the residuals carry the spikes).
The band is a residual bootstrap: each of `paths` resamples the fit's residuals, refits (so the slope's
uncertainty widens the band with the horizon) and adds resampled residuals to every future day. Each
path's months are then priced like a bill: volume discount per line at the history's observed ratio,
free delivery minutes per month (delivered minutes = gross delivery / the history's price per minute).
The current month is its actual gross so far plus the projected rest, priced as a whole month.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from core.costs.errors import CostInputInvalid
from core.costs.estimate import CostEstimate, Period, month_start, next_month
from core.costs.pricebook import LINES, PriceBook
from core.costs.report import daily_by_line

MIN_HISTORY_DAYS = 14


@dataclass(frozen=True)
class CostHistory:
    """Daily gross micro-dollars per line (`day`, encoding, storage, delivery, delivered_min) + credit ratios."""

    daily: pd.DataFrame
    volume_ratio: dict[str, float] = field(default_factory=dict)  # volume discount / gross, per line
    month_to_date_net_micros: int = 0


@dataclass
class Forecast:
    as_of: date  # first day without data
    months: pd.DataFrame  # month, actual_micros (so far), low/p50/high_micros, is_current
    current_month: pd.DataFrame  # day, actual_cum_micros, low/p50/high_cum_micros
    quantiles: tuple[float, float]
    budget_micros: int | None = None
    notes: list[str] = field(default_factory=list)

    def crossings(self) -> pd.DataFrame:
        """Months whose median projection is over budget (empty without a budget)."""
        if self.budget_micros is None:
            return self.months.iloc[0:0]
        return self.months[self.months["p50_micros"] > self.budget_micros]


def history_period(as_of: date, history_days: int = 90) -> Period:
    """The days a forecast learns from: the last `history_days`, and at least this month so far."""
    start = min(as_of - timedelta(days=history_days), month_start(as_of - timedelta(days=1)))
    return Period(start, as_of)


def history_from_estimate(estimate: CostEstimate) -> CostHistory:
    """Daily gross per line, observed volume-discount ratios and this month's actual net so far."""
    daily = estimate.daily
    gross = daily.groupby("line", observed=False)["gross_micros"].sum()
    volume = daily.groupby("line", observed=False)["volume_micros"].sum()
    ratio = {line: float(volume[line] / gross[line]) if gross[line] > 0 else 0.0 for line in LINES}
    current = month_start(estimate.period.last)
    mtd = int(daily.loc[pd.to_datetime(daily["day"]).dt.date >= current, "net_micros"].sum())
    return CostHistory(daily=daily_by_line(estimate), volume_ratio=ratio, month_to_date_net_micros=mtd)


def _design(t: np.ndarray, days: np.ndarray, weekly: bool) -> np.ndarray:
    cols = [np.ones_like(t, dtype=np.float64), t.astype(np.float64)]
    if weekly:
        dow = (days + 3) % 7  # 1970-01-01 was a Thursday: 0 = Monday
        cols += [(dow == k).astype(np.float64) for k in range(1, 7)]
    return np.column_stack(cols)


def _paths(
    y: np.ndarray, hist_days: np.ndarray, future_days: np.ndarray, weekly: bool, n_paths: int, rng: np.random.Generator
) -> np.ndarray:
    """Bootstrapped future values, shape (len(future_days), n_paths), clipped at zero."""
    t0 = hist_days[0]
    x = _design(hist_days - t0, hist_days, weekly)
    xf = _design(future_days - t0, future_days, weekly)
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    fitted = x @ beta
    resid = y - fitted
    # Centre and inflate residuals so resampling does not understate noise (leverage-free approximation).
    dof = max(len(y) - x.shape[1], 1)
    resid = (resid - resid.mean()) * np.sqrt(len(y) / dof)
    idx = rng.integers(0, len(y), size=(len(y), n_paths))
    y_star = fitted[:, None] + resid[idx]
    beta_star = np.linalg.pinv(x) @ y_star
    noise = resid[rng.integers(0, len(y), size=(len(future_days), n_paths))]
    paths: np.ndarray = np.clip(xf @ beta_star + noise, 0.0, None)
    return paths


def forecast_costs(
    history: CostHistory,
    book: PriceBook,
    *,
    as_of: date,
    months_ahead: int = 3,
    budget_usd: float | None = None,
    paths: int = 500,
    quantiles: tuple[float, float] = (0.05, 0.95),
    seed: int = 0,
) -> Forecast:
    """Project the month containing `as_of - 1 day` and the next `months_ahead` months."""
    daily = history.daily.copy()
    daily["day"] = pd.to_datetime(daily["day"]).dt.date
    daily = daily[daily["day"] < as_of].sort_values("day")
    if len(daily) < MIN_HISTORY_DAYS:
        raise CostInputInvalid(f"a forecast needs at least {MIN_HISTORY_DAYS} days of history (got {len(daily)})")
    rng = np.random.default_rng(seed)
    hist_days = np.array([(d - date(1970, 1, 1)).days for d in daily["day"]], dtype=np.int64)
    current = month_start(as_of - timedelta(days=1))
    horizon_end = current
    for _ in range(months_ahead + 1):
        horizon_end = next_month(horizon_end)
    future = np.arange((as_of - date(1970, 1, 1)).days, (horizon_end - date(1970, 1, 1)).days, dtype=np.int64)
    future_dates = [date(1970, 1, 1) + timedelta(days=int(d)) for d in future]

    gross = {
        line: _paths(daily[line].to_numpy(np.float64), hist_days, future, line == "delivery", paths, rng)
        for line in LINES
    }
    delivered_gross = float(daily["delivery"].sum())
    delivered_min = float(daily["delivered_min"].sum())
    fallback_rate = float(book.price("delivery", "plus", "1080p")) * 1_000_000
    rate = delivered_gross / delivered_min if delivered_min > 0 else fallback_rate

    month_keys = [month_start(d) for d in future_dates]
    months = sorted(set(month_keys) | {current})
    hist_month = np.array([month_start(d) == current for d in daily["day"]])
    rows, notes = [], []
    for m in months:
        in_m = np.array([k == m for k in month_keys])
        totals = {line: gross[line][in_m].sum(axis=0) for line in LINES}
        if m == current:
            for line in LINES:
                totals[line] = totals[line] + float(daily.loc[hist_month, line].sum())
        net = _price_month(totals, rate, book, history.volume_ratio)
        lo, mid, hi = np.quantile(net, [quantiles[0], 0.5, quantiles[1]])
        rows.append(
            {
                "month": m,
                "actual_micros": history.month_to_date_net_micros if m == current else 0,
                "low_micros": int(np.rint(lo)),
                "p50_micros": int(np.rint(mid)),
                "high_micros": int(np.rint(hi)),
                "is_current": m == current,
                "days_of_data": int(hist_month.sum()) if m == current else 0,
                "days_in_month": calendar.monthrange(m.year, m.month)[1],
            }
        )
    month_frame = pd.DataFrame(rows)
    cur = _current_month_path(
        daily, hist_month, gross, month_keys, future_dates, current, history, rate, book, quantiles
    )
    budget = None if budget_usd is None else int(np.rint(budget_usd * 1_000_000))
    if hist_month.sum() < 7:
        notes.append("fewer than 7 days of this month so far: the month-end projection leans on earlier months")
    return Forecast(as_of, month_frame, cur, quantiles, budget, notes)


def _price_month(
    totals: dict[str, np.ndarray], rate: float, book: PriceBook, volume_ratio: dict[str, float]
) -> np.ndarray:
    after_volume = {line: totals[line] * (1.0 - volume_ratio.get(line, 0.0)) for line in LINES}
    minutes = totals["delivery"] / rate if rate > 0 else np.zeros_like(totals["delivery"])
    with np.errstate(divide="ignore", invalid="ignore"):
        free_share = np.where(minutes > 0, np.minimum(1.0, book.free_delivery_minutes / minutes), 0.0)
    return after_volume["encoding"] + after_volume["storage"] + after_volume["delivery"] * (1.0 - free_share)


def _current_month_path(
    daily: pd.DataFrame,
    hist_month: np.ndarray,
    gross: dict[str, np.ndarray],
    month_keys: list[date],
    future_dates: list[date],
    current: date,
    history: CostHistory,
    rate: float,
    book: PriceBook,
    quantiles: tuple[float, float],
) -> pd.DataFrame:
    """Cumulative cost through the current month: actual so far, then the band of each path's net."""
    in_cur = np.array([k == current for k in month_keys])
    future_gross = sum(gross[line][in_cur] for line in LINES)
    month_gross = {line: gross[line][in_cur].sum(axis=0) + float(daily.loc[hist_month, line].sum()) for line in LINES}
    month_net = _price_month(month_gross, rate, book, history.volume_ratio)
    total_gross = sum(month_gross[line] for line in LINES)
    actual_gross = float(sum(daily.loc[hist_month, line].sum() for line in LINES))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(total_gross > 0, month_net / total_gross, 0.0)
    # Actual net so far is known exactly; the future days carry each path's month net/gross ratio.
    base = float(history.month_to_date_net_micros)
    cum_future = base + np.cumsum(future_gross * ratio[None, :], axis=0) if in_cur.any() else np.empty((0, 1))
    hist_cum = np.cumsum(daily.loc[hist_month, list(LINES)].sum(axis=1).to_numpy(np.float64))
    scale = base / actual_gross if actual_gross > 0 else 0.0
    rows = [
        {
            "day": d,
            "actual_cum_micros": float(c * scale),
            "low_cum_micros": np.nan,
            "p50_cum_micros": np.nan,
            "high_cum_micros": np.nan,
        }
        for d, c in zip(daily.loc[hist_month, "day"], hist_cum, strict=True)
    ]
    cur_dates = [d for d, k in zip(future_dates, month_keys, strict=True) if k == current]
    for i, d in enumerate(cur_dates):
        lo, mid, hi = np.quantile(cum_future[i], [quantiles[0], 0.5, quantiles[1]])
        rows.append(
            {"day": d, "actual_cum_micros": np.nan, "low_cum_micros": lo, "p50_cum_micros": mid, "high_cum_micros": hi}
        )
    return pd.DataFrame(rows)

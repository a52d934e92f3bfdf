"""Roll-ups of priced rows: per lesson and per day x line item, for a period of the priced window.

These are what the reports use (`CostEstimate.by_lesson`, `.daily`); the priced rows themselves are only
kept when asked for. A storage row covering several days is spread over them in whole micro-dollars,
floor per day and the remainder one micro-dollar each to its first days, so the days add up to the rows
exactly. Sums are bincounts (float64 adds, exact for integer micro-dollars below 2**53, ~$9 billion).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.costs.period import DAILY_COLUMNS, EPOCH, MEASURES, ROW_COLUMNS, CostEstimate, Period, day_number
from core.costs.pricebook import LINES, QUALITIES, STORAGE_CLASSES, TIERS
from core.costs.pricing import Block, Priced

AMOUNTS = ("gross", "volume", "free", "net")
QUANTITIES = {"encoding": "encoded_min", "storage": "stored_min_months", "delivery": "delivered_min"}


def estimate(
    priced: Priced,
    period: Period,
    *,
    lessons: bool = True,
    detail: bool = False,
    notes: list[str] | None = None,
) -> CostEstimate:
    """The estimate of `period` (its bounds should be among the boundaries the window was priced with),
    rolled up on first use. `lessons=False`: daily figures only; `detail`: the priced rows as a frame too."""
    p0, p1 = day_number(period.start), min(day_number(period.end), day_number(priced.end))
    blocks = []
    for block in priced.blocks:
        inside = (block.day >= p0) & (block.day < p1)
        blocks.append(block if inside.all() else block.take(inside))
    return CostEstimate(
        period=period,
        pricebook_version=priced.pricebook_version,
        notes=[*(notes or []), *priced.notes],
        rows=detail_rows(priced, blocks) if detail else None,
        source=PeriodRows(priced, blocks, period),
        daily_only=not lessons,
    )


@dataclass
class PeriodRows:
    """The priced rows of one period: what an estimate rolls up when asked."""

    priced: Priced
    blocks: list[Block]
    period: Period

    def by_lesson(self) -> pd.DataFrame:
        return by_lesson(self.priced, self.blocks)

    def daily(self) -> pd.DataFrame:
        return daily(self.blocks, self.period)

    def totals(self) -> dict[str, float]:
        out: dict[str, float] = dict.fromkeys(MEASURES, 0)
        for block in self.blocks:
            name = LINES[block.line]
            gross, volume, free = (int(getattr(block, a).sum()) for a in ("gross", "volume", "free"))
            out[f"{name}_micros"] += gross - volume - free
            out["gross_micros"] += gross
            out["volume_micros"] += volume
            out["free_micros"] += free
            out["net_micros"] += gross - volume - free
            out[QUANTITIES[name]] += float(block.quantity.sum())
        return out


def by_lesson(priced: Priced, blocks: list[Block]) -> pd.DataFrame:
    """lesson_id (NA: assets linked to no lesson) + MEASURES, ordered by lesson (unlinked last)."""
    n = priced.lesson_id.size
    sums: dict[str, np.ndarray] = {name: np.zeros(n) for name in MEASURES}
    used = np.zeros(n, dtype=bool)
    for block in blocks:
        name = LINES[block.line]
        gross = np.bincount(block.asset, weights=block.gross, minlength=n)
        volume = np.bincount(block.asset, weights=block.volume, minlength=n)
        free = np.bincount(block.asset, weights=block.free, minlength=n) if block.free.any() else np.zeros(n)
        net = gross - volume - free
        sums[f"{name}_micros"] += net
        sums["gross_micros"] += gross
        sums["volume_micros"] += volume
        sums["free_micros"] += free
        sums["net_micros"] += net
        sums[QUANTITIES[name]] += np.bincount(block.asset, weights=block.quantity, minlength=n)
        used[block.asset] = True
    frame = pd.DataFrame({k: v[used] for k, v in sums.items()})
    frame.insert(0, "lesson_id", pd.arrays.IntegerArray(priced.lesson_id[used], priced.lesson_missing[used]))
    out = frame.groupby("lesson_id", dropna=False, sort=True)[list(MEASURES)].sum().reset_index()
    for name in MEASURES:
        if name.endswith("_micros"):
            out[name] = np.rint(out[name].to_numpy()).astype(np.int64)
    out["lesson_id"] = out["lesson_id"].astype("Int64")
    return out[["lesson_id", *MEASURES]]


def daily(blocks: list[Block], period: Period) -> pd.DataFrame:
    """Every day of `period` x line item: amounts spread over the days their rows cover (DAILY_COLUMNS)."""
    n = period.days
    p0 = day_number(period.start)
    columns = {f"{a}_micros": np.zeros((n, len(LINES))) for a in AMOUNTS} | {"quantity": np.zeros((n, len(LINES)))}
    for block in blocks:
        start = block.day - p0
        single = block.days == 1
        one = start if single.all() else start[single]
        values = {a: getattr(block, a) for a in AMOUNTS} | {"quantity": block.quantity}
        for name, value in values.items():
            column = f"{name}_micros" if name != "quantity" else name
            if not value.any():
                continue
            columns[column][:, block.line] += np.bincount(
                one, weights=value if single.all() else value[single], minlength=n
            )[:n]
        if single.all():
            continue
        # Rows over several days (storage runs): +per_day+1 from the first day, -1 after `rem` days and
        # -per_day after the last, summed as a difference array (the period's end cuts the last ones off).
        many = ~single
        s, d = start[many], block.days[many]
        for name, value in values.items():
            value = value[many]
            if not value.any():
                continue
            if name == "quantity":
                share = value / d
                diff = np.bincount(s, weights=share, minlength=n + 1) - np.bincount(
                    s + d, weights=share, minlength=n + 1
                )
                columns["quantity"][:, block.line] += np.cumsum(diff[:n])
                continue
            per_day, rem = np.divmod(value, d)
            diff = (
                np.bincount(s, weights=per_day + 1, minlength=n + 1)
                - np.bincount(s + rem, minlength=n + 1)
                - np.bincount(s + d, weights=per_day, minlength=n + 1)
            )
            columns[f"{name}_micros"][:, block.line] += np.cumsum(diff[:n])
    days = pd.date_range(period.start, periods=n, freq="D").date
    frame = pd.DataFrame(
        {
            "day": np.repeat(days, len(LINES)),
            "line": pd.Categorical(np.tile(list(LINES), n), categories=list(LINES)),
            **{k: (np.rint(v).astype(np.int64) if k != "quantity" else v).reshape(-1) for k, v in columns.items()},
        }
    )
    return frame[list(DAILY_COLUMNS)]


def detail_rows(priced: Priced, blocks: list[Block]) -> pd.DataFrame:
    """The priced rows themselves (ROW_COLUMNS), for tests and small what-ifs."""
    epoch = np.datetime64(EPOCH, "D")
    cat = {name: np.concatenate([getattr(b, name) for b in blocks]) for name in ("asset", "day", "days", "month")}
    line = np.concatenate([np.full(b.asset.size, b.line) for b in blocks])
    asset = cat["asset"]
    names = np.asarray(priced.asset_ids.to_pylist(), dtype=object)

    def joined(name: str) -> np.ndarray:
        return np.concatenate([getattr(b, name) for b in blocks])

    frame = pd.DataFrame(
        {
            "asset_id": pd.Categorical(names[asset]),
            "lesson_id": pd.arrays.IntegerArray(priced.lesson_id[asset], priced.lesson_missing[asset]),
            "line": pd.Categorical.from_codes(line, categories=list(LINES)),
            "day": (epoch + cat["day"]).astype("datetime64[s]"),
            "days": cat["days"],
            "month": (epoch + priced.month_starts[cat["month"]]).astype("datetime64[s]"),
            "quality": pd.Categorical.from_codes(joined("quality"), categories=list(QUALITIES)),
            "tier": pd.Categorical.from_codes(joined("tier"), categories=list(TIERS)),
            "storage_class": pd.Categorical.from_codes(joined("cls"), categories=list(STORAGE_CLASSES)),
            "quantity": joined("qn") / joined("qd"),
            "gross_micros": joined("gross"),
            "volume_micros": joined("volume"),
            "free_micros": joined("free"),
            "net_micros": joined("gross") - joined("volume") - joined("free"),
        }
    )
    return frame[list(ROW_COLUMNS)]

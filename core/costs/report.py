"""Roll priced rows up by lesson, course, teacher, day or month; shape them for JSON, CSV and tables.

Every rollup is a sum of the estimate's integer rows, so each grouping adds up to the same total. A
storage run spanning several days is spread over its days in whole micro-dollars (floor, remainder to the
first days), so the day rollup adds up exactly too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from core.costs.errors import CostInputInvalid
from core.costs.estimate import DELIVERY, ENCODING, STORAGE, CostEstimate, Period, day_numbers
from core.costs.money import allocate_cents, cents_str, micros_to_cents
from core.costs.pricebook import LINES

GROUP_BY = ("lesson", "course", "teacher", "day", "month")
ATTRIBUTION_COLUMNS = ("lesson_id", "lesson_title", "course_id", "course_title", "teacher_id", "teacher_name")
MEASURES = (
    "encoding_micros", "storage_micros", "delivery_micros", "gross_micros", "volume_micros", "free_micros",
    "net_micros", "encoded_min", "stored_min_months", "delivered_min",
)  # fmt: skip
KEYS = {
    "lesson": ["lesson_id", "lesson_title", "course_id", "course_title", "teacher_id", "teacher_name"],
    "course": ["course_id", "course_title", "teacher_id", "teacher_name"],
    "teacher": ["teacher_id", "teacher_name"],
    "day": ["day"],
    "month": ["month"],
}
NO_LESSON = "(asset not linked to a lesson)"
UNKNOWN = "(unknown)"


FORMATS = ("json", "csv")


@dataclass(frozen=True)
class ReportParams:
    period: Period
    group_by: str
    format: str


def parse_report_params(
    first: str | None,
    last: str | None,
    group_by: str | None,
    fmt: str | None,
    *,
    today: date,
    max_days: int,
    formats: tuple[str, ...] = FORMATS,
) -> ReportParams:
    """Validate report parameters (ISO dates, inclusive; default: this month to date, by course, JSON)."""

    def parse(value: str | None, name: str, default: date) -> date:
        if value is None or value == "":
            return default
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise CostInputInvalid(f"`{name}` must be a date like 2026-11-01 (got {value!r})") from None

    start = parse(first, "from", today.replace(day=1))
    end = parse(last, "to", today)
    period = Period.inclusive(start, end)
    if period.days > max_days:
        raise CostInputInvalid(f"period is {period.days} days; at most {max_days} (LECTERN_COST_REPORT_MAX_DAYS)")
    group = group_by or "course"
    if group not in GROUP_BY:
        raise CostInputInvalid(f"`group_by` must be one of {', '.join(GROUP_BY)} (got {group!r})")
    out = fmt or formats[0]
    if out not in formats:
        raise CostInputInvalid(f"`format` must be one of {', '.join(formats)} (got {out!r})")
    return ReportParams(period, group, out)


def _line_codes(rows: pd.DataFrame) -> np.ndarray:
    return rows["line"].cat.codes.to_numpy(dtype=np.int64)


def _measures(rows: pd.DataFrame, codes: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Sum every measure per group code (0..n-1) with bincount: exact for int64 amounts below 2**53."""
    line = _line_codes(rows)
    by_line = codes * len(LINES) + line  # one pass per measure gives every line item's sum

    def total(column: str) -> np.ndarray:
        return np.bincount(codes, weights=rows[column].to_numpy(), minlength=n)

    def per_line(column: str) -> np.ndarray:
        return np.bincount(by_line, weights=rows[column].to_numpy(), minlength=n * len(LINES)).reshape(n, len(LINES))

    net = per_line("net_micros")
    qty = per_line("quantity")
    ints = {
        "encoding_micros": net[:, ENCODING],
        "storage_micros": net[:, STORAGE],
        "delivery_micros": net[:, DELIVERY],
        "gross_micros": total("gross_micros"),
        "volume_micros": total("volume_micros"),
        "free_micros": total("free_micros"),
        "net_micros": net.sum(axis=1),
    }
    out = {k: np.rint(v).astype(np.int64) for k, v in ints.items()}
    return out | {
        "encoded_min": qty[:, ENCODING],
        "stored_min_months": qty[:, STORAGE],
        "delivered_min": qty[:, DELIVERY],
    }


def _by_lesson(rows: pd.DataFrame) -> pd.DataFrame:
    # Sum per asset first (categorical codes: no hashing of millions of rows), then per lesson.
    codes = rows["asset_id"].cat.codes.to_numpy().astype(np.int64)
    n_assets = len(rows["asset_id"].cat.categories)
    per_asset = pd.DataFrame(_measures(rows, codes, n_assets))
    lesson = np.zeros(n_assets, dtype=np.int64)
    missing = np.ones(n_assets, dtype=bool)
    lesson_ids = rows["lesson_id"].array
    lesson[codes] = lesson_ids.to_numpy("int64", na_value=0)
    missing[codes] = lesson_ids.isna()
    per_asset["lesson_id"] = pd.arrays.IntegerArray(lesson, missing)
    used = np.bincount(codes, minlength=n_assets) > 0
    out = per_asset[used].groupby("lesson_id", dropna=False, sort=False)[list(MEASURES)].sum().reset_index()
    return out[["lesson_id", *MEASURES]]


def rollup(estimate: CostEstimate, group_by: str, attribution: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per group with every measure (micro-dollars as int64), most expensive first (time: in order)."""
    if group_by not in GROUP_BY:
        raise CostInputInvalid(f"group_by must be one of {', '.join(GROUP_BY)} (got {group_by!r})")
    rows = estimate.rows
    if group_by == "day":
        return _by_day(estimate)
    if group_by == "month":
        codes, months = pd.factorize(rows["month"], sort=True)
        frame = pd.DataFrame({"month": pd.to_datetime(months).date})
        return frame.assign(**_measures(rows, codes.astype(np.int64), len(months)))
    lessons = _attach(_by_lesson(rows), attribution)
    if group_by == "lesson":
        out = lessons
    else:
        keys = KEYS[group_by]
        id_col, label_cols = keys[0], keys[1:]
        grouped = lessons.groupby(id_col, dropna=False, sort=False)
        out = grouped[list(MEASURES)].sum().reset_index()
        labels = lessons.drop_duplicates(id_col)[keys]
        out = out.merge(labels, on=id_col, how="left")[[*keys, *MEASURES]]
        for col in label_cols:
            if not col.endswith("_id"):
                out[col] = out[col].fillna(UNKNOWN)
    return out.sort_values("net_micros", ascending=False, kind="stable").reset_index(drop=True)


def _attach(lessons: pd.DataFrame, attribution: pd.DataFrame | None) -> pd.DataFrame:
    if attribution is None:
        attribution = pd.DataFrame({c: pd.Series(dtype="object") for c in ATTRIBUTION_COLUMNS})
    missing = [c for c in ATTRIBUTION_COLUMNS if c not in attribution.columns]
    if missing:
        raise CostInputInvalid(f"attribution frame lacks columns {', '.join(missing)}")
    attr = attribution[list(ATTRIBUTION_COLUMNS)].drop_duplicates("lesson_id").copy()
    attr["lesson_id"] = attr["lesson_id"].astype("Int64")
    for col in ("course_id", "teacher_id"):
        attr[col] = attr[col].astype("Int64")
    out = lessons.merge(attr, on="lesson_id", how="left")
    unlinked = out["lesson_id"].isna()
    out["lesson_title"] = out["lesson_title"].astype("object").where(~unlinked, NO_LESSON).fillna(UNKNOWN)
    for col in ("course_title", "teacher_name"):
        out[col] = out[col].astype("object").fillna(UNKNOWN)
    return out[[*ATTRIBUTION_COLUMNS, *MEASURES]]


def _by_day(estimate: CostEstimate) -> pd.DataFrame:
    rows = estimate.rows
    period = estimate.period
    n = period.days
    start = day_numbers(rows["day"]) - day_numbers(pd.Series([pd.Timestamp(period.start)]))[0]
    span = rows["days"].to_numpy(dtype=np.int64)
    line = _line_codes(rows)
    out: dict[str, Any] = {"day": pd.date_range(period.start, periods=n, freq="D").date}

    multi = span > 1  # storage runs; every other row sits on one day

    def spread(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Integer amounts over each row's days: floor per day, the remainder one unit to the first days."""
        one = mask & ~multi
        out = np.bincount(start[one], weights=values[one], minlength=n)[:n]
        many = mask & multi
        if many.any():
            s, d, a = start[many], span[many], values[many]
            per_day, rem = np.divmod(a, d)
            # Difference array: +per_day+1 at s, -1 at s+rem, -per_day at s+d (bincount sums exactly < 2**53).
            diff = np.bincount(s, weights=per_day + 1, minlength=n + 1)
            diff -= np.bincount(s + rem, minlength=n + 1)[: n + 1]
            diff -= np.bincount(s + d, weights=per_day, minlength=n + 1)[: n + 1]
            out = out + np.cumsum(diff[:n])
        return np.rint(out).astype(np.int64)

    def spread_float(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        s, d = start[mask], span[mask]
        share = values[mask] / d
        diff = np.bincount(s, weights=share, minlength=n + 1) - np.bincount(s + d, weights=share, minlength=n + 1)
        return np.cumsum(diff[:n])

    everything = np.ones(len(rows), dtype=bool)
    for name, code in (("encoding", ENCODING), ("storage", STORAGE), ("delivery", DELIVERY)):
        out[f"{name}_micros"] = spread(rows["net_micros"].to_numpy(), line == code)
    out["gross_micros"] = spread(rows["gross_micros"].to_numpy(), everything)
    out["volume_micros"] = spread(rows["volume_micros"].to_numpy(), everything)
    out["free_micros"] = spread(rows["free_micros"].to_numpy(), everything)
    out["net_micros"] = out["encoding_micros"] + out["storage_micros"] + out["delivery_micros"]
    qty = rows["quantity"].to_numpy()
    out["encoded_min"] = spread_float(qty, line == ENCODING)
    out["stored_min_months"] = spread_float(qty, line == STORAGE)
    out["delivered_min"] = spread_float(qty, line == DELIVERY)
    return pd.DataFrame(out)


def daily_by_line(estimate: CostEstimate, measure: str = "gross_micros") -> pd.DataFrame:
    """Per day and line item, one micro-dollar measure (plus delivered minutes): what forecasts fit on."""
    rows = estimate.rows
    if len(rows) == 0:
        frame = pd.DataFrame({"day": pd.date_range(estimate.period.start, periods=estimate.period.days).date})
        return frame.assign(**{line: 0 for line in LINES}, delivered_min=0.0)
    masked = rows.assign(net_micros=rows[measure], gross_micros=rows[measure])
    by_day = _by_day(CostEstimate(estimate.period, masked, estimate.pricebook_version))
    return pd.DataFrame(
        {
            "day": by_day["day"],
            "encoding": by_day["encoding_micros"],
            "storage": by_day["storage_micros"],
            "delivery": by_day["delivery_micros"],
            "delivered_min": by_day["delivered_min"],
        }
    )


def summary(estimate: CostEstimate) -> dict[str, Any]:
    """Totals for the period, in micro-dollars and minutes."""
    frame = _measures(estimate.rows, np.zeros(len(estimate.rows), dtype=np.int64), 1)
    return {k: (int(v[0]) if k.endswith("_micros") else float(v[0])) for k, v in frame.items()}


def present(frame: pd.DataFrame) -> pd.DataFrame:
    """Micro-dollar columns -> `*_usd` strings in cents, allocated so every column adds up to its total."""
    out = frame.copy()
    for col in [c for c in frame.columns if c.endswith("_micros")]:
        cents = allocate_cents(frame[col].to_numpy())
        out[col.removesuffix("_micros") + "_usd"] = [cents_str(c) for c in cents]
    for col in ("encoded_min", "stored_min_months", "delivered_min"):
        if col in out.columns:
            out[col] = out[col].round(3)
    return out.drop(columns=[c for c in frame.columns if c.endswith("_micros")])


def report_payload(estimate: CostEstimate, group_by: str, attribution: pd.DataFrame | None = None) -> dict[str, Any]:
    """The JSON body of a cost report: period, totals (cents-exact), groups, notes."""
    grouped = rollup(estimate, group_by, attribution)
    shown = present(grouped)
    totals = summary(estimate)
    total_usd = {
        k.removesuffix("_micros") + "_usd": cents_str(micros_to_cents(v))
        for k, v in totals.items()
        if k.endswith("_micros")
    }
    records = shown.astype(object).where(shown.notna(), None).to_dict(orient="records")
    for record in records:
        for key, value in record.items():
            if hasattr(value, "isoformat"):
                record[key] = value.isoformat()
            elif isinstance(value, np.integer):
                record[key] = int(value)
            elif isinstance(value, np.floating):
                record[key] = float(value)
    return {
        "from": estimate.period.start.isoformat(),
        "to": estimate.period.last.isoformat(),
        "group_by": group_by,
        "currency": "USD",
        "pricebook": estimate.pricebook_version,
        "totals": total_usd | {k: round(v, 3) for k, v in totals.items() if not k.endswith("_micros")},
        "total_micros": totals["net_micros"],
        "lines": list(LINES),
        "groups": records,
        "notes": estimate.notes,
    }


def report_csv(estimate: CostEstimate, group_by: str, attribution: pd.DataFrame | None = None) -> str:
    return str(present(rollup(estimate, group_by, attribution)).to_csv(index=False))

"""Roll an estimate up by lesson, course, teacher, day or month; shape it for JSON, CSV and tables.

The estimate rolls its priced rows up per lesson or per day x line item when asked (`core/costs/rollups.py`);
courses and teachers are sums of lessons, months sums of days. Every amount is integer micro-dollars, so
each grouping adds up to the same total.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from core.costs.errors import CostInputInvalid
from core.costs.money import allocate_cents, cents_str, micros_to_cents
from core.costs.period import MEASURES, CostEstimate, Period
from core.costs.pricebook import LINES

GROUP_BY = ("lesson", "course", "teacher", "day", "month")
ATTRIBUTION_COLUMNS = ("lesson_id", "lesson_title", "course_id", "course_title", "teacher_id", "teacher_name")
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


def _lessons(estimate: CostEstimate) -> pd.DataFrame:
    if estimate.by_lesson is None:
        raise CostInputInvalid("this estimate has daily figures only (a subset); price the period to group by lesson")
    return estimate.by_lesson


def rollup(estimate: CostEstimate, group_by: str, attribution: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per group with every measure (micro-dollars as int64), most expensive first (time: in order)."""
    if group_by not in GROUP_BY:
        raise CostInputInvalid(f"group_by must be one of {', '.join(GROUP_BY)} (got {group_by!r})")
    if group_by == "day":
        return _by_day(estimate)
    if group_by == "month":
        by_day = _by_day(estimate)
        months = pd.to_datetime(by_day["day"]).dt.to_period("M").dt.start_time.dt.date
        out = by_day.drop(columns="day").groupby(months.rename("month"), sort=True).sum().reset_index()
        return out[["month", *MEASURES]]
    lessons = _attach(_lessons(estimate), attribution)
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


def _line_frame(estimate: CostEstimate, column: str) -> pd.DataFrame:
    """days x line items of one daily column."""
    return estimate.daily.pivot(index="day", columns="line", values=column)[list(LINES)]


def _by_day(estimate: CostEstimate) -> pd.DataFrame:
    net = _line_frame(estimate, "net_micros")
    qty = _line_frame(estimate, "quantity")
    out = pd.DataFrame({"day": list(net.index)})
    for name in LINES:
        out[f"{name}_micros"] = net[name].to_numpy(np.int64)
    for amount in ("gross", "volume", "free"):
        out[f"{amount}_micros"] = _line_frame(estimate, f"{amount}_micros").sum(axis=1).to_numpy(np.int64)
    out["net_micros"] = out["encoding_micros"] + out["storage_micros"] + out["delivery_micros"]
    out["encoded_min"] = qty["encoding"].to_numpy(np.float64)
    out["stored_min_months"] = qty["storage"].to_numpy(np.float64)
    out["delivered_min"] = qty["delivery"].to_numpy(np.float64)
    return out[["day", *MEASURES]]


def daily_by_line(estimate: CostEstimate, measure: str = "gross_micros") -> pd.DataFrame:
    """Per day and line item, one micro-dollar measure (plus delivered minutes): what forecasts fit on."""
    values = _line_frame(estimate, measure)
    return pd.DataFrame(
        {
            "day": list(values.index),
            "encoding": values["encoding"].to_numpy(np.int64),
            "storage": values["storage"].to_numpy(np.int64),
            "delivery": values["delivery"].to_numpy(np.int64),
            "delivered_min": _line_frame(estimate, "quantity")["delivery"].to_numpy(np.float64),
        }
    )


def summary(estimate: CostEstimate) -> dict[str, Any]:
    """Totals for the period, in micro-dollars and minutes."""
    return {k: (int(v) if k.endswith("_micros") else float(v)) for k, v in estimate.totals().items()}


def _cents_strs(cents: np.ndarray) -> pd.Series:
    """`cents_str` for a whole column at once (a report has a row per lesson: 100,000 of them)."""
    whole = pd.Series(np.abs(cents))
    sign = pd.Series(np.where(cents < 0, "-", ""))
    return sign + (whole // 100).astype(str) + "." + (whole % 100).astype(str).str.zfill(2)


def present(frame: pd.DataFrame) -> pd.DataFrame:
    """Micro-dollar columns -> `*_usd` strings in cents, allocated so every column adds up to its total."""
    out = frame.copy()
    for col in [c for c in frame.columns if c.endswith("_micros")]:
        cents = allocate_cents(frame[col].to_numpy())
        out[col.removesuffix("_micros") + "_usd"] = _cents_strs(cents).to_numpy()
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
    for col in ("day", "month"):
        if col in shown.columns:
            shown[col] = [d.isoformat() for d in shown[col]]
    # Column by column (`tolist` gives Python ints, floats and strs, ~3x faster than to_dict's boxing per
    # value at 100,000 lessons); missing values become None.
    columns = list(shown.columns)
    values = [
        [None if pd.isna(v) else v for v in shown[c].tolist()] if shown[c].hasnans else shown[c].tolist()
        for c in columns
    ]
    records = [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]
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

"""What-if: re-price a period under changed levers; migration preview: what moving S3 lessons will cost.

Both are pure: they take the same frames as `estimate_costs` (and a frame of S3 lessons) and return frames.

Levers (each optional):
- `max_resolution` 720p/1080p: assets stored, encoded and delivered at no more than this tier (Mux's
  `max_resolution_tier` at creation plus a capped playback; delivered minutes move down to the cap);
- `video_quality` basic/plus/premium for every asset (basic: free encoding, one-month minimum storage);
- `delete_unwatched_days` N: assets not played in the N days before the period are deleted at its start;
- `migrate_s3`: every remaining S3 lesson becomes an asset at the period's start (encoding + storage for its
  duration), delivered every day at its platform watch rate (`watched_s_per_day`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import numpy as np
import pandas as pd

from core.costs.errors import CostInputInvalid
from core.costs.estimate import CostEstimate, Period, day_numbers, estimate_costs
from core.costs.money import round_micros
from core.costs.pricebook import QUALITIES, TIERS, PriceBook, normalize_tier
from core.costs.report import summary

S3_LESSON_COLUMNS = ("lesson_id", "duration_s", "watched_s_per_day")
CAPS = ("720p", "1080p")
VIDEO_TIERS = TIERS[:4]  # audio-only is never capped


@dataclass(frozen=True)
class Levers:
    max_resolution: str | None = None
    video_quality: str | None = None
    delete_unwatched_days: int | None = None
    migrate_s3: bool = False
    s3_video_quality: str = "basic"
    s3_resolution_tier: str = "1080p"

    def __post_init__(self) -> None:
        if self.max_resolution not in (None, *CAPS):
            raise CostInputInvalid(f"max_resolution must be one of {', '.join(CAPS)}")
        for name in ("video_quality", "s3_video_quality"):
            value = getattr(self, name)
            if value is not None and value not in QUALITIES:
                raise CostInputInvalid(f"{name} must be one of {', '.join(QUALITIES)}")
        if self.s3_resolution_tier not in VIDEO_TIERS:
            raise CostInputInvalid(f"s3_resolution_tier must be one of {', '.join(VIDEO_TIERS)}")
        if self.delete_unwatched_days is not None and self.delete_unwatched_days < 1:
            raise CostInputInvalid("delete_unwatched_days must be at least 1")


@dataclass
class WhatIf:
    baseline: CostEstimate
    scenario: CostEstimate
    diff: pd.DataFrame  # item, baseline_micros, scenario_micros, delta_micros
    notes: list[str] = field(default_factory=list)


def _cap(values: pd.Series, cap: str) -> pd.Series:
    tiers = normalize_tier(values)
    limit = TIERS.index(cap)
    over = tiers.map(lambda t: t in VIDEO_TIERS and TIERS.index(t) > limit, na_action="ignore").fillna(False)
    return tiers.where(~over.astype(bool), cap)


def _midnight(d: date) -> pd.Timestamp:
    return pd.Timestamp(datetime.combine(d, time.min)).tz_localize("UTC")


def apply_levers(
    assets: pd.DataFrame,
    delivery: pd.DataFrame,
    views: pd.DataFrame,
    period: Period,
    levers: Levers,
    s3_lessons: pd.DataFrame | None = None,
    as_of: date | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, list[str]]:
    """The input frames as they would be under `levers`."""
    assets, delivery, views = assets.copy(), delivery.copy(), views.copy()
    notes: list[str] = []
    if levers.delete_unwatched_days:
        cutoff = (period.start - date(1970, 1, 1)).days - levers.delete_unwatched_days
        start = (period.start - date(1970, 1, 1)).days
        seen = pd.concat([views[["asset_id", "day"]], delivery[["asset_id", "day"]]], ignore_index=True)
        seen_day = day_numbers(seen["day"])
        before = seen.loc[seen_day < start].assign(n=seen_day[seen_day < start])
        last = before.groupby(before["asset_id"].astype("string"))["n"].max()
        created = day_numbers(assets["created_at"])
        last_view = assets["asset_id"].astype("string").map(last).to_numpy(dtype="float64", na_value=np.nan)
        anchor = np.where(np.isnan(last_view), created, last_view)
        deleted = day_numbers(assets["deleted_at"])
        alive = (deleted == np.iinfo(np.int64).min) | (deleted > start)
        doomed = alive & (anchor < cutoff) & (created < start)
        ids = set(assets.loc[doomed, "asset_id"].astype("string"))
        assets.loc[doomed, "deleted_at"] = _midnight(period.start)
        in_future = day_numbers(delivery["day"]) >= start
        delivery = delivery.loc[~(delivery["asset_id"].astype("string").isin(ids) & in_future)]
        notes.append(f"{len(ids)} assets unplayed for {levers.delete_unwatched_days}+ days deleted on {period.start}")
    if levers.migrate_s3:
        if s3_lessons is None or s3_lessons.empty:
            notes.append("no S3 lessons left to migrate")
        else:
            new_assets, new_delivery = _s3_as_assets(s3_lessons, period, levers, as_of)
            assets = pd.concat([assets, new_assets], ignore_index=True)
            delivery = pd.concat([delivery, new_delivery], ignore_index=True)
            # The quality and cap levers below apply to the migrated lessons too: the note names what they get.
            quality = levers.video_quality or levers.s3_video_quality
            tier = levers.s3_resolution_tier
            if levers.max_resolution and TIERS.index(levers.max_resolution) < TIERS.index(tier):
                tier = levers.max_resolution
            notes.append(
                f"{len(new_assets)} S3 lessons migrated on {period.start} as {quality} {tier}; "
                "delivery from their platform watch rate"
            )
    if levers.video_quality:
        assets["video_quality"] = levers.video_quality
        if "video_quality" in delivery.columns:
            delivery["video_quality"] = levers.video_quality
    if levers.max_resolution:
        assets["resolution_tier"] = _cap(assets["resolution_tier"], levers.max_resolution)
        delivery["resolution_tier"] = _cap(delivery["resolution_tier"], levers.max_resolution)
    return assets, delivery, views, notes


def _s3_as_assets(
    lessons: pd.DataFrame, period: Period, levers: Levers, as_of: date | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    missing = [c for c in S3_LESSON_COLUMNS if c not in lessons.columns]
    if missing:
        raise CostInputInvalid(f"S3 lessons frame lacks columns {', '.join(missing)}")
    ids = "s3-lesson-" + lessons["lesson_id"].astype("int64").astype("string")
    new_assets = pd.DataFrame(
        {
            "asset_id": ids,
            "lesson_id": lessons["lesson_id"].astype("Int64"),
            "duration_s": lessons["duration_s"].astype("float64").fillna(0.0),
            "resolution_tier": levers.s3_resolution_tier,
            "video_quality": levers.s3_video_quality,
            "created_at": _midnight(period.start),
            "deleted_at": pd.NaT,
        }
    )
    last = min(period.end, as_of) if as_of else period.end
    days = pd.date_range(period.start, last - timedelta(days=1), freq="D")
    rate = lessons["watched_s_per_day"].astype("float64").fillna(0.0).to_numpy()
    watched = rate > 0
    new_delivery = pd.DataFrame(
        {
            "asset_id": np.repeat(ids.to_numpy()[watched], len(days)),
            "day": np.tile(days.to_numpy(), int(watched.sum())),
            "resolution_tier": levers.s3_resolution_tier,
            "delivered_s": np.repeat(rate[watched], len(days)),
        }
    )
    return new_assets, new_delivery


def what_if(
    assets: pd.DataFrame,
    delivery: pd.DataFrame,
    views: pd.DataFrame,
    period: Period,
    book: PriceBook,
    levers: Levers,
    *,
    s3_lessons: pd.DataFrame | None = None,
    as_of: date | None = None,
    baseline: CostEstimate | None = None,
) -> WhatIf:
    """Baseline vs scenario for `period`, with the difference per line item."""
    base = baseline or estimate_costs(assets, delivery, views, period, book, as_of=as_of, detail=False)
    a, d, v, notes = apply_levers(assets, delivery, views, period, levers, s3_lessons, as_of)
    scenario = estimate_costs(a, d, v, period, book, as_of=as_of, detail=False)
    return WhatIf(base, scenario, compare(base, scenario), notes + scenario.notes)


def compare(baseline: CostEstimate, scenario: CostEstimate) -> pd.DataFrame:
    items = [
        ("encoding", "encoding_micros"),
        ("storage", "storage_micros"),
        ("delivery", "delivery_micros"),
        ("list price (before credits)", "gross_micros"),
        ("volume discount", "volume_micros"),
        ("free delivery minutes", "free_micros"),
        ("total", "net_micros"),
    ]
    b, s = summary(baseline), summary(scenario)
    return pd.DataFrame(
        {
            "item": [label for label, _ in items],
            "baseline_micros": [b[key] for _, key in items],
            "scenario_micros": [s[key] for _, key in items],
            "delta_micros": [s[key] - b[key] for _, key in items],
        }
    )


@dataclass
class MigrationPreview:
    """What moving `lessons` to Mux adds: a one-off encoding bill, then storage and delivery every month."""

    lessons: pd.DataFrame  # lesson_id, minutes, encoding_micros, storage_month_micros, delivery_month_micros
    encoding_micros: int
    storage_month_micros: int
    delivery_month_micros: int
    assumptions: list[str]

    @property
    def monthly_micros(self) -> int:
        return self.storage_month_micros + self.delivery_month_micros

    @property
    def first_month_micros(self) -> int:
        return self.encoding_micros + self.monthly_micros


def _marginal(book: PriceBook, line: str, existing: float, added: float, list_cost: float) -> float:
    """List cost of `added` minutes after volume tiers (priced on top of `existing` minutes)."""
    if added <= 0:
        return 0.0
    total, before = book.volume_multiplier(line, np.array([existing + added, existing]))
    return float(list_cost * (total * (existing + added) - before * existing) / added)


def migration_preview(
    lessons: pd.DataFrame,
    book: PriceBook,
    *,
    video_quality: str = "basic",
    resolution_tier: str = "1080p",
    existing_stored_min: float = 0.0,
    existing_delivered_min_per_month: float = 0.0,
    days_per_month: float = 30.0,
) -> MigrationPreview:
    """Cost of migrating S3 `lessons` (`lesson_id`, `duration_s`, `watched_s_per_day`) to Mux.

    Storage and delivery are priced at the margin: on top of what the account already stores and delivers
    (pass those to get the right volume tier and the free delivery minutes left over).
    """
    Levers(video_quality=video_quality, s3_resolution_tier=resolution_tier)  # validates both
    missing = [c for c in S3_LESSON_COLUMNS if c not in lessons.columns]
    if missing:
        raise CostInputInvalid(f"lessons frame lacks columns {', '.join(missing)}")
    minutes = lessons["duration_s"].astype("float64").fillna(0.0).clip(lower=0).to_numpy() / 60.0
    watch_min = lessons["watched_s_per_day"].astype("float64").fillna(0.0).clip(lower=0).to_numpy() / 60.0
    delivered = watch_min * days_per_month
    micro = 1_000_000.0
    enc_rate = float(book.price("encoding", video_quality, resolution_tier)) * micro
    sto_rate = float(book.price("storage", video_quality, resolution_tier)) * micro
    del_rate = float(book.price("delivery", video_quality, resolution_tier)) * micro
    # A lesson nobody watches sits in cold storage from creation when Mux starts unplayed assets cold.
    factors = book.storage_class_factors()
    cold = (delivered <= 0) & book.new_assets_start_cold
    storage_list = minutes * sto_rate * np.where(cold, factors[2], factors[0])
    enc_list, del_list = minutes * enc_rate, delivered * del_rate

    enc_total = _marginal(book, "encoding", 0.0, float(minutes.sum()), float(enc_list.sum()))
    sto_total = _marginal(book, "storage", existing_stored_min, float(minutes.sum()), float(storage_list.sum()))
    del_after_volume = _marginal(
        book, "delivery", existing_delivered_min_per_month, float(delivered.sum()), float(del_list.sum())
    )
    free_left = max(0.0, book.free_delivery_minutes - existing_delivered_min_per_month)
    billable_share = 1.0 - min(1.0, free_left / delivered.sum()) if delivered.sum() > 0 else 0.0
    del_total = del_after_volume * billable_share

    def spread(list_cost: np.ndarray, total: float) -> np.ndarray:
        scale = total / list_cost.sum() if list_cost.sum() > 0 else 0.0
        return round_micros(list_cost * scale)

    frame = pd.DataFrame(
        {
            "lesson_id": lessons["lesson_id"].to_numpy(),
            "minutes": minutes,
            "delivered_min_per_month": delivered,
            "encoding_micros": spread(enc_list, enc_total),
            "storage_month_micros": spread(storage_list, sto_total),
            "delivery_month_micros": spread(del_list, del_total),
        }
    )
    assumptions = [
        f"{len(frame)} lessons, {minutes.sum():,.1f} minutes, as {video_quality} {resolution_tier}",
        f"delivery = platform watch rate x {days_per_month:g} days; players buffer ahead, so Mux may bill more",
        f"priced on top of {existing_stored_min:,.0f} stored and {existing_delivered_min_per_month:,.0f} "
        "delivered minutes a month",
        f"price book {book.version}",
    ]
    return MigrationPreview(
        lessons=frame,
        encoding_micros=int(frame["encoding_micros"].sum()),
        storage_month_micros=int(frame["storage_month_micros"].sum()),
        delivery_month_micros=int(frame["delivery_month_micros"].sum()),
        assumptions=assumptions,
    )

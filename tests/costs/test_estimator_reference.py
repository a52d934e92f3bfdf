"""The estimator against the float one it replaced, on randomized multi-asset, multi-month usage.

Every priced row must match to the micro-dollar. The one allowed difference is a row whose amount sits
exactly on half a micro-dollar (common: 6.3275 minutes at $0.001): the old floats may land a hair below
it, the integers always round it up. Such rows are found from the reference's unrounded amounts, must
stay rare, and bound the difference in every roll-up (a row off by one moves one day and one lesson).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from core.costs.estimate import Period, estimate_costs
from core.costs.money import micros_to_cents
from core.costs.pricebook import PriceBook, load_pricebook
from core.costs.report import rollup
from tests.costs.reference_estimate import reference_daily, reference_rows

PERIOD = Period(date(2026, 7, 10), date(2026, 10, 20))
AMOUNTS = ("gross", "volume", "free", "net")
KEY = ["line", "asset_id", "day", "storage_class", "tier"]
RAW_TIERS = ["720p", "1080p", "1080p", "1440p", "2160p", "audio-only", " 1080p ", "tier_720p", "UHD", "hd", None]
RAW_QUALITIES = ["basic", "plus", "plus", "premium", "Plus ", "smart", "baseline", None, "gold"]


def _at(day: date, hour: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def random_usage(seed: int, n_assets: int = 300) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Assets in every state the estimator distinguishes, plays around them, delivery big enough to cross
    the free minutes and the volume tiers. Durations and seconds at Mux's precision (microseconds)."""
    rng = np.random.default_rng(seed)
    start = PERIOD.start - timedelta(days=300)
    created = [start + timedelta(days=int(d)) for d in rng.integers(0, 300 + PERIOD.days + 5, n_assets)]
    deleted = [c + timedelta(days=int(rng.integers(0, 200))) if rng.random() < 0.25 else None for c in created]
    minutes = np.where(rng.random(n_assets) < 0.1, rng.uniform(2_000, 12_000, n_assets), rng.uniform(0, 60, n_assets))
    ids = [f"a{i}" for i in range(n_assets)]
    ids[7], ids[8] = ids[5], ids[6]  # duplicate ids: the last row wins
    assets = pd.DataFrame(
        {
            "asset_id": ids,
            "lesson_id": pd.array([None if rng.random() < 0.1 else int(i // 3) for i in range(n_assets)], "Int64"),
            "duration_s": (minutes * 60).round(6),
            "resolution_tier": rng.choice(np.array(RAW_TIERS, dtype=object), n_assets),
            "video_quality": rng.choice(np.array(RAW_QUALITIES, dtype=object), n_assets),
            "created_at": [_at(c, int(rng.integers(0, 24))) for c in created],
            "deleted_at": pd.Series([None if d is None else _at(d, 12) for d in deleted], dtype="object"),
            "status": rng.choice(["ready", "ready", "ready", "errored"], n_assets),
        }
    )
    assets.loc[0, "duration_s"] = np.nan
    plays = [
        (ids[i], created[i] + timedelta(days=int(k)))
        for i in range(n_assets)
        for k in rng.integers(-5, 400, int(rng.integers(0, 12)))
    ]
    views = pd.DataFrame([*plays, ("nobody", PERIOD.start)], columns=["asset_id", "day"])
    n_rows = 4_000
    who = rng.integers(0, n_assets + 6, n_rows)
    day = [
        PERIOD.start - timedelta(days=40) + timedelta(days=int(d)) for d in rng.integers(0, PERIOD.days + 80, n_rows)
    ]
    seconds = rng.exponential(3_000.0, n_rows).round(3)
    seconds[rng.random(n_rows) < 0.02] = 0.0
    seconds[rng.random(n_rows) < 0.01] = np.nan
    seconds[rng.random(n_rows) < 0.01] = 3e7  # 500,000 minutes: past the first delivery tier
    delivery = pd.DataFrame(
        {
            "asset_id": [ids[w] if w < n_assets else f"ghost-{w - n_assets}" for w in who],
            "day": day,
            "resolution_tier": rng.choice(np.array(RAW_TIERS, dtype=object), n_rows),
            "delivered_s": seconds,
            "video_quality": rng.choice(np.array(RAW_QUALITIES, dtype=object), n_rows),
            "lesson_id": pd.array(rng.integers(900, 905, n_rows), dtype="Int64"),
        }
    )
    return assets, delivery, views


def _ties(raw: pd.Series) -> np.ndarray:
    """Unrounded amounts within float error of half a micro-dollar."""
    values = raw.to_numpy(np.float64)
    return np.abs(values - np.floor(values) - 0.5) < 1e-12 * np.maximum(1.0, np.abs(values))


BOOKS = {
    "list prices": {},
    "warm start, no basic minimum": {"storage.new_assets_start_cold": 0, "storage.basic_minimum_days": 0},
    "many free minutes, no volume tiers": {"delivery.free_minutes_per_month": "2500000.5", "volume.enabled": 0},
    "odd discounts": {"storage.infrequent_discount": "0.333", "storage.cold_discount": "0.7071", "delivery.plus.1080p":
                      "0.00123457"},
}  # fmt: skip


@pytest.mark.parametrize(
    ("seed", "book_name", "as_of"),
    [
        (1, "list prices", None),
        (2, "warm start, no basic minimum", date(2026, 9, 3)),
        (3, "many free minutes, no volume tiers", None),
        (4, "odd discounts", date(2026, 10, 2)),
    ],
)
def test_estimator_matches_the_float_one(seed: int, book_name: str, as_of: date | None) -> None:
    book: PriceBook = load_pricebook().with_overrides(BOOKS[book_name])
    assets, delivery, views = random_usage(seed)
    split_at = [date(2026, 8, 17)]
    ref = reference_rows(assets, delivery, views, PERIOD, book, as_of=as_of, split_at=split_at)
    est = estimate_costs(assets, delivery, views, PERIOD, book, as_of=as_of, split_at=split_at)
    got = est.rows
    assert got is not None and len(got) == len(ref) > 1_000

    def aligned(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.assign(asset_id=frame["asset_id"].astype(str), q6=frame["quantity"].round(6))
        return frame.sort_values([*KEY, "q6"], kind="stable").reset_index(drop=True)

    ref, got = aligned(ref), aligned(got)

    def text(values: pd.Series) -> list[str]:
        return [str(v) for v in values.astype(object).where(values.notna(), "-")]

    for column in ("asset_id", "line", "day", "days", "month", "quality", "tier", "storage_class"):
        assert text(ref[column]) == text(got[column]), column
    assert (ref["lesson_id"].fillna(-1) == got["lesson_id"].fillna(-1)).all()
    np.testing.assert_allclose(got["quantity"], ref["quantity"], rtol=1e-12, atol=1e-12)

    # Only half-micro-dollar ties may differ, by one, and what depends on them (volume and free on gross).
    tie = _ties(ref["gross_raw"])
    allowed = {"gross": tie, "volume": tie | _ties(ref["volume_raw"])}
    allowed["free"] = allowed["volume"] | _ties(ref["free_raw"])
    allowed["net"] = allowed["free"]
    diff = {a: got[f"{a}_micros"].to_numpy() - ref[f"{a}_micros"].to_numpy() for a in AMOUNTS}
    upstream = {"gross": np.zeros(len(ref), bool), "volume": diff["gross"] != 0}
    upstream["free"] = upstream["volume"] | (diff["volume"] != 0)
    for amount in ("gross", "volume", "free"):
        assert (diff[amount][~allowed[amount]] == 0).all(), amount
        assert (np.abs(diff[amount]) <= 1).all(), amount
        # A tie of its own (inputs equal) rounds up: half a micro-dollar more, never less.
        own = _ties(ref[f"{amount}_raw"]) & ~upstream[amount]
        rounded_up = np.floor(ref.loc[own, f"{amount}_raw"].to_numpy()) + 1
        assert (got.loc[own, f"{amount}_micros"].to_numpy() == rounded_up).all(), amount
    assert (diff["net"] != 0).sum() <= len(ref) // 1_000  # rare: 0.1 % of rows at most
    row_slack = {a: int(np.abs(diff[a]).sum()) for a in AMOUNTS}

    # Roll-ups: per lesson and per day, off by at most the rows' differences (none without ties).
    expected_lessons = ref.groupby("lesson_id", dropna=False)["net_micros"].sum()
    lessons = est.by_lesson
    assert lessons is not None
    got_lessons = lessons.set_index("lesson_id")["net_micros"]
    assert set(got_lessons.index.fillna(-1)) == set(expected_lessons.index.fillna(-1))
    lesson_gap = got_lessons.rename(index=lambda x: -1 if pd.isna(x) else x) - expected_lessons.rename(
        index=lambda x: -1 if pd.isna(x) else x
    )
    assert int(lesson_gap.abs().sum()) <= row_slack["net"]
    expected_days = reference_daily(ref, PERIOD)
    by_day = rollup(est, "day")
    for column in ("encoding_micros", "storage_micros", "delivery_micros", "gross_micros", "volume_micros"):
        gap = by_day[column].to_numpy() - expected_days[column].to_numpy()
        assert int(np.abs(gap).sum()) <= sum(row_slack.values()), column
    assert micros_to_cents(est.total_micros) == micros_to_cents(int(ref["net_micros"].sum()))
    assert est.total_micros == int(got["net_micros"].sum())

"""Estimates: a hand-worked month from the published prices, and sums that add up across every grouping."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from core.costs.estimate import Period, estimate_costs
from core.costs.money import allocate_cents, micros_to_cents
from core.costs.pricebook import load_pricebook
from core.costs.report import GROUP_BY, present, report_payload, rollup, summary
from tests.costs.demo import build_demo
from tests.costs.scenarios import at, empty_delivery, empty_views, hand_worked_frames


def test_hand_worked_month() -> None:
    """November 2026 (30 days), list prices of mux-list-2026-02, free delivery minutes overridden to 1,000.

    Asset A: plus 1080p, 10 min, created Nov 16, played that day (1,234 minutes delivered at 1080p).
    Asset B: plus 1080p, 25 min, created Sep 1, last played Sep 22, deleted Nov 16.

    encoding  A: 10 min x $0.03125                                   = $0.312500
              B: created in September, nothing this month           = $0
    storage   A: played on creation -> standard; Nov 16..30 = 15 days
                 10 min x $0.003 x 15/30                             = $0.015000
              B: unplayed 40 days on Nov 1 (Sep 22 + 40 = Nov 1) -> infrequent, 40 % off; Nov 1..15 = 15 days
                 25 min x $0.003 x 0.60 x 15/30                      = $0.022500
    delivery  A: 1,234 min x $0.001                                  = $1.234000 list
                 1,000 free minutes -> 234/1,234 billed              = $0.234000 (credit $1.000000)
    volume    every bucket is inside the first tier                  = $0
    total     0.3125 + 0.015 + 0.0225 + 0.234                        = $0.584000 -> $0.58
    """
    assets, delivery, views, period = hand_worked_frames()
    book = load_pricebook().with_overrides({"delivery.free_minutes_per_month": 1000})
    estimate = estimate_costs(assets, delivery, views, period, book)
    assert estimate.totals_by_line() == {"encoding": 312_500, "storage": 37_500, "delivery": 234_000}
    totals = summary(estimate)
    assert totals["net_micros"] == 584_000
    assert totals["gross_micros"] == 312_500 + 37_500 + 1_234_000
    assert totals["free_micros"] == 1_000_000
    assert totals["volume_micros"] == 0
    assert micros_to_cents(totals["net_micros"]) == 58
    storage = estimate.rows[estimate.rows["line"] == "storage"].set_index("asset_id")
    assert storage.loc["A", "storage_class"] == "standard" and storage.loc["A", "days"] == 15
    assert storage.loc["B", "storage_class"] == "infrequent" and storage.loc["B", "days"] == 15
    payload = report_payload(estimate, "lesson")
    assert payload["totals"]["net_usd"] == "0.58"
    assert sum(float(g["net_usd"]) for g in payload["groups"]) == pytest.approx(0.58)


def test_demo_month_adds_up_across_every_grouping() -> None:
    demo = build_demo(date(2026, 11, 25))
    period = Period.inclusive(date(2026, 11, 1), date(2026, 11, 25))
    estimate = estimate_costs(demo.assets, demo.delivery, demo.views, period, load_pricebook())
    total = estimate.total_micros
    assert total > 0 and len(estimate.rows) > 100
    assert (estimate.rows["net_micros"] >= 0).all()
    rows = estimate.rows
    assert (rows["gross_micros"] - rows["volume_micros"] - rows["free_micros"] == rows["net_micros"]).all()
    for group in GROUP_BY:
        grouped = rollup(estimate, group, demo.attribution)
        assert int(grouped["net_micros"].sum()) == total, group
        assert int(grouped[["encoding_micros", "storage_micros", "delivery_micros"]].sum().sum()) == total, group
        # Shown in cents, the rows still add up to the rounded total (to the cent).
        shown = present(grouped)
        cents = sum(round(float(v) * 100) for v in shown["net_usd"])
        assert cents == micros_to_cents(total), group
    by_teacher = rollup(estimate, "teacher", demo.attribution)
    assert "(unknown)" in set(by_teacher["teacher_name"])  # orphan assets and the ghost are not lost
    lessons = rollup(estimate, "lesson", demo.attribution)
    assert "(asset not linked to a lesson)" in set(lessons["lesson_title"])


def test_parts_of_a_month_add_up_to_the_month() -> None:
    demo = build_demo(date(2026, 11, 25))
    book = load_pricebook().with_overrides({"delivery.free_minutes_per_month": 5000})
    month = Period.month(date(2026, 10, 1))
    whole = estimate_costs(demo.assets, demo.delivery, demo.views, month, book).total_micros
    first = estimate_costs(demo.assets, demo.delivery, demo.views, Period(date(2026, 10, 1), date(2026, 10, 11)), book)
    rest = estimate_costs(demo.assets, demo.delivery, demo.views, Period(date(2026, 10, 11), date(2026, 11, 1)), book)
    # Credits are monthly, so each part is its share of the month's bill; splitting a storage run in two
    # rounds each half to the micro-dollar, hence at most one micro-dollar per run split.
    runs_split = int((first.rows["line"] == "storage").sum())
    assert abs(first.total_micros + rest.total_micros - whole) <= runs_split
    split = estimate_costs(demo.assets, demo.delivery, demo.views, month, book, split_at=[date(2026, 10, 11)])
    assert split.subset(Period(date(2026, 10, 1), date(2026, 10, 11))).total_micros == first.total_micros
    assert split.subset(Period(date(2026, 10, 11), date(2026, 11, 1))).total_micros == rest.total_micros


def _one_asset(quality: str, created: date, deleted: date | None = None, minutes: float = 30.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "asset_id": ["X"], "lesson_id": pd.array([1], dtype="Int64"), "duration_s": [minutes * 60],
            "resolution_tier": ["720p"], "video_quality": [quality],
            "created_at": [at(created.year, created.month, created.day)],
            "deleted_at": [None if deleted is None else at(deleted.year, deleted.month, deleted.day)],
        }
    )  # fmt: skip


def test_never_played_asset_is_cold_from_creation_unless_overridden() -> None:
    period = Period.month(date(2026, 11, 1))
    assets = _one_asset("plus", date(2026, 11, 1))
    cold = estimate_costs(assets, empty_delivery(), empty_views(), period, load_pricebook())
    # 30 min x $0.0024 x 0.4 (cold) x 30/30
    assert cold.totals_by_line()["storage"] == 28_800
    book = load_pricebook().with_overrides({"storage.new_assets_start_cold": 0})
    aging = estimate_costs(assets, empty_delivery(), empty_views(), period, book)
    # standard for 30 days (the whole month): 30 x $0.0024
    assert aging.totals_by_line()["storage"] == 72_000


def test_deleted_basic_asset_pays_a_month_of_storage() -> None:
    period = Period.month(date(2026, 11, 1))
    views = pd.DataFrame({"asset_id": ["X"], "day": [date(2026, 11, 1)]})
    basic = estimate_costs(_one_asset("basic", date(2026, 11, 1), date(2026, 11, 11)), empty_delivery(), views, period,
                           load_pricebook())  # fmt: skip
    plus = estimate_costs(_one_asset("plus", date(2026, 11, 1), date(2026, 11, 11)), empty_delivery(), views, period,
                          load_pricebook())  # fmt: skip
    assert basic.totals_by_line()["encoding"] == 0
    assert basic.totals_by_line()["storage"] == 72_000  # 30 days billed (played day 1: standard)
    assert plus.totals_by_line()["storage"] == 24_000  # 10 days: 30 x 0.0024 x 10/30
    assert plus.totals_by_line()["encoding"] == 750_000  # 30 min x $0.025


def test_delivery_volume_tiers_apply_per_month() -> None:
    period = Period.month(date(2026, 11, 1))
    assets = _one_asset("plus", date(2026, 10, 1))
    delivery = pd.DataFrame(
        {"asset_id": ["X", "X"], "day": [date(2026, 11, 3), date(2026, 11, 4)], "resolution_tier": ["720p", "720p"],
         "delivered_s": [300_000 * 60.0, 300_000 * 60.0]}
    )  # fmt: skip
    book = load_pricebook().with_overrides({"delivery.free_minutes_per_month": 0})
    estimate = estimate_costs(assets, delivery, empty_views(), period, book)
    # 500,000 min x $0.0008 + 100,000 min x $0.00076 = $476
    assert estimate.totals_by_line()["delivery"] == 476_000_000
    flat = estimate_costs(assets, delivery, empty_views(), period, book.with_overrides({"volume.enabled": 0}))
    assert flat.totals_by_line()["delivery"] == 480_000_000


def test_free_minutes_are_shared_pro_rata_to_usage() -> None:
    period = Period.month(date(2026, 11, 1))
    assets = pd.concat([_one_asset("plus", date(2026, 10, 1)), _one_asset("premium", date(2026, 10, 1))])
    assets["asset_id"] = ["P", "Q"]
    delivery = pd.DataFrame(
        {"asset_id": ["P", "Q"], "day": [date(2026, 11, 2)] * 2, "resolution_tier": ["720p", "720p"],
         "delivered_s": [150_000 * 60.0, 50_000 * 60.0]}
    )  # fmt: skip
    estimate = estimate_costs(assets, delivery, empty_views(), period, load_pricebook())
    rows = estimate.rows[estimate.rows["line"] == "delivery"].set_index("asset_id")
    # 100,000 free of 200,000: each asset pays half its list price.
    assert rows.loc["P", "net_micros"] == 60_000_000  # 150,000 x 0.0008 / 2
    assert rows.loc["Q", "net_micros"] == 30_000_000  # 50,000 x 0.0012 / 2


def test_allocated_cents_add_up() -> None:
    micros = np.array([4_999, 5_001, 14_999, 2_500_000, 1])
    cents = allocate_cents(micros)
    assert cents.sum() == micros_to_cents(int(micros.sum()))


def test_storage_stops_at_as_of() -> None:
    period = Period.month(date(2026, 11, 1))
    views = pd.DataFrame({"asset_id": ["X"], "day": [date(2026, 10, 20)]})
    est = estimate_costs(_one_asset("plus", date(2026, 10, 1)), empty_delivery(), views, period, load_pricebook(),
                         as_of=date(2026, 11, 16))  # fmt: skip
    assert est.rows["days"].sum() == 15
    assert est.notes and "2026-11-15" in est.notes[0]
    assert est.rows["day"].max() < pd.Timestamp(date(2026, 11, 16) - timedelta(days=0))


@pytest.mark.parametrize("start_cold", [1, 0])
def test_storage_classes_match_a_day_by_day_reference(start_cold: int) -> None:
    """Random play days; each stored day's class by brute force (days since the last play) vs the runs."""
    rng = np.random.default_rng(start_cold + 11)
    book = load_pricebook().with_overrides({"storage.new_assets_start_cold": start_cold})
    period = Period(date(2026, 7, 1), date(2026, 10, 1))
    n = 30
    created = [date(2026, 3, 1) + timedelta(days=int(d)) for d in rng.integers(0, 200, n)]
    deleted = [c + timedelta(days=int(rng.integers(1, 150))) if rng.random() < 0.3 else None for c in created]
    assets = pd.DataFrame(
        {
            "asset_id": [f"a{i}" for i in range(n)], "lesson_id": pd.array(range(n), dtype="Int64"),
            "duration_s": 60.0, "resolution_tier": "720p", "video_quality": "plus",
            "created_at": [at(c.year, c.month, c.day) for c in created],
            "deleted_at": [None if d is None else at(d.year, d.month, d.day) for d in deleted],
        }
    )  # fmt: skip
    plays = [(f"a{i}", created[i] + timedelta(days=int(k))) for i in range(n) for k in rng.integers(0, 220, 6)]
    views = pd.DataFrame(plays, columns=["asset_id", "day"])
    estimate = estimate_costs(assets, empty_delivery(), views, period, book)
    rows = estimate.rows[estimate.rows["line"] == "storage"]
    got = rows.groupby(["asset_id", "storage_class"], observed=True)["days"].sum().to_dict()
    expected: dict[tuple[str, str], int] = {}
    for i in range(n):
        seen = sorted({d for a, d in plays if a == f"a{i}" and created[i] <= d})
        end = deleted[i] or period.end
        day = max(created[i], period.start)
        while day < min(end, period.end):
            before = [d for d in seen if d <= day]
            never_played_age = 10_000 if start_cold else (day - created[i]).days
            age = (day - before[-1]).days if before else never_played_age
            cls = "standard" if age < 30 else "infrequent" if age < 90 else "cold"
            expected[(f"a{i}", cls)] = expected.get((f"a{i}", cls), 0) + 1
            day += timedelta(days=1)
    assert got == expected

"""What-if levers move the right line items; the migration preview prices S3 lessons from watch rates."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from core.costs.errors import CostInputInvalid
from core.costs.estimate import Period
from core.costs.pricebook import load_pricebook
from core.costs.whatif import Levers, migration_preview, what_if
from tests.costs.demo import build_demo

TODAY = date(2026, 11, 25)
PERIOD = Period.inclusive(date(2026, 11, 1), TODAY)


def _diff(levers: Levers, **kwargs: object) -> pd.DataFrame:
    demo = build_demo(TODAY)
    result = what_if(demo.assets, demo.delivery, demo.views, PERIOD, load_pricebook(), levers, **kwargs)  # type: ignore[arg-type]
    return result.diff.set_index("item")


def test_no_levers_changes_nothing() -> None:
    diff = _diff(Levers())
    assert (diff["delta_micros"] == 0).all()
    assert diff.loc["total", "baseline_micros"] > 0


def test_basic_quality_removes_encoding() -> None:
    diff = _diff(Levers(video_quality="basic"))
    assert diff.loc["encoding", "scenario_micros"] == 0
    assert diff.loc["encoding", "delta_micros"] < 0


def test_capping_resolution_lowers_storage_and_delivery() -> None:
    diff = _diff(Levers(max_resolution="720p"))
    # Delivery's net may stay $0 inside the free minutes; its list price drops.
    for item in ("storage", "list price (before credits)", "total"):
        assert diff.loc[item, "delta_micros"] < 0, item


def test_deleting_unwatched_lessons_only_saves_storage() -> None:
    demo = build_demo(TODAY)
    result = what_if(demo.assets, demo.delivery, demo.views, PERIOD, load_pricebook(), Levers(delete_unwatched_days=3))
    diff = result.diff.set_index("item")
    assert diff.loc["storage", "delta_micros"] <= 0
    assert diff.loc["encoding", "delta_micros"] == 0
    assert any("unplayed for 3+ days" in note for note in result.notes)


def test_migrating_s3_lessons_adds_every_line_item() -> None:
    demo = build_demo(TODAY)
    levers = Levers(migrate_s3=True, s3_video_quality="plus")
    result = what_if(
        demo.assets, demo.delivery, demo.views, PERIOD, load_pricebook(), levers, s3_lessons=demo.s3_lessons
    )
    diff = result.diff.set_index("item")
    for item in ("encoding", "storage", "list price (before credits)"):
        assert diff.loc[item, "delta_micros"] > 0, item
    assert any("6 S3 lessons migrated" in note for note in result.notes)


def test_levers_are_validated() -> None:
    with pytest.raises(CostInputInvalid):
        Levers(max_resolution="480p")
    with pytest.raises(CostInputInvalid):
        Levers(video_quality="gold")


def test_migration_preview_arithmetic() -> None:
    """Two lessons as plus 1080p on an account already past its free minutes.

    encoding  (10 + 20) min x $0.03125                                     = $0.9375
    storage   lesson 1 watched -> standard: 10 x $0.003                    = $0.0300 a month
              lesson 2 never watched -> cold from creation: 20 x $0.003 x 0.4 = $0.0240 a month
    delivery  lesson 1: 120 s/day = 2 min/day x 30 days = 60 min x $0.001  = $0.0600 a month
    """
    lessons = pd.DataFrame({"lesson_id": [1, 2], "duration_s": [600.0, 1200.0], "watched_s_per_day": [120.0, 0.0]})
    preview = migration_preview(
        lessons, load_pricebook(), video_quality="plus", existing_delivered_min_per_month=200_000
    )
    assert preview.encoding_micros == 937_500
    assert preview.storage_month_micros == 54_000
    assert preview.delivery_month_micros == 60_000
    assert preview.first_month_micros == 937_500 + 54_000 + 60_000
    assert list(preview.lessons["encoding_micros"]) == [312_500, 625_000]
    # With the free minutes unused, the same delivery costs nothing; basic encoding is free.
    free = migration_preview(lessons, load_pricebook())
    assert free.delivery_month_micros == 0 and free.encoding_micros == 0

"""The price book: every price sourced and dated, overrides validated and applied to the right line item."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from core.costs.errors import PriceBookInvalid, UnknownPriceKey
from core.costs.estimate import Period, estimate_costs
from core.costs.pricebook import LINES, QUALITIES, TIERS, load_pricebook
from core.settings import SettingsError, load_settings
from tests.costs.scenarios import hand_worked_frames


def test_every_price_has_a_source_and_a_status() -> None:
    book = load_pricebook()
    assert book.effective == date(2026, 2, 16)
    assert book.version.startswith("mux-list-")
    for key in book.all_keys():
        entry = book.entries[key]
        assert entry.source in book.sources, key
        assert entry.status in {"published", "UNCONFIRMED"}, key
    for line in LINES:
        for quality in QUALITIES:
            for tier in TIERS:
                assert book.price(line, quality, tier) >= 0
    assert book.price("encoding", "basic", "2160p") == 0  # basic has no encoding charge
    assert book.price("storage", "plus", "1080p") == Decimal("0.003")
    assert book.free_delivery_minutes == 100_000


def test_published_tier_prices_are_reproduced_by_the_volume_multipliers() -> None:
    book = load_pricebook()
    # "Next 100,000 minutes" of plus 1080p storage is $0.0029; "over 10 million" delivery 720p is $0.00056.
    storage = book.volume_multiplier("storage", [150_000])[0] * 150_000
    assert storage == pytest.approx(50_000 + 100_000 * 0.0029 / 0.003)
    delivery = book.volume_multiplier("delivery", [11_000_000])[0] * 11_000_000
    expected = 500_000 + 500_000 * 0.95 + 1_000_000 * 0.9 + 4e6 * 0.8375 + 4e6 * 0.7625 + 1e6 * 0.7
    assert delivery == pytest.approx(expected)


def test_override_changes_only_its_line_item() -> None:
    assets, delivery, views, period = hand_worked_frames()
    base = load_pricebook().with_overrides({"delivery.free_minutes_per_month": 1000})
    cheaper = base.with_overrides({"delivery.plus.1080p": "0.0005"})
    before = estimate_costs(assets, delivery, views, period, base).totals_by_line()
    after = estimate_costs(assets, delivery, views, period, cheaper).totals_by_line()
    assert after["encoding"] == before["encoding"] and after["storage"] == before["storage"]
    assert after["delivery"] == 117_000  # 234 billable minutes x $0.0005
    colder = base.with_overrides({"storage.infrequent_discount": 0.5})
    after = estimate_costs(assets, delivery, views, period, colder).totals_by_line()
    assert after["delivery"] == before["delivery"] and after["encoding"] == before["encoding"]
    assert after["storage"] == 15_000 + 18_750  # asset B now at half price: 25 x 0.003 x 0.5 x 15/30
    assert cheaper.overrides == {
        "delivery.free_minutes_per_month": Decimal(1000),
        "delivery.plus.1080p": Decimal("0.0005"),
    }


def test_unknown_override_key_fails_with_suggestions() -> None:
    with pytest.raises(UnknownPriceKey) as info:
        load_pricebook().with_overrides({"delivery.plus.1080": 0.0007})
    assert "delivery.plus.1080p" in str(info.value)
    assert info.value.key == "delivery.plus.1080"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("storage.cold_discount", 1.5, "between 0 and 1"),
        ("delivery.plus.720p", -1, "at least 0"),
        ("storage.cold_after_days", 10, "greater than"),
        ("volume.enabled", 0.5, "whole number"),
        ("encoding.plus.720p", "cheap", "expected a number"),
    ],
)
def test_bad_override_values_are_refused(key: str, value: object, message: str) -> None:
    with pytest.raises(PriceBookInvalid, match=message):
        load_pricebook().with_overrides({key: value})


def test_settings_refuse_unknown_override_keys_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LECTERN_PRICE_OVERRIDES", '{"storage.plus.1080": 0.002}')
    with pytest.raises(SettingsError, match=r"LECTERN_PRICE_OVERRIDES.*unknown price key 'storage.plus.1080'"):
        load_settings()
    monkeypatch.setenv("LECTERN_PRICE_OVERRIDES", '{"storage.plus.1080p": 0.002}')
    assert load_settings().price_overrides == {"storage.plus.1080p": 0.002}


def test_a_period_must_move_forward() -> None:
    from core.costs.errors import CostInputInvalid

    with pytest.raises(CostInputInvalid):
        Period.inclusive(date(2026, 11, 5), date(2026, 11, 1))

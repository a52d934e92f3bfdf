"""Mux's list prices as dated, versioned data, with an admin's negotiated overrides on top.

The numbers live in `pricebook_2026.json` beside this module (each with its source and whether it is
published or UNCONFIRMED); this module loads them, validates overrides (`LECTERN_PRICE_OVERRIDES`, dotted key
-> USD or rule value) and hands the estimators vectors they can multiply with. Prices are `Decimal` here;
the estimators turn them into micro-dollars (`money.MICROS`) once.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from core.costs.errors import PriceBookInvalid, UnknownPriceKey

if TYPE_CHECKING:
    from core.settings import Settings

DEFAULT_PATH = Path(__file__).with_name("pricebook_2026.json")
LINES = ("encoding", "storage", "delivery")
QUALITIES = ("basic", "plus", "premium")
TIERS = ("720p", "1080p", "1440p", "2160p", "audio-only")
STORAGE_CLASSES = ("standard", "infrequent", "cold")
# Mux's deprecated names still appear in old assets and in delivery-usage rows.
QUALITY_ALIASES = {"baseline": "basic", "smart": "plus"}
TIER_ALIASES = {
    "tier_720p": "720p",
    "tier_1080p": "1080p",
    "tier_1440p": "1440p",
    "tier_2160p": "2160p",
    "tier_audio_only": "audio-only",
    "audio_only": "audio-only",
    "Audio only": "audio-only",
    "SD": "720p",
    "HD": "720p",
    "FHD": "1080p",
    "UHD": "2160p",
}
# Bounds per rule key: (min, max, must be a whole number).
RULE_BOUNDS: dict[str, tuple[Decimal, Decimal | None, bool]] = {
    "delivery.free_minutes_per_month": (Decimal(0), None, False),
    "storage.infrequent_after_days": (Decimal(1), None, True),
    "storage.infrequent_discount": (Decimal(0), Decimal(1), False),
    "storage.cold_after_days": (Decimal(1), None, True),
    "storage.cold_discount": (Decimal(0), Decimal(1), False),
    "storage.new_assets_start_cold": (Decimal(0), Decimal(1), True),
    "storage.basic_minimum_days": (Decimal(0), Decimal(366), True),
    "volume.enabled": (Decimal(0), Decimal(1), True),
}


@dataclass(frozen=True)
class PriceEntry:
    key: str
    value: Decimal
    unit: str
    source: str
    status: str
    note: str = ""
    overridden: bool = False


@dataclass(frozen=True)
class VolumeTier:
    size: int | None  # minutes in this tier per month; None = everything above
    multiplier: Decimal


@dataclass(frozen=True)
class PriceBook:
    version: str
    effective: date
    currency: str
    entries: Mapping[str, PriceEntry]
    volume: Mapping[str, tuple[VolumeTier, ...]]
    sources: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    about: str = ""

    # -- lookups -----------------------------------------------------------------------------------
    def price(self, line: str, quality: str, tier: str) -> Decimal:
        return self.entries[f"{line}.{quality}.{tier}"].value

    def rule(self, key: str) -> Decimal:
        return self.entries[key].value

    def all_keys(self) -> list[str]:
        return sorted(self.entries)

    @property
    def overrides(self) -> dict[str, Decimal]:
        return {k: e.value for k, e in self.entries.items() if e.overridden}

    @property
    def free_delivery_minutes(self) -> float:
        return float(self.rule("delivery.free_minutes_per_month"))

    @property
    def infrequent_after_days(self) -> int:
        return int(self.rule("storage.infrequent_after_days"))

    @property
    def cold_after_days(self) -> int:
        return int(self.rule("storage.cold_after_days"))

    @property
    def new_assets_start_cold(self) -> bool:
        return bool(int(self.rule("storage.new_assets_start_cold")))

    @property
    def basic_minimum_days(self) -> int:
        return int(self.rule("storage.basic_minimum_days"))

    @property
    def volume_enabled(self) -> bool:
        return bool(int(self.rule("volume.enabled")))

    def rate_table(self, line: str) -> np.ndarray:
        """Micro-dollars per minute (per minute-month for storage), indexed [quality, tier]."""
        return np.array(
            [[float(self.price(line, q, t)) * 1_000_000 for t in TIERS] for q in QUALITIES], dtype=np.float64
        )

    def storage_class_factors(self) -> np.ndarray:
        """Multiplier of the standard storage price, indexed like STORAGE_CLASSES."""
        infrequent, cold = self.rule("storage.infrequent_discount"), self.rule("storage.cold_discount")
        return np.array([1.0, 1.0 - float(infrequent), 1.0 - float(cold)])

    def volume_multiplier(self, line: str, minutes: np.ndarray) -> np.ndarray:
        """The blended price multiplier for buckets of `minutes` in one month (1.0 when volume tiers are off)."""
        minutes = np.asarray(minutes, dtype=np.float64)
        if not self.volume_enabled:
            return np.ones_like(minutes)
        paid = np.zeros_like(minutes)
        floor = 0.0
        for tier in self.volume[line]:
            ceiling = np.inf if tier.size is None else floor + tier.size
            in_tier = np.clip(minutes, floor, ceiling) - floor
            paid += in_tier * float(tier.multiplier)
            floor = ceiling
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(minutes > 0, paid / np.where(minutes > 0, minutes, 1.0), 1.0)

    def as_frame(self) -> pd.DataFrame:
        rows = [
            {
                "key": e.key,
                "value": str(e.value),
                "unit": e.unit,
                "status": e.status,
                "source": e.source,
                "overridden": e.overridden,
                "note": e.note,
            }
            for e in (self.entries[k] for k in self.all_keys())
        ]
        return pd.DataFrame(rows)

    # -- overrides ---------------------------------------------------------------------------------
    def with_overrides(self, overrides: Mapping[str, Any] | None) -> PriceBook:
        """A copy with `overrides` (dotted key -> value) applied; unknown keys and bad values raise."""
        if not overrides:
            return self
        entries = dict(self.entries)
        for key, raw in overrides.items():
            if key not in entries:
                raise UnknownPriceKey(key, difflib.get_close_matches(key, list(entries), n=3, cutoff=0.6))
            value = _decimal(raw, f"override {key}")
            _check_value(key, value)
            entries[key] = replace(entries[key], value=value, overridden=True, status="override")
        _check_thresholds(entries)
        return replace(self, entries=entries)


def _decimal(raw: Any, what: str) -> Decimal:
    if isinstance(raw, bool):
        raise PriceBookInvalid(f"{what}: expected a number, got {raw!r}")
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        raise PriceBookInvalid(f"{what}: expected a number, got {raw!r}") from None
    if not value.is_finite():
        raise PriceBookInvalid(f"{what}: expected a finite number, got {raw!r}")
    return value


def _check_value(key: str, value: Decimal) -> None:
    low, high, whole = RULE_BOUNDS.get(key, (Decimal(0), None, False))
    if value < low or (high is not None and value > high):
        limit = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise PriceBookInvalid(f"{key} must be {limit}, got {value}")
    if whole and value != value.to_integral_value():
        raise PriceBookInvalid(f"{key} must be a whole number, got {value}")


def _check_thresholds(entries: Mapping[str, PriceEntry]) -> None:
    if entries["storage.cold_after_days"].value <= entries["storage.infrequent_after_days"].value:
        raise PriceBookInvalid("storage.cold_after_days must be greater than storage.infrequent_after_days")


def _check_volume(volume: Mapping[str, tuple[VolumeTier, ...]]) -> None:
    """Volume tiers discount (multipliers 0..1), have positive sizes, and only the last one is open-ended.

    The estimators rely on it: every amount they compute is then >= 0, so half-up rounding is one rule.
    """
    for line, tiers in volume.items():
        if not tiers:
            raise PriceBookInvalid(f"volume tiers for {line}: at least one tier is needed")
        for i, tier in enumerate(tiers):
            if not Decimal(0) <= tier.multiplier <= Decimal(1):
                raise PriceBookInvalid(f"volume tiers for {line}: multipliers must be between 0 and 1")
            if tier.size is None and i != len(tiers) - 1:
                raise PriceBookInvalid(f"volume tiers for {line}: only the last tier may have no size")
            if tier.size is not None and tier.size <= 0:
                raise PriceBookInvalid(f"volume tiers for {line}: sizes must be positive")


def load_pricebook(path: Path | None = None) -> PriceBook:
    """Read and validate a price book file (default: the bundled one)."""
    path = path or DEFAULT_PATH
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise PriceBookInvalid(f"cannot read price book {path}: {exc}") from None
    try:
        entries: dict[str, PriceEntry] = {}
        for key, item in data["prices"].items():
            entries[key] = PriceEntry(
                key, _decimal(item["usd"], key), item["unit"], item["source"], item["status"], item.get("note", "")
            )
        for key, item in data["rules"].items():
            entries[key] = PriceEntry(
                key, _decimal(item["value"], key), item["unit"], item["source"], item["status"], item.get("note", "")
            )
        volume = {
            line: tuple(
                VolumeTier(None if size is None else int(size), _decimal(mult, f"volume {line}"))
                for size, mult in data["volume_tiers"][line]
            )
            for line in LINES
        }
        book = PriceBook(
            version=str(data["version"]),
            effective=date.fromisoformat(data["effective"]),
            currency=str(data["currency"]),
            entries=entries,
            volume=volume,
            sources=data.get("sources", {}),
            about=str(data.get("about", "")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PriceBookInvalid(f"price book {path} is malformed: {exc!r}") from None
    _check_volume(volume)
    missing = [f"{ln}.{q}.{t}" for ln in LINES for q in QUALITIES for t in TIERS if f"{ln}.{q}.{t}" not in entries]
    missing += [k for k in RULE_BOUNDS if k not in entries]
    if missing:
        raise PriceBookInvalid(f"price book {path} lacks {', '.join(missing)}")
    for key, entry in entries.items():
        _check_value(key, entry.value)
    _check_thresholds(entries)
    return book


def pricebook_from_settings(settings: Settings) -> PriceBook:
    """The price book an admin configured: LECTERN_PRICEBOOK_PATH (or the bundled one) + overrides."""
    return load_pricebook(settings.pricebook_path).with_overrides(settings.price_overrides)


def normalize_quality(values: pd.Series) -> pd.Series:
    out = values.astype("string").str.strip().str.lower().replace(QUALITY_ALIASES)
    return out.where(out.isin(QUALITIES), other=pd.NA)


def normalize_tier(values: pd.Series) -> pd.Series:
    out = values.astype("string").str.strip().replace(TIER_ALIASES).str.lower()
    return out.where(out.isin(TIERS), other=pd.NA)

"""Orphaned Mux assets: which assets no lesson plays, why, since when, their monthly cost, and which may go.

A pure plan over a complete asset listing (the warehouse `assets` table) and the platform's references to
assets (lessons, migration jobs, uploads); `core/assets/service.py` reads those and deletes,
`sync/orphan_cleanup.py` runs the grace-period deletion.

An asset is in use, never an orphan, when a lesson names it (`mux_asset_id`), plays one of its playback
ids (`mux_playback_id`: while a replacement processes, the lesson still plays the old asset), waits for it
(the lesson's upload made it), or a migration that is still running names it or its lesson. Assets still
processing are left to their webhooks.

Why each orphan exists:
- `replaced`: it was lesson N's (its upload row or passthrough says so) and the lesson moved to another
  asset; orphaned since the lesson's next asset (or upload) was created;
- `failed_migration`: a migration copy of lesson N whose job failed or was cancelled (or rolled back);
- `unknown_passthrough`: its passthrough names no lesson (a deleted lesson, or not made by Lectern);
- `no_passthrough`: nothing says whose it is.

Only a `replaced` asset is ever deleted automatically: once the grace period has passed since it was
replaced, and only while its lesson plays a ready Mux asset (never the only playable copy).
Monthly cost: Mux storage at the list price of its video quality and resolution tier, in the storage class
its last play puts it in (standard, infrequent, cold; see core/costs/pricebook.py); volume discounts are
left out, so it is what deleting it saves at most.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pandas as pd

from core.costs.money import MICROS, usd
from core.costs.pricebook import QUALITY_ALIASES, TIER_ALIASES, TIERS, PriceBook
from core.db.records import LessonState

ACTIVE_MIGRATION = frozenset({"queued", "ingesting", "waiting", "verifying"})
ENDED_MIGRATION = frozenset({"failed", "cancelled"})
# Statuses whose video is settled: anything else is still processing and its webhooks decide.
SETTLED = frozenset({"ready", "errored"})
# A lesson in one of these is replacing its video: its previous asset may be the only playable copy.
REPLACING = frozenset({"waiting_upload", "processing", "errored"})
# Priced like core/costs/inputs.py prices an asset whose quality or tier it cannot read.
DEFAULT_QUALITY, DEFAULT_TIER = "plus", "1080p"


class OrphanReason(enum.StrEnum):
    replaced = "replaced"
    failed_migration = "failed_migration"
    unknown_passthrough = "unknown_passthrough"
    no_passthrough = "no_passthrough"


@dataclass(frozen=True)
class ListedAsset:
    """One row of the asset listing (warehouse `assets`, plus the asset's last play day)."""

    asset_id: str
    status: str | None = None
    duration_s: float | None = None
    resolution_tier: str | None = None
    video_quality: str | None = None
    passthrough: str | None = None
    upload_id: str | None = None
    playback_id: str | None = None
    created_at: datetime | None = None
    last_played: date | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ListedAsset:
        return cls(
            asset_id=str(row["asset_id"]),
            status=_text(row.get("status")),
            duration_s=_seconds(row.get("duration_s")),
            resolution_tier=_text(row.get("resolution_tier")),
            video_quality=_text(row.get("video_quality")),
            passthrough=_text(row.get("passthrough")),
            upload_id=_text(row.get("upload_id")),
            playback_id=_text(row.get("playback_id")),
            created_at=utc(row.get("created_at")),
            last_played=_day(row.get("last_played")),
        )


@dataclass(frozen=True)
class UploadRef:
    mux_upload_id: str
    lesson_id: int | None
    mux_asset_id: str | None
    created_at: datetime | None


@dataclass(frozen=True)
class MigrationRef:
    lesson_id: int
    state: str
    mux_asset_id: str | None
    ended_at: datetime | None = None


@dataclass(frozen=True)
class PlatformRefs:
    """What the platform DB says about assets; `deleted` are assets an operator deleted since the listing."""

    lessons: Sequence[LessonState]
    migrations: Sequence[MigrationRef] = ()
    uploads: Sequence[UploadRef] = ()
    deleted: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Orphan:
    asset_id: str
    reason: OrphanReason
    lesson_id: int | None
    since: datetime | None
    status: str | None
    duration_s: float | None
    video_quality: str
    resolution_tier: str
    storage_class: str
    monthly_micros: int
    hold: str | None  # why it is not deleted automatically; None = eligible
    passthrough: str | None = None
    created_at: datetime | None = None

    @property
    def eligible(self) -> bool:
        return self.hold is None

    @property
    def why(self) -> str:
        if self.reason is OrphanReason.replaced:
            return f"replaced upload of lesson {self.lesson_id}"
        if self.reason is OrphanReason.failed_migration:
            return f"failed migration copy of lesson {self.lesson_id}"
        if self.reason is OrphanReason.unknown_passthrough:
            return f"unknown passthrough {self.passthrough!r}"
        return "no passthrough"


FRAME_COLUMNS = (
    "asset_id",
    "why",
    "reason",
    "lesson_id",
    "since",
    "status",
    "duration_s",
    "video_quality",
    "resolution_tier",
    "storage_class",
    "monthly_micros",
    "monthly_cost",
    "eligible",
    "hold",
    "passthrough",
    "created_at",
)


@dataclass
class OrphanPlan:
    orphans: list[Orphan]
    now: datetime
    grace_days: int | None
    pricebook_version: str
    notes: list[str] = field(default_factory=list)

    @property
    def total_monthly_micros(self) -> int:
        return sum(o.monthly_micros for o in self.orphans)

    @property
    def eligible(self) -> list[Orphan]:
        """Deletable now, longest orphaned first (the order the cleanup job deletes them in)."""
        return sorted((o for o in self.orphans if o.eligible), key=lambda o: (o.since or self.now, o.asset_id))

    def frame(self) -> pd.DataFrame:
        """One row per orphan (columns `FRAME_COLUMNS`), costliest first; `monthly_cost` is text via `usd`."""
        rows = [
            {
                "asset_id": o.asset_id,
                "why": o.why,
                "reason": o.reason.value,
                "lesson_id": o.lesson_id,
                "since": o.since,
                "status": o.status,
                "duration_s": o.duration_s,
                "video_quality": o.video_quality,
                "resolution_tier": o.resolution_tier,
                "storage_class": o.storage_class,
                "monthly_micros": o.monthly_micros,
                "monthly_cost": usd(o.monthly_micros),
                "eligible": o.eligible,
                "hold": o.hold,
                "passthrough": o.passthrough,
                "created_at": o.created_at,
            }
            for o in self.orphans
        ]
        frame = pd.DataFrame(rows, columns=list(FRAME_COLUMNS))
        frame["lesson_id"] = frame["lesson_id"].astype("Int64")
        frame["monthly_micros"] = frame["monthly_micros"].astype("int64")
        return frame


def plan_orphans(
    assets: Iterable[ListedAsset],
    refs: PlatformRefs,
    book: PriceBook,
    *,
    now: datetime,
    grace_days: int | None,
) -> OrphanPlan:
    """The orphans among a complete listing of Mux assets, costliest first."""
    listing = [a for a in assets if a.asset_id]
    lessons = {le.id: le for le in refs.lessons}
    named = {le.mux_asset_id for le in lessons.values() if le.mux_asset_id}
    playing = {le.mux_playback_id for le in lessons.values() if le.mux_playback_id}
    awaited = {le.mux_upload_id for le in lessons.values() if le.mux_upload_id}
    active = [m for m in refs.migrations if m.state in ACTIVE_MIGRATION]
    migrating_assets = {m.mux_asset_id for m in active if m.mux_asset_id}
    migrating_lessons = {m.lesson_id for m in active}
    ended_by_asset = {m.mux_asset_id: m for m in refs.migrations if m.state in ENDED_MIGRATION and m.mux_asset_id}
    ended_by_lesson = {m.lesson_id: m for m in refs.migrations if m.state in ENDED_MIGRATION}
    links = _Links(refs.uploads)
    by_id = {a.asset_id: a for a in listing}
    history = _lesson_history(listing, refs.uploads, links)

    orphans: list[Orphan] = []
    for asset in listing:
        if asset.asset_id in refs.deleted or asset.status not in SETTLED:
            continue
        if (
            asset.asset_id in named
            or asset.asset_id in migrating_assets
            or (asset.playback_id is not None and asset.playback_id in playing)
            or (asset.upload_id is not None and asset.upload_id in awaited)
        ):
            continue
        owner = links.lesson_of(asset)
        if owner is not None and owner in migrating_lessons:
            continue  # a migration may be creating or verifying it without having recorded its id yet
        lesson = lessons.get(owner) if owner is not None else None
        job = ended_by_asset.get(asset.asset_id)
        if lesson is not None and job is None and asset.upload_id is None and not links.has_upload(asset):
            job = ended_by_lesson.get(lesson.id)
        if lesson is not None and job is not None:
            reason, since = OrphanReason.failed_migration, job.ended_at or asset.created_at
        elif lesson is not None:
            reason, since = OrphanReason.replaced, _replaced_since(asset, lesson, history.get(lesson.id, []))
        elif (asset.passthrough or "").strip():
            reason, since = OrphanReason.unknown_passthrough, asset.created_at
        else:
            reason, since = OrphanReason.no_passthrough, asset.created_at
        quality, tier = price_keys(asset.video_quality, asset.resolution_tier)
        storage = storage_class(book, created=asset.created_at, last_played=asset.last_played, today=now.date())
        monthly = (
            monthly_storage_micros(book, asset.duration_s, quality, tier, storage) if asset.status == "ready" else 0
        )
        orphans.append(
            Orphan(
                asset_id=asset.asset_id,
                reason=reason,
                lesson_id=lesson.id if lesson is not None else None,
                since=since,
                status=asset.status,
                duration_s=asset.duration_s,
                video_quality=quality,
                resolution_tier=tier,
                storage_class=storage,
                monthly_micros=monthly,
                hold=_hold(reason, lesson, since, by_id, now=now, grace_days=grace_days),
                passthrough=asset.passthrough,
                created_at=asset.created_at,
            )
        )
    orphans.sort(key=lambda o: (-o.monthly_micros, o.since or now, o.asset_id))
    notes = [f"monthly cost: Mux storage at list price ({book.version}), before volume discounts"]
    return OrphanPlan(orphans, now, grace_days, book.version, notes)


class _Links:
    """Which lesson an asset belongs to: its upload row (by asset or upload id) first, else its passthrough."""

    def __init__(self, uploads: Sequence[UploadRef]) -> None:
        self.by_asset = {u.mux_asset_id: u for u in uploads if u.mux_asset_id}
        self.by_upload = {u.mux_upload_id: u for u in uploads}

    def upload_of(self, asset: ListedAsset) -> UploadRef | None:
        row = self.by_asset.get(asset.asset_id)
        if row is None and asset.upload_id:
            row = self.by_upload.get(asset.upload_id)
        return row

    def has_upload(self, asset: ListedAsset) -> bool:
        return self.upload_of(asset) is not None

    def lesson_of(self, asset: ListedAsset) -> int | None:
        row = self.upload_of(asset)
        if row is not None and row.lesson_id is not None:
            return row.lesson_id
        return lesson_id_of(asset.passthrough)


def _lesson_history(
    listing: Sequence[ListedAsset], uploads: Sequence[UploadRef], links: _Links
) -> dict[int, list[datetime]]:
    """When each lesson got each of its videos: its assets' and its asset-making uploads' creation times."""
    history: dict[int, list[datetime]] = {}
    for asset in listing:
        owner = links.lesson_of(asset)
        if owner is not None and asset.created_at is not None:
            history.setdefault(owner, []).append(asset.created_at)
    for upload in uploads:
        at = utc(upload.created_at)
        if upload.lesson_id is not None and upload.mux_asset_id and at is not None:
            history.setdefault(upload.lesson_id, []).append(at)
    return history


def _replaced_since(asset: ListedAsset, lesson: LessonState, history: list[datetime]) -> datetime | None:
    """When the lesson moved on: its first video after this one; else when its state last changed."""
    if asset.created_at is None:
        return utc(lesson.video_status_at)
    newer = [at for at in history if at > asset.created_at]
    if newer:
        return min(newer)
    changed = utc(lesson.video_status_at)
    return changed if changed is not None and changed > asset.created_at else asset.created_at


def _hold(
    reason: OrphanReason,
    lesson: LessonState | None,
    since: datetime | None,
    listing: Mapping[str, ListedAsset],
    *,
    now: datetime,
    grace_days: int | None,
) -> str | None:
    if reason is not OrphanReason.replaced or lesson is None:
        return "only a replaced lesson video is deleted automatically; an admin decides"
    current = listing.get(lesson.mux_asset_id) if lesson.mux_asset_id else None
    if not (
        lesson.video_provider == "mux"
        and lesson.video_status == "ready"
        and current is not None
        and current.status == "ready"
    ):
        return f"lesson {lesson.id}'s current video is not a ready Mux asset: this may be its only playable copy"
    if grace_days is None:
        return "automatic deletion is off (LECTERN_DELETE_REPLACED_ASSETS_AFTER_DAYS)"
    if since is None:
        return "unknown since when it is orphaned"
    due = since + timedelta(days=grace_days)
    if now < due:
        return f"grace period until {due:%Y-%m-%d %H:%M} UTC"
    return None


# --- pricing -----------------------------------------------------------------------------------------


def price_keys(video_quality: str | None, resolution_tier: str | None) -> tuple[str, str]:
    """The price book's quality and tier for an asset (Mux's old names read as the new ones)."""
    quality = (video_quality or "").strip().lower()
    quality = QUALITY_ALIASES.get(quality, quality)
    tier = (resolution_tier or "").strip()
    tier = TIER_ALIASES.get(tier, tier).lower()
    return (
        quality if quality in ("basic", "plus", "premium") else DEFAULT_QUALITY,
        tier if tier in TIERS else DEFAULT_TIER,
    )


def storage_class(book: PriceBook, *, created: datetime | None, last_played: date | None, today: date) -> str:
    """standard / infrequent / cold by days since the last play, as Mux's Automatic Cold Storage moves it."""
    if last_played is None:
        if book.new_assets_start_cold:
            return "cold"
        if created is None:
            return "standard"
        anchor = created.date()
    else:
        anchor = last_played
    days = (today - anchor).days
    if days < book.infrequent_after_days:
        return "standard"
    if days < book.cold_after_days:
        return "infrequent"
    return "cold"


def monthly_storage_micros(book: PriceBook, duration_s: float | None, quality: str, tier: str, storage: str) -> int:
    """A month of storage at list price (first volume tier) in micro-dollars, rounded half up."""
    if duration_s is None or not math.isfinite(duration_s) or duration_s <= 0:
        return 0
    discount = {
        "standard": Decimal(0),
        "infrequent": book.rule("storage.infrequent_discount"),
        "cold": book.rule("storage.cold_discount"),
    }[storage]
    minutes = Decimal(str(duration_s)) / 60
    micros = minutes * book.price("storage", quality, tier) * (1 - discount) * MICROS
    return int(micros.quantize(Decimal(1), rounding=ROUND_HALF_UP))


# --- values --------------------------------------------------------------------------------------------


def lesson_id_of(passthrough: str | None) -> int | None:
    """The lesson id Lectern puts in an asset's passthrough (ASCII digits only, as sync/reconcile.py reads it)."""
    text = (passthrough or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 10 else None


def utc(value: Any) -> datetime | None:
    """A timezone-aware UTC datetime (naive values are UTC, as the platform DB and DuckDB store them)."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _day(value: Any) -> date | None:
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return str(value)


def _seconds(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None

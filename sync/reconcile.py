"""Mux assets vs platform lessons: what to heal and what to flag (a pure plan; `sync.assets` applies it).

Healing is deliberately narrow, because webhooks and the migration engine own lesson state:
- a lesson that already names the asset (the asset_created webhook arrived) but is not `ready` on the
  `mux` provider while Mux says the asset is ready -> the ready webhook was missed: set ready, provider
  mux, playback id and duration;
- a lesson still waiting for its upload (`waiting_upload`/`processing`, no asset id) whose id is the
  asset's passthrough -> both webhooks were missed: same, plus the asset id;
- the same two cases with an errored asset -> set `errored` with Mux's message.
Lessons with an active migration job, and legacy S3 lessons, are left alone: the migration worker
verifies a Mux copy before it switches a lesson.
Flags (conditions of the alert engine's reconciliation rules, core/alerts/: one alert per key, resolved when
the condition clears, and a lesson's teacher sees those about their lesson):
- `mux_orphan_asset`: a ready/errored asset no lesson (and no active migration) refers to — it costs
  storage and nobody can watch it (its lesson is the one its passthrough names, when that lesson exists);
- `lesson_asset_missing`: a lesson names an asset Mux no longer has.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.alerts.planner import Observation
from core.alerts.rules import ASSET_MISSING, ORPHAN_ASSET
from core.db.records import LessonState

ORPHAN = ORPHAN_ASSET
MISSING = ASSET_MISSING
KINDS = (ORPHAN, MISSING)
WAITING = ("waiting_upload", "processing")


@dataclass(frozen=True)
class Heal:
    lesson_id: int
    asset_id: str
    status: str  # ready | errored
    playback_id: str | None
    duration_s: float | None
    error: str | None
    expected_asset_id: str | None  # the lesson's asset id when planned (guards a concurrent change)


@dataclass
class ReconcilePlan:
    heals: list[Heal] = field(default_factory=list)
    alerts: list[Observation] = field(default_factory=list)


def _lesson_id(passthrough: Any) -> int | None:
    text = str(passthrough or "").strip()
    # ASCII digits only: str.isdigit() accepts "²", which int() then refuses (failing the whole job).
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 10 else None


def _playback_id(asset: Mapping[str, Any], policy: str) -> str | None:
    ids = [p for p in asset.get("playback_ids") or [] if isinstance(p, Mapping) and p.get("id")]
    chosen = next((p for p in ids if p.get("policy") == policy), ids[0] if ids else None)
    return str(chosen["id"]) if chosen else None


def _duration(value: Any) -> float | None:
    # Infinity/NaN or a number beyond a float (the SDK's JSON parser accepts them) would break pages later.
    try:
        seconds = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    except OverflowError:
        return None
    return seconds if seconds is not None and math.isfinite(seconds) and seconds >= 0 else None


def _error(asset: Mapping[str, Any]) -> str:
    errors = asset.get("errors") or {}
    messages = errors.get("messages") if isinstance(errors, Mapping) else None
    return "; ".join(str(m) for m in messages or []) or "Mux could not process the video"


def plan(assets: Iterable[Mapping[str, Any]], lessons: Iterable[LessonState], busy_lessons: set[int]) -> ReconcilePlan:
    """Heals and alerts for a complete listing of Mux assets against every lesson."""
    by_id = {lesson.id: lesson for lesson in lessons}
    by_asset: dict[str, LessonState] = {le.mux_asset_id: le for le in by_id.values() if le.mux_asset_id}
    assets = [a for a in assets if a.get("id")]
    on_mux = {str(a["id"]) for a in assets}
    result = ReconcilePlan()
    for asset in assets:
        # Mux may add statuses: anything but ready/errored counts as still processing (heals nothing, no alert).
        asset_id, status = str(asset["id"]), asset.get("status")
        lesson = by_asset.get(asset_id)
        if lesson is None:
            candidate = by_id.get(_lesson_id(asset.get("passthrough")) or -1)
            if (
                candidate is not None
                and candidate.mux_asset_id is None
                # A lesson waiting for its own upload is healed only with that upload's asset: passthrough
                # alone never attaches another asset to it (see core/webhooks.py, ownership).
                and (candidate.mux_upload_id is None or asset.get("upload_id") == candidate.mux_upload_id)
                and candidate.video_status in WAITING
                and candidate.id not in busy_lessons
                and status in ("ready", "errored")
            ):
                lesson = candidate
        # A legacy S3 lesson is switched by the migration engine after it verifies, never from here.
        if lesson is not None and lesson.video_provider == "s3":
            continue
        if lesson is not None and lesson.id not in busy_lessons and status in ("ready", "errored"):
            heal = _heal(asset, lesson)
            if heal is not None:
                result.heals.append(heal)
            continue
        in_migration = _lesson_id(asset.get("passthrough")) in busy_lessons
        if lesson is None and status in ("ready", "errored") and not in_migration:
            named = _lesson_id(asset.get("passthrough"))
            result.alerts.append(
                Observation(
                    rule=ORPHAN,
                    key=f"{ORPHAN}:{asset_id}",
                    subject=f"asset {asset_id}",
                    lesson_id=named if named in by_id else None,
                    message=(
                        f"Mux asset {asset_id} ({status}, passthrough {asset.get('passthrough')!r}) is not used by "
                        "any lesson: it still costs storage. Attach it to its lesson or delete it in Mux."
                    ),
                    context={
                        "asset_id": asset_id,
                        "status": status,
                        "passthrough": asset.get("passthrough"),
                        "duration_s": asset.get("duration"),
                    },
                )
            )
    for lesson in by_id.values():
        if lesson.mux_asset_id and lesson.mux_asset_id not in on_mux and lesson.video_provider == "mux":
            result.alerts.append(
                Observation(
                    rule=MISSING,
                    key=f"{MISSING}:{lesson.id}:{lesson.mux_asset_id}",
                    subject=f"lesson {lesson.id}",
                    lesson_id=lesson.id,
                    message=(
                        f"Lesson {lesson.id} plays Mux asset {lesson.mux_asset_id}, which Mux no longer has: "
                        "students cannot watch it. Upload the video again."
                    ),
                    context={"lesson_id": lesson.id, "asset_id": lesson.mux_asset_id},
                )
            )
    return result


def _heal(asset: Mapping[str, Any], lesson: LessonState) -> Heal | None:
    asset_id = str(asset["id"])
    if asset.get("status") == "errored":
        if lesson.video_status != "errored" and lesson.video_status in WAITING:
            return Heal(lesson.id, asset_id, "errored", None, None, _error(asset), lesson.mux_asset_id)
        return None
    playback_id = _playback_id(asset, lesson.playback_policy)
    duration = asset.get("duration")
    healthy = (
        lesson.video_status == "ready"
        and lesson.video_provider == "mux"
        and lesson.mux_playback_id is not None
        and lesson.video_duration_s is not None
    )
    if healthy or playback_id is None:
        return None
    return Heal(
        lesson.id,
        asset_id,
        "ready",
        playback_id,
        _duration(duration),
        None,
        lesson.mux_asset_id,
    )

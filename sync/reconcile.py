"""Mux assets vs platform lessons: what to heal and what to flag (a pure plan; `sync.assets` applies it).

Healing (which lessons, and how) is `core.heal`'s, shared with an admin's "repair lesson".
Flags (conditions of the alert engine's reconciliation rules, core/alerts/: one alert per key, resolved when
the condition clears, and a lesson's teacher sees those about their lesson):
- `mux_orphan_asset`: a ready/errored asset no lesson (and no active migration) refers to — it costs
  storage and nobody can watch it (its lesson is the one its passthrough names, when that lesson exists);
- `lesson_asset_missing`: a lesson names an asset Mux no longer has.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.alerts.planner import Observation
from core.alerts.rules import ASSET_MISSING, ORPHAN_ASSET
from core.db.records import LessonState
from core.heal import Heal, heal_for, match_lesson
from core.heal import lesson_id_of as _lesson_id

ORPHAN = ORPHAN_ASSET
MISSING = ASSET_MISSING
KINDS = (ORPHAN, MISSING)


@dataclass
class ReconcilePlan:
    heals: list[Heal] = field(default_factory=list)
    alerts: list[Observation] = field(default_factory=list)


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
        lesson = match_lesson(asset, by_asset, by_id, busy_lessons)
        # A legacy S3 lesson is switched by the migration engine after it verifies, never from here.
        if lesson is not None and lesson.video_provider == "s3":
            continue
        if lesson is not None and lesson.id not in busy_lessons and status in ("ready", "errored"):
            heal = heal_for(asset, lesson)
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

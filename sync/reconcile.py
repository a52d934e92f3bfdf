"""Mux assets vs platform lessons: what to heal and what to flag (a pure plan; `sync.assets` applies it).

Healing (which lessons, and how) is `core.heal`'s, shared with an admin's "repair lesson".
Flags (platform `alerts`, unique key per condition, resolved when the condition clears):
- `mux_orphan_asset`: a ready/errored asset no lesson (and no active migration) refers to — it costs
  storage and nobody can watch it;
- `lesson_asset_missing`: a lesson names an asset Mux no longer has.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.db.records import LessonState
from core.heal import Heal, heal_for, match_lesson
from core.heal import lesson_id_of as _lesson_id

ORPHAN = "mux_orphan_asset"
MISSING = "lesson_asset_missing"
KINDS = (ORPHAN, MISSING)


@dataclass(frozen=True)
class AlertSpec:
    key: str
    kind: str
    severity: str
    message: str
    context: dict[str, Any]


@dataclass
class ReconcilePlan:
    heals: list[Heal] = field(default_factory=list)
    alerts: list[AlertSpec] = field(default_factory=list)


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
            result.alerts.append(
                AlertSpec(
                    key=f"{ORPHAN}:{asset_id}",
                    kind=ORPHAN,
                    severity="warning",
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
                AlertSpec(
                    key=f"{MISSING}:{lesson.id}:{lesson.mux_asset_id}",
                    kind=MISSING,
                    severity="error",
                    message=(
                        f"Lesson {lesson.id} plays Mux asset {lesson.mux_asset_id}, which Mux no longer has: "
                        "students cannot watch it. Upload the video again."
                    ),
                    context={"lesson_id": lesson.id, "asset_id": lesson.mux_asset_id},
                )
            )
    return result

"""Healing a lesson from Mux's view of its asset: the pure planner and the one guarded UPDATE that applies it.

Shared by the assets sync job (`sync.reconcile.plan` over a complete listing, applied by `sync.assets`) and
an admin's "repair lesson" (`core.webhook_ops`, one asset fetched from Mux), so both heal the same way.
Healing is deliberately narrow, because webhooks and the migration engine own lesson state:
- a lesson that already names the asset (the asset_created webhook arrived) but is not `ready` on the
  `mux` provider while Mux says the asset is ready -> the ready webhook was missed: set ready, provider
  mux, playback id and duration;
- a lesson still waiting for its upload (`waiting_upload`/`processing`, no asset id) whose id is the
  asset's passthrough -> both webhooks were missed: same, plus the asset id;
- the same two cases with an errored asset -> set `errored` with Mux's message.
Lessons with an active migration job (`busy`), and legacy S3 lessons, are left alone: the migration worker
verifies a Mux copy before it switches a lesson.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Connection

from core.db.models import Lesson
from core.db.records import LessonState

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


def lesson_id_of(passthrough: Any) -> int | None:
    """The lesson id an asset's passthrough names, when it is one."""
    text = str(passthrough or "").strip()
    # ASCII digits only: str.isdigit() accepts "²", which int() then refuses (failing the whole job).
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 10 else None


def playback_id(asset: Mapping[str, Any], policy: str) -> str | None:
    ids = [p for p in asset.get("playback_ids") or [] if isinstance(p, Mapping) and p.get("id")]
    chosen = next((p for p in ids if p.get("policy") == policy), ids[0] if ids else None)
    return str(chosen["id"]) if chosen else None


def duration(value: Any) -> float | None:
    # Infinity/NaN or a number beyond a float (the SDK's JSON parser accepts them) would break pages later.
    try:
        seconds = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    except OverflowError:
        return None
    return seconds if seconds is not None and math.isfinite(seconds) and seconds >= 0 else None


def asset_error(asset: Mapping[str, Any]) -> str:
    errors = asset.get("errors") or {}
    messages = errors.get("messages") if isinstance(errors, Mapping) else None
    return "; ".join(str(m) for m in messages or []) or "Mux could not process the video"


def match_lesson(
    asset: Mapping[str, Any],
    by_asset: Mapping[str, LessonState],
    by_id: Mapping[int, LessonState],
    busy_lessons: set[int],
) -> LessonState | None:
    """The lesson an asset belongs to: the one naming it, else a waiting lesson its passthrough names."""
    lesson = by_asset.get(str(asset["id"]))
    if lesson is not None:
        return lesson
    candidate = by_id.get(lesson_id_of(asset.get("passthrough")) or -1)
    if (
        candidate is not None
        and candidate.mux_asset_id is None
        # A lesson waiting for its own upload is healed only with that upload's asset: passthrough
        # alone never attaches another asset to it (see core/webhooks.py, ownership).
        and (candidate.mux_upload_id is None or asset.get("upload_id") == candidate.mux_upload_id)
        and candidate.video_status in WAITING
        and candidate.id not in busy_lessons
        and asset.get("status") in ("ready", "errored")
    ):
        return candidate
    return None


def heal_for(asset: Mapping[str, Any], lesson: LessonState) -> Heal | None:
    """What Mux's view of `asset` changes on `lesson` (already matched to it), or None."""
    asset_id = str(asset["id"])
    if asset.get("status") == "errored":
        if lesson.video_status != "errored" and lesson.video_status in WAITING:
            return Heal(lesson.id, asset_id, "errored", None, None, asset_error(asset), lesson.mux_asset_id)
        return None
    chosen = playback_id(asset, lesson.playback_policy)
    healthy = (
        lesson.video_status == "ready"
        and lesson.video_provider == "mux"
        and lesson.mux_playback_id is not None
        and lesson.video_duration_s is not None
    )
    if healthy or chosen is None:
        return None
    return Heal(lesson.id, asset_id, "ready", chosen, duration(asset.get("duration")), None, lesson.mux_asset_id)


def plan_lesson_heal(asset: Mapping[str, Any], lesson: LessonState, *, busy: bool) -> Heal | None:
    """The heal for one lesson and one asset fetched from Mux (the repair path), with the sync's rules."""
    if not asset.get("id"):
        return None
    by_asset = {lesson.mux_asset_id: lesson} if lesson.mux_asset_id else {}
    matched = match_lesson(asset, by_asset, {lesson.id: lesson}, {lesson.id} if busy else set())
    if matched is None or matched.video_provider == "s3" or busy or asset.get("status") not in ("ready", "errored"):
        return None
    return heal_for(asset, matched)


def apply_heal(conn: Connection, heal: Heal, *, now: datetime) -> int:
    """Apply one heal while the lesson still names the asset it was planned against; rows changed (0 or 1)."""
    guard = (
        Lesson.mux_asset_id.is_(None)
        if heal.expected_asset_id is None
        else Lesson.mux_asset_id == heal.expected_asset_id
    )
    values: dict[str, Any] = {
        "mux_asset_id": heal.asset_id,
        "video_status": heal.status,
        "video_status_at": now,
        "video_provider": "mux",
    }
    if heal.status == "ready":
        values.update(mux_playback_id=heal.playback_id, video_duration_s=heal.duration_s, video_error=None)
    else:
        values["video_error"] = heal.error
    return int(conn.execute(update(Lesson).where(Lesson.id == heal.lesson_id, guard).values(**values)).rowcount)

"""The emulator's Mux Data state: the current view store, simulation runs and their persistence.

One `DataService` per emulator, kept on `app.state`. The store is swapped whole after a simulation, so
requests read whatever store was current when they started. Views follow part 1's lifecycle: a reset
of the emulator (its `generation` changes) drops them, and with a state file they are saved next to it
(`<state>.views.npz`) so a restarted demo keeps its traffic.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emulator.data.exports import ExportFiles, ExportSettings
from emulator.data.simulator import MAX_VIEWS, DropOff, Knobs, generate
from emulator.data.store import Lesson, ViewStore
from emulator.runtime import Emulator

log = logging.getLogger("emulator.data")

DEFAULT_VIEWS = 50_000
MAX_DAYS = 3650


class SimulationBusy(Exception):
    """Another simulation is running."""


@dataclass
class SimulateRequest:
    days: float = 90.0
    views: int = DEFAULT_VIEWS
    seed: int = 7
    end: float | None = None
    replace: bool = True
    lessons: dict[str, dict[str, Any]] | None = None
    students: dict[str, list[str]] | list[str] | None = None
    # {course: {student: epoch seconds enrolled}} when `students` gave enrolment dates
    enrolled_from: dict[str, dict[str, float]] | None = None
    after_created: bool = False  # each lesson's views begin after its asset's created_at
    viewers: int | None = None
    knobs: Knobs = field(default_factory=Knobs)

    @classmethod
    def parse(cls, body: Any) -> SimulateRequest:
        """Validate a POST /_emulator/simulate body; ValueError names the bad field."""
        body = body or {}
        if not isinstance(body, dict):
            raise ValueError("body must be a JSON object")
        known = {"days", "views", "seed", "end", "replace", "lessons", "students", "viewers", "knobs", "after_created"}
        unknown = set(body) - known
        if unknown:
            raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
        request = cls(knobs=Knobs.parse(body.get("knobs")))
        days = body.get("days", request.days)
        if not _is_number(days) or not 0 < days <= MAX_DAYS:
            raise ValueError(f"days must be a number between 0 and {MAX_DAYS}")
        views = body.get("views", request.views)
        if not _is_int(views) or not 0 <= views <= MAX_VIEWS:
            raise ValueError(f"views must be an integer between 0 and {MAX_VIEWS:,}")
        seed = body.get("seed", request.seed)
        if not _is_int(seed):
            raise ValueError("seed must be an integer")
        end = body.get("end")
        if end is not None and not _is_number(end):
            raise ValueError("end must be epoch seconds")
        replace = body.get("replace", True)
        if not isinstance(replace, bool):
            raise ValueError("replace must be true or false")
        after_created = body.get("after_created", False)
        if not isinstance(after_created, bool):
            raise ValueError("after_created must be true or false")
        viewers = body.get("viewers")
        if viewers is not None and (not _is_int(viewers) or not 1 <= viewers <= 10_000_000):
            raise ValueError("viewers must be an integer between 1 and 10,000,000")
        request.days, request.views, request.seed = float(days), int(views), int(seed)
        request.end, request.replace, request.viewers = end, replace, viewers
        request.after_created = after_created
        request.lessons = _parse_lessons(body.get("lessons"))
        request.students, request.enrolled_from = _parse_students(body.get("students"))
        return request


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _parse_lessons(raw: Any) -> dict[str, dict[str, Any]] | None:
    """`{lesson_id: asset_id}` or `{lesson_id: {"asset_id", "course", "position", "title"}}`."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or not raw:
        raise ValueError("lessons must be a non-empty object of lesson id -> asset id")
    lessons: dict[str, dict[str, Any]] = {}
    for lesson_id, spec in raw.items():
        entry = {"asset_id": spec} if isinstance(spec, str) else spec
        if not isinstance(entry, dict) or not isinstance(entry.get("asset_id"), str):
            raise ValueError(f"lessons[{lesson_id!r}] must be an asset id or an object with asset_id")
        unknown = set(entry) - {"asset_id", "course", "position", "title"}
        if unknown:
            raise ValueError(f"lessons[{lesson_id!r}] has unknown keys: {', '.join(sorted(unknown))}")
        if entry.get("position") is not None and not _is_int(entry["position"]):
            raise ValueError(f"lessons[{lesson_id!r}].position must be an integer")
        lessons[str(lesson_id)] = entry
    return lessons


def _parse_students(
    raw: Any,
) -> tuple[dict[str, list[str]] | list[str] | None, dict[str, dict[str, float]] | None]:
    """A list of ids (everyone takes every course), `{course: [ids]}` (enrolments) or
    `{course: {id: enrolled_at}}` (enrolments since epoch seconds); the second item holds those dates."""
    if raw is None:
        return None, None

    def ids(values: Any, where: str) -> list[str]:
        if not isinstance(values, list) or not all(
            isinstance(v, str | int) and not isinstance(v, bool) for v in values
        ):
            raise ValueError(f"{where} must be a list of student ids")
        return [str(v) for v in values]

    if isinstance(raw, dict) and raw and all(isinstance(members, dict) for members in raw.values()):
        dated: dict[str, dict[str, float]] = {}
        for course, members in raw.items():
            if not all(_is_number(v) for v in members.values()):
                raise ValueError(f"students[{course!r}] must map student ids to enrolment times (epoch seconds)")
            dated[str(course)] = {str(k): float(v) for k, v in members.items()}
        return {course: list(members) for course, members in dated.items()}, dated
    if isinstance(raw, dict):
        return {str(course): ids(members, f"students[{course!r}]") for course, members in raw.items()}, None
    return ids(raw, "students"), None


@dataclass
class Status:
    state: str = "idle"  # idle | running | done | failed
    generated: int = 0
    total: int = 0
    started_at: float | None = None
    seconds: float | None = None
    error: str | None = None


class DataService:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self._lock = threading.Lock()  # guards the store reference and loading
        self._run_lock = threading.Lock()  # one simulation at a time
        self._store: ViewStore | None = None
        self._generation = emu.generation
        self.status = Status()
        self.exports = ExportFiles(emu.data_dir / "view-exports")

    @property
    def views_path(self) -> Path | None:
        state = self.emu.config.state_file
        return Path(state).with_name(Path(state).stem + ".views.npz") if state else None

    def current(self) -> ViewStore:
        with self._lock:
            if self._generation != self.emu.generation:  # the emulator was reset: views go too
                self._generation = self.emu.generation
                self._store = ViewStore.empty()
                if self.views_path is not None:
                    self.views_path.unlink(missing_ok=True)
            if self._store is None:
                loaded = None
                if self.views_path is not None:
                    try:
                        loaded = ViewStore.load(self.views_path)
                    except (OSError, ValueError, KeyError) as exc:
                        log.warning("ignoring unreadable views file %s: %s", self.views_path, exc)
                self._store = loaded or ViewStore.empty()
            return self._store

    def clear(self) -> None:
        with self._lock:
            self._store = ViewStore.empty()
            if self.views_path is not None:
                self.views_path.unlink(missing_ok=True)

    def now(self) -> float:
        return self.emu.clock.now()

    def export_settings(self) -> ExportSettings:
        cfg = self.emu.config
        return ExportSettings(
            enabled=cfg.view_exports,
            version=cfg.view_export_version,
            days=cfg.view_export_days,
            delay_s=cfg.view_export_delay_s,
            url_ttl_s=cfg.view_export_url_ttl_s,
            environment_id=cfg.environment_id,
            base_url=cfg.base_url,
            # The upload-URL secret is per emulator state and never handed out: a fine key for file URLs too.
            secret=self.emu.store.upload_secret,
        )

    def assets(self) -> dict[str, dict[str, Any]]:
        """Part 1's assets as their REST JSON, by id."""
        return {data["id"]: data for _, data in self.emu.store.asset_objects_newest_first()}

    # -- simulation ------------------------------------------------------------------------------

    def simulate(self, request: SimulateRequest) -> dict[str, Any]:
        if not self._run_lock.acquire(blocking=False):
            raise SimulationBusy()
        try:
            self.status = Status(state="running", total=request.views, started_at=time.time())
            started = time.perf_counter()
            try:
                summary = self._simulate(request)
            except Exception as exc:
                self.status.state, self.status.error = "failed", str(exc)
                raise
            self.status.state = "done"
            self.status.seconds = round(time.perf_counter() - started, 3)
            summary["seconds"] = self.status.seconds
            return summary
        finally:
            self._run_lock.release()

    def _simulate(self, request: SimulateRequest) -> dict[str, Any]:
        lessons, skipped = self._lessons(request)
        if not lessons:
            raise ValueError(
                "no ready assets to simulate views for" + (f" (skipped {len(skipped)})" if skipped else "")
            )
        students = self._students(request, lessons)
        end = float(request.end if request.end is not None else self.now())

        def progress(done: int) -> None:
            self.status.generated = done

        # Taken before generating: if the emulator is reset meanwhile, the next read drops these views.
        generation = self.emu.generation
        began = time.perf_counter()
        fresh, plan = generate(
            lessons,
            students,
            views=request.views,
            days=request.days,
            end_s=end,
            seed=request.seed,
            knobs=request.knobs,
            progress=progress,
            lesson_from=[float(lesson.created_at) for lesson in lessons] if request.after_created else None,
            enrolled_from=request.enrolled_from,
        )
        generate_seconds = round(time.perf_counter() - began, 3)
        base = ViewStore.empty() if request.replace else self.current()
        combined = base.merged_with(fresh) if base.n else fresh
        with self._lock:
            self._generation = generation
            self._store = combined
        if self.views_path is not None:
            combined.save(self.views_path)
        summary = _summary(request, fresh, combined, plan.drop_offs, plan.completion, skipped, end)
        summary["generate_seconds"] = generate_seconds
        return summary

    def _lessons(self, request: SimulateRequest) -> tuple[list[Lesson], list[dict[str, str]]]:
        assets = self.assets()
        skipped: list[dict[str, str]] = []
        lessons: list[Lesson] = []
        if request.lessons is None:
            ready = [a for a in reversed(list(assets.values())) if a.get("status") == "ready"]
            for position, asset in enumerate(ready):
                video_id = asset.get("passthrough") or asset["id"]
                title = (asset.get("meta") or {}).get("title") or asset.get("passthrough") or f"Video {position + 1}"
                lessons.append(_lesson(asset, video_id, title, "all", position))
            return lessons, skipped
        for position, (lesson_id, spec) in enumerate(request.lessons.items()):
            asset = assets.get(spec["asset_id"])
            if asset is None or asset.get("status") != "ready":
                reason = "unknown asset" if asset is None else f"asset is {asset.get('status')}"
                skipped.append({"lesson_id": lesson_id, "asset_id": spec["asset_id"], "reason": reason})
                continue
            title = spec.get("title") or (asset.get("meta") or {}).get("title") or f"Lesson {lesson_id}"
            course = str(spec.get("course", "course"))
            lessons.append(_lesson(asset, lesson_id, str(title), course, int(spec.get("position", position))))
        return lessons, skipped

    def _students(self, request: SimulateRequest, lessons: list[Lesson]) -> dict[str, list[str]]:
        courses = list(dict.fromkeys(lesson.course for lesson in lessons))
        if isinstance(request.students, list):
            return {course: request.students for course in courses}
        if isinstance(request.students, dict):
            return {course: request.students.get(course, []) for course in courses}
        count = request.viewers or min(100_000, max(20, request.views // 50))
        invented = [f"viewer-{i:06d}" for i in range(1, count + 1)]
        return {course: invented for course in courses}


def _lesson(asset: dict[str, Any], video_id: str, title: str, course: str, position: int) -> Lesson:
    playback_ids = asset.get("playback_ids") or []
    public = [p["id"] for p in playback_ids if p.get("policy") == "public"]
    return Lesson(
        video_id=str(video_id),
        title=title,
        asset_id=asset["id"],
        playback_id=(public or [p["id"] for p in playback_ids] or [None])[0],
        duration_s=float(asset.get("duration") or 1.0),
        resolution_tier=asset.get("resolution_tier") or "1080p",
        video_quality=asset.get("video_quality") or "plus",
        created_at=str(asset.get("created_at") or "0"),
        passthrough=asset.get("passthrough"),
        course=course,
        position=position,
    )


def _summary(
    request: SimulateRequest,
    fresh: ViewStore,
    combined: ViewStore,
    drop_offs: list[list[DropOff]],
    completion: np.ndarray,
    skipped: list[dict[str, str]],
    end: float,
) -> dict[str, Any]:
    per_lesson = np.bincount(fresh["lesson"], minlength=len(fresh.lessons)) if fresh.n else np.zeros(len(fresh.lessons))
    per_asset: dict[str, int] = {}
    lessons = []
    for i, lesson in enumerate(fresh.lessons):
        per_asset[lesson.asset_id] = per_asset.get(lesson.asset_id, 0) + int(per_lesson[i])
        lessons.append(
            {
                "video_id": lesson.video_id,
                "asset_id": lesson.asset_id,
                "course": lesson.course,
                "position": lesson.position,
                "views": int(per_lesson[i]),
                "completion": round(float(completion[i]), 4),
                "drop_offs": [
                    {
                        "fraction": round(d.position, 4),
                        "position_s": round(d.position * lesson.duration_s, 1),
                        "strength": round(d.strength, 4),
                    }
                    for d in drop_offs[i]
                ],
            }
        )
    end_ms = fresh["end_ms"]
    return {
        "views": fresh.n,
        "total_views": combined.n,
        "viewers": len(fresh.viewers),
        "seed": request.seed,
        "days": request.days,
        "replace": request.replace,
        "time_range": {
            "start": int(end - request.days * 86_400),
            "end": int(end),
            "first_view_end": int(end_ms[0] // 1000) if fresh.n else None,
            "last_view_end": int(end_ms[-1] // 1000) if fresh.n else None,
        },
        "assets": per_asset,
        "lessons": lessons,
        "skipped": skipped,
        "memory_bytes": combined.nbytes,
    }

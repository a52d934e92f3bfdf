"""Builders for the Mux Data tests: a course catalogue of ready assets, written as part 1's state file."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mux_python

from emulator.state import AssetRecord, Store
from emulator.testing import EmulatorServer

TIERS = ("720p", "1080p", "2160p")
QUALITIES = ("basic", "plus", "premium")


@dataclass
class Catalogue:
    """Courses of lessons, each lesson backed by one ready asset (ids as Lectern would map them)."""

    lessons: dict[str, dict[str, Any]] = field(default_factory=dict)  # lesson id -> simulate spec
    assets: dict[str, dict[str, Any]] = field(default_factory=dict)  # asset id -> asset JSON
    students: dict[str, list[str]] = field(default_factory=dict)  # course -> student ids

    def lesson_of_asset(self, asset_id: str) -> str:
        return next(lesson for lesson, spec in self.lessons.items() if spec["asset_id"] == asset_id)


def build_catalogue(courses: int = 3, lessons_per_course: int = 8, seed: int = 5) -> Catalogue:
    rng = random.Random(seed)
    catalogue = Catalogue()
    lesson_id = 1000
    for c in range(courses):
        course = str(c + 1)
        catalogue.students[course] = [str(s) for s in sorted(rng.sample(range(1, 400), 120))]
        for position in range(1, lessons_per_course + 1):
            lesson_id += 1
            asset_id = f"emuAsset{lesson_id:05d}" + "x" * 31
            catalogue.assets[asset_id] = {
                "id": asset_id,
                "created_at": str(1_700_000_000 + lesson_id),
                "status": "ready",
                "duration": round(rng.uniform(300, 1500), 3),
                "resolution_tier": TIERS[c % len(TIERS)],
                "max_resolution_tier": "2160p",
                "video_quality": QUALITIES[c % len(QUALITIES)],
                "passthrough": str(lesson_id),
                "playback_ids": [{"id": f"play{lesson_id}" + "y" * 30, "policy": "public"}],
                "mp4_support": "none",
                "master_access": "none",
                "normalize_audio": False,
                "ingest_type": "on_demand_direct_upload",
            }
            catalogue.lessons[str(lesson_id)] = {
                "asset_id": asset_id,
                "course": course,
                "position": position,
                "title": f"Course {course} · Lesson {position}",
            }
    return catalogue


def write_state(path: Path, catalogue: Catalogue) -> None:
    """Ready assets in part 1's own state file format (through its Store), so the emulator loads them."""
    store = Store(path)
    for seq, asset in enumerate(catalogue.assets.values(), start=1):
        store.assets[asset["id"]] = AssetRecord(data=dict(asset), seq=seq, has_video=True)
        store.seq = seq
    store.commit()


def make_client(emu: EmulatorServer) -> mux_python.ApiClient:
    config = mux_python.Configuration(host=emu.url, username=emu.token_id, password=emu.token_secret)
    return mux_python.ApiClient(config)


def simulate(emu: EmulatorServer, **body: Any) -> dict[str, Any]:
    response = emu.http.post("/_emulator/simulate", json=body, timeout=300)
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])

"""View model of the preview page: the line under the player and the chapter list."""

from __future__ import annotations

from typing import Any

from core.playback import PlaybackInfo
from dashboard.lesson_tables import duration_text


def playback_caption(info: PlaybackInfo) -> str:
    """Where the video streams from, its policy (Mux), length, and until when the links work."""
    source = "Mux HLS" if info.provider == "mux" else "S3 MP4 (presigned)"
    policy = f", {info.policy}" if info.provider == "mux" else ""
    expiry = f" · links valid until {info.expires_at:%H:%M} UTC" if info.expires_at else ""
    return f"{source}{policy} · {duration_text(info.duration_s)}{expiry}"


def chapters_inside(chapters: list[dict[str, Any]] | None, duration_s: float | None) -> list[dict[str, Any]]:
    """The chapters that start inside the video (all of them while its length is unknown), in order."""
    kept = []
    for chapter in chapters or []:
        start = chapter.get("start_s") if isinstance(chapter, dict) else None
        if isinstance(start, int | float) and start >= 0 and (duration_s is None or start < duration_s):
            kept.append(chapter)
    return sorted(kept, key=lambda c: float(c["start_s"]))


def chapters_line(chapters: list[dict[str, Any]] | None) -> str | None:
    if not chapters:
        return None
    marks = [f"{duration_text(c.get('start_s'))} {c.get('title')}" for c in chapters]
    return "**Chapters:** " + " · ".join(marks)

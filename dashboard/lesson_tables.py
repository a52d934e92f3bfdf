"""DataFrames and sentences for the lesson pages (pure: rows in, frame or text out)."""

from __future__ import annotations

import math

import pandas as pd

from dashboard.platform_db import PROVIDER_LABELS, LessonRow
from dashboard.views.display import MISSING, bare_title

LESSON_COLUMNS = ["thumbnail", "#", "lesson", "provider", "status", "duration", "policy", "lesson_id"]
# Longer than any video; a stored duration beyond it (or Infinity, NaN, negative: rows written before the
# webhook receiver parsed strictly) is shown as unknown rather than breaking the page (round(inf) raises).
MAX_SHOWN_DURATION_S = 10_000_000


def duration_text(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds) or not 0 <= seconds <= MAX_SHOWN_DURATION_S:
        return MISSING
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def lessons_frame(rows: list[LessonRow]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "thumbnail": [r.thumbnail for r in rows],
            "#": [r.position for r in rows],
            "lesson": [bare_title(r.position, r.title) for r in rows],
            "provider": [PROVIDER_LABELS.get(r.provider, r.provider or "none") for r in rows],
            "status": [r.status_text for r in rows],
            "duration": [duration_text(r.duration_s) for r in rows],
            "policy": [r.playback_policy for r in rows],
            "lesson_id": [r.id for r in rows],
        },
        columns=LESSON_COLUMNS,
    )


def pending_caption(rows: list[LessonRow], refresh_s: int) -> str | None:
    """Which lessons wait on Mux (the table refreshes by itself until they are ready), or None."""
    pending = [r.label for r in rows if r.pending]
    if not pending:
        return None
    return f":material/hourglass_top: {', '.join(pending)}: refreshing every {refresh_s} s until Mux reports ready."


def errored_warnings(rows: list[LessonRow]) -> list[str]:
    """One warning per lesson whose video Mux could not process, with Mux's message."""
    return [
        f"**{r.label}**: Mux could not process the video — {r.error or 'no message'}. Upload it again."
        for r in rows
        if r.status == "errored"
    ]

"""Pure transforms behind the engagement page: retention key moments, chapter marks, stalled students.

Frames in, small values or frames out; no Streamlit and no I/O, so each is tested with literal tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

EARLY_S = 30.0
TOP_DROPS = 2
MIN_DROP = 0.05  # a drop-off smaller than 5 points of the audience is noise, not a moment
SPIKE_RATIO = 2.0  # replay share at least twice the rest of the lesson's...
MIN_SPIKE_VIEWS = 5  # ...among at least this many views that stopped there
STALL_DAYS = 14


@dataclass(frozen=True)
class Moment:
    pct: float
    value: float
    label: str


@dataclass(frozen=True)
class RetentionMoments:
    share_after_early: float | None
    early_pct: float | None
    drop_offs: list[Moment] = field(default_factory=list)
    replay_spikes: list[Moment] = field(default_factory=list)


def share_at(curve: pd.DataFrame, pct: float) -> float | None:
    """Share still watching at `pct` % of the video, interpolated between the 5 % buckets."""
    if curve.empty:
        return None
    xs = curve["pct_of_duration"].astype(float).to_numpy()
    ys = curve["share_still_watching"].astype(float).to_numpy()
    return float(np.interp(pct, xs, ys))


def key_moments(curve: pd.DataFrame, duration_s: float | None, replays: pd.DataFrame | None = None) -> RetentionMoments:
    """Share still watching after the first 30 s, the biggest drop-offs, and replay spikes."""
    # "After the first 30 s" says something only of a video well past 30 s long.
    early_pct = EARLY_S / duration_s * 100 if duration_s and duration_s >= 2 * EARLY_S else None
    early = share_at(curve, early_pct) if early_pct is not None else None
    drops: list[Moment] = []
    if len(curve) > 1:
        ordered = curve.sort_values("pct_of_duration")
        shares = ordered["share_still_watching"].astype(float).to_numpy()
        pcts = ordered["pct_of_duration"].astype(float).to_numpy()
        # The last bucket holds views that reached the very end; a "drop" into it is just finishing.
        diffs = shares[:-2] - shares[1:-1] if len(shares) > 2 else shares[:-1] - shares[1:]
        for i in np.argsort(-diffs)[:TOP_DROPS]:
            if diffs[i] >= MIN_DROP:
                label = f"-{diffs[i] * 100:.0f} pts ({pcts[i]:.0f}-{pcts[i + 1]:.0f}%)"
                drops.append(Moment(float(pcts[i + 1]), float(diffs[i]), label))
    spikes: list[Moment] = []
    if replays is not None and not replays.empty:
        total_views, total_replayed = int(replays["views"].sum()), int(replays["replayed_views"].sum())
        for row in replays.itertuples():
            share = float(row.replay_share)
            rest_views = total_views - int(row.views)
            # Compared with the rest of the lesson, so one big spike does not raise its own bar.
            rest = (total_replayed - int(row.replayed_views)) / rest_views if rest_views else 0.0
            if row.views >= MIN_SPIKE_VIEWS and share > 0 and share >= SPIKE_RATIO * rest:
                spikes.append(Moment(float(row.pct_of_duration), share, f"replays {share * 100:.0f}%"))
    return RetentionMoments(early, early_pct, sorted(drops, key=lambda m: m.pct), spikes)


def chapter_marks(chapters: list[dict[str, Any]] | None, duration_s: float | None) -> list[tuple[float, str]]:
    """(percent of the video, title) for each chapter start; nothing without a duration."""
    if not chapters or not duration_s or duration_s <= 0:
        return []
    marks = []
    for chapter in chapters:
        try:
            start = float(chapter.get("start_s", 0))
        except (TypeError, ValueError):
            continue
        if 0 <= start <= duration_s:
            marks.append((round(start / duration_s * 100, 2), str(chapter.get("title", ""))))
    return sorted(marks)


def flag_stalled(
    students: pd.DataFrame, *, now: datetime, lessons_in_course: dict[int, int], days: int = STALL_DAYS
) -> pd.DataFrame:
    """Add `last_activity`, `progress` and `stalled`: started, not finished, nothing for `days` days."""
    out = students.copy()
    if out.empty:
        return out.assign(last_activity=pd.Series(dtype="datetime64[us, UTC]"), progress=[], stalled=[])
    activity = pd.concat(
        [pd.to_datetime(out["last_view_at"], utc=True), pd.to_datetime(out["last_progress_at"], utc=True)], axis=1
    ).max(axis=1)
    totals = out["course_id"].map(lessons_in_course).astype("float64")
    out["last_activity"] = activity
    out["progress"] = (out["lessons_completed"] / totals.where(totals > 0)).astype("float64")
    started = out["lessons_started"] > 0
    unfinished = out["lessons_completed"] < totals.fillna(0)
    idle = activity.isna() | (activity < pd.Timestamp(now - timedelta(days=days)))
    out["stalled"] = started & unfinished & idle
    return out

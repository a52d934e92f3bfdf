"""View model of the status page: one row per part, and what to say about the parts that are down."""

from __future__ import annotations

import pandas as pd

from core.status import PartStatus


def status_frame(statuses: list[PartStatus]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "part": [s.part for s in statuses],
            # Plain words: table cells render no icons, and emoji need a font the machine may not have.
            "state": ["running" if s.ok else "not running" for s in statuses],
            "detail": [s.detail for s in statuses],
            "latency (ms)": [s.latency_ms for s in statuses],
        }
    )


def down_note(statuses: list[PartStatus], *, admin: bool) -> str | None:
    """The parts not running (admins also read how to start them all), or None when all run."""
    down = [s.part for s in statuses if not s.ok]
    if not down:
        return None
    return "Not running: " + ", ".join(down) + (". `make demo` starts every part with sample data." if admin else ".")

"""What `lectern demo` prepares, in order: the sample data's steps, each a command line with a title.

`lectern demo` (lectern/commands/demo.py) runs these: the steps marked `before_dashboard` first (they must be
quick: the dashboard answers within seconds of the start), the rest in the background while the dashboard
is already up, with their progress shown on the page and in the terminal. Each step is idempotent: a second
demo start finds its work done and skips it (`needed` answers False, or the command itself does nothing).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

# Settings every demo process gets on top of the demo's own (lectern/commands/demo.py), e.g. a monthly budget
# the sample data's spending comes near, so the budget alert has something to say.
DEMO_SETTINGS: dict[str, str] = {}


def _always() -> bool:
    return True


@dataclass(frozen=True)
class Step:
    key: str  # a short stable name (progress file, logs)
    title: str  # what a user reads: in the terminal and on the dashboard's progress note
    argv: tuple[str, ...]
    before_dashboard: bool = False
    needed: Callable[[], bool] = field(default=_always, compare=False)
    # Its standard output, one line per item, is what the banner lists (the staged failures).
    reports_staged: bool = False


def lectern(*args: str) -> tuple[str, ...]:
    return (sys.executable, "-m", "lectern", *args)


def _no_views(emulator_url: str) -> Callable[[], bool]:
    def needed() -> bool:
        views = httpx.get(f"{emulator_url}/_emulator/views", timeout=10).json()["data"]
        return not views.get("views")

    return needed


def preparation_steps(*, emulator_url: str, var: Path) -> list[Step]:
    """The sample data, from an empty platform database and emulator to a loaded warehouse."""
    return [
        Step(
            "seed",
            "seeding sample data (platform DB, S3 lesson videos)",
            lectern("seed", "--if-empty"),
            before_dashboard=True,
        ),
        *(
            Step(
                f"migrate-course-{course}",
                f"migrating course {course}'s S3 videos to Mux (the emulator)",
                lectern("migrate", "start", "--course", course, "--run"),
            )
            for course in ("1", "2")
        ),
        Step(
            "simulate",
            "simulating 90 days of students watching the Mux lessons",
            lectern("emulator", "simulate", "--days", "90", "--views", "15000", "--seed", "7", "--no-progress"),
            needed=_no_views(emulator_url),
        ),
        Step(
            "incidents",
            "staging failures for Admin > Operations (an upload, playback, an orphaned asset)",
            (sys.executable, "-m", "lectern.demo_incidents", str(var)),
            reports_staged=True,
        ),
        Step(
            "sync",
            "loading Mux Data, delivery usage and the platform into the warehouse; evaluating the alerts",
            lectern("sync", "once"),
        ),
    ]

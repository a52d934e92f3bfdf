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

from lectern.sample_data import live_migration_course

# Settings every demo process gets on top of the demo's own (lectern/commands/demo.py):
# - a monthly budget the sample history's spending comes near, so the budget alert has something to say;
# - Mux's own default video quality (plus), whose encoding is billed: the migration waves and today's live
#   migration show up as encoding costs (basic encoding is free).
# - the migration worker checking on its assets every second (not every 5): today's live migration of one
#   course finishes while the demo starts.
DEMO_SETTINGS: dict[str, str] = {
    "LECTERN_MONTHLY_BUDGET_USD": "300",
    "MUX_VIDEO_QUALITY": "plus",
    "LECTERN_MIGRATION_POLL_S": "1",
}
# Simulated Mux Data views over the history: by its last month well past Mux's 100,000 free minutes.
HISTORY_DAYS = 90
HISTORY_VIEWS = 90_000


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
    """The sample data, from an empty platform database and emulator to a loaded warehouse.

    `seed` writes the platform (a second or two); `media` makes the sample lesson videos (cached in
    var/sample-media) and fills S3; `history` brings the months of lessons that moved to Mux into the emulator
    and the platform DB; `simulate` adds Mux Data views of them by their enrolled students; then today's
    migration of one course runs live, the failures are staged and the sync loads the warehouse.
    """
    live = str(live_migration_course())
    return [
        Step(
            "seed",
            "seeding the sample platform (25 courses, about 300 lessons, 2,400 students)",
            lectern("seed", "--if-empty", "--no-media", "--history", str(var / "sample-history.json")),
            before_dashboard=True,
        ),
        Step(
            "media",
            "making the sample lesson videos and putting the S3 lessons' files in S3",
            lectern("seed", "--only-media"),
        ),
        Step(
            "history",
            "recreating three months on Mux: migration waves and teachers' uploads (the emulator's assets)",
            (sys.executable, "-m", "lectern.sample_history", str(var)),
        ),
        Step(
            "simulate",
            f"simulating {HISTORY_DAYS} days of students watching the Mux lessons (Mux Data, delivery usage)",
            lectern(
                "emulator",
                "simulate",
                *("--days", str(HISTORY_DAYS), "--views", str(HISTORY_VIEWS), "--seed", "7"),
                "--respect-dates",
            ),
            needed=_no_views(emulator_url),
        ),
        Step(
            f"migrate-course-{live}",
            f"migrating course {live}'s S3 videos to Mux, live (the emulator)",
            lectern("migrate", "start", "--course", live, "--run"),
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

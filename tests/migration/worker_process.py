"""A migration worker in its own process, for crash tests: settings from the environment, run until idle.

With MIGRATION_TEST_CRASH_AT=<point> the process dies with `os._exit(137)` the first time a job reaches
that point: no exception handler, no `finally`, no release, no last heartbeat — as with `kill -9`.
"""

from __future__ import annotations

import os

from core.container import Lectern
from core.logging import configure_logging
from core.migration.jobs import JobView
from core.settings import load_settings


def main() -> None:
    settings = load_settings()
    configure_logging("INFO", json_lines=False)  # on stderr: a failing test shows what the worker did
    crash_point = os.environ.get("MIGRATION_TEST_CRASH_AT")

    def hook(point: str, job: JobView) -> None:
        if point == crash_point:
            os._exit(137)

    with Lectern.from_settings(settings) as lectern:  # as `lectern migrate worker` builds it
        worker = lectern.migration_worker(hook=hook)
        try:
            worker.run(until_idle=True)
        finally:
            worker.close()


if __name__ == "__main__":
    main()

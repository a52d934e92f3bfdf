"""The demo's data preparation, step by step, in a JSON file: written by `lectern demo`, read by the dashboard.

`lectern demo` prepares its sample data in the background while the dashboard already answers
(lectern/demo_plan.py); the dashboard shows a note on every page from this file (dashboard/demo_progress_note.py).
The file is replaced atomically (a temporary file in the same directory, then `os.replace`), so a reader sees
the previous state or the next, never half of one. Its path reaches every demo process as
LECTERN_DEMO_PROGRESS_FILE; a process without that setting (any install but the demo) shows nothing.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

StepState = Literal["pending", "running", "done", "failed"]
# preparing: a step is running or about to; done: every step finished; failed: a step failed (the rest did not
# run); stopped: the demo ended before its preparation did.
PreparationState = Literal["preparing", "done", "failed", "stopped"]
FILE_NAME = "demo-progress.json"


@dataclass(frozen=True)
class StepProgress:
    key: str
    title: str
    state: StepState = "pending"
    started_at: float | None = None  # Unix time
    ended_at: float | None = None
    log: str | None = None  # where the step's output goes


@dataclass(frozen=True)
class DemoProgress:
    state: PreparationState
    started_at: float  # when the demo started preparing (Unix time)
    steps: tuple[StepProgress, ...] = ()
    ended_at: float | None = None
    updated_at: float = field(default_factory=time.time)

    @property
    def current(self) -> tuple[int, StepProgress] | None:
        """(1-based number, step) of the step running, failed, or next to run; None when all are done."""
        for number, step in enumerate(self.steps, 1):
            if step.state != "done":
                return number, step
        return None

    @property
    def failed_step(self) -> tuple[int, StepProgress] | None:
        return next(((n, s) for n, s in enumerate(self.steps, 1) if s.state == "failed"), None)

    @property
    def finished_steps(self) -> int:
        return sum(step.state == "done" for step in self.steps)

    def with_step(self, key: str, **changes: Any) -> DemoProgress:
        if all(step.key != key for step in self.steps):
            raise KeyError(key)
        steps = tuple(replace(step, **changes) if step.key == key else step for step in self.steps)
        return replace(self, steps=steps, updated_at=time.time())

    def ended(self, state: PreparationState) -> DemoProgress:
        now = time.time()
        return replace(self, state=state, ended_at=now, updated_at=now)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> DemoProgress:
        steps = tuple(StepProgress(**step) for step in doc.get("steps", []))
        return cls(
            state=doc["state"],
            started_at=float(doc["started_at"]),
            steps=steps,
            ended_at=doc.get("ended_at"),
            updated_at=float(doc.get("updated_at", doc["started_at"])),
        )


def write_progress(path: Path, progress: DemoProgress) -> None:
    """Replace the file at `path` with `progress` in one step (readers never see a partial file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(progress.to_json(), fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_progress(path: Path) -> DemoProgress | None:
    """The preparation's state, or None when there is no file or it does not parse (nothing to show)."""
    try:
        return DemoProgress.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None

"""Running the demo's preparation steps (lectern/demo_plan.py): one child process each, its output in a log,
its progress in the terminal (a line as it starts and ends) and in the progress file the dashboard shows
(core/demo_progress.py).

`lectern demo` runs the steps the dashboard waits for in the foreground and the rest in a thread while the
dashboard already answers; `stop` (Ctrl-C) ends the step running and marks the preparation stopped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from core.demo_progress import DemoProgress, StepProgress, read_progress, write_progress
from lectern.demo_plan import Step

ROOT = Path(__file__).resolve().parents[1]
LOG_TAIL_LINES = 15  # of a failed step's output, printed in the terminal


class Preparation:
    """The steps of one demo start, numbered 1..n in the plan's order, and what they reported."""

    def __init__(
        self, steps: Sequence[Step], *, env: dict[str, str], logs: Path, progress_file: Path, say: Callable[[str], None]
    ) -> None:
        self.steps = list(steps)
        self.env = env
        self.progress_file = progress_file
        self.say = say
        self.staged: list[str] = []  # the staged failures' lines, for the banner
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._current: subprocess.Popen[str] | None = None
        # What the previous start left, read before this start overwrites it.
        self.previous = read_progress(progress_file)
        self.progress = DemoProgress(
            state="preparing",
            started_at=time.time(),
            steps=tuple(StepProgress(s.key, s.title, log=str(logs / f"prepare-{s.key}.log")) for s in self.steps),
        )
        self._save()

    def before_dashboard_done_before(self) -> bool:
        """Whether an earlier start finished every step the dashboard waits for (its data is in place)."""
        if self.previous is None:
            return False
        done = {step.key for step in self.previous.steps if step.state == "done"}
        return all(step.key in done for step in self.steps if step.before_dashboard)

    def run(self, steps: Sequence[Step]) -> bool:
        """Run `steps` in order; False (and the rest not run) when one fails or the demo stops."""
        return all(self._run_one(step) for step in steps)

    def finish(self) -> None:
        with self._lock:
            if self.progress.state == "preparing":
                self.progress = self.progress.ended("done")
                self._save()

    def fail(self, step: Step, reason: str) -> None:
        """Mark `step` failed for a reason outside its own command (e.g. the API never answered)."""
        log = self._log_path(step)
        log.write_text(reason + "\n")
        self._failed(step, reason)

    def stop(self) -> None:
        """End the step running (its process group) and mark an unfinished preparation stopped."""
        self.stopping.set()
        with self._lock:
            proc = self._current
            if self.progress.state == "preparing":
                self.progress = self.progress.ended("stopped")
                self._save()
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def number(self, step: Step) -> str:
        return f"[{self.steps.index(step) + 1}/{len(self.steps)}]"

    def _run_one(self, step: Step) -> bool:
        if self.stopping.is_set():
            return False
        started = time.time()
        self._update(step, state="running", started_at=started)
        self.say(f"{self.number(step)} {step.title}…")
        log = self._log_path(step)
        with log.open("w") as out:
            try:
                needed = step.needed()
            except Exception as exc:  # the check itself failed (e.g. the emulator did not answer): report it
                out.write(f"checking whether this step is needed failed: {exc!r}\n")
                needed = None
            if needed is None:
                returncode: int | None = None
            elif not needed:
                self._update(step, state="done", ended_at=time.time())
                self.say(f"{self.number(step)} already done")
                return True
            else:
                returncode = self._execute(step, out)
        if self.stopping.is_set():
            return False
        if returncode != 0:
            self._failed(
                step, "it could not check whether it was needed" if returncode is None else f"exit {returncode}"
            )
            return False
        self._update(step, state="done", ended_at=time.time())
        self.say(f"{self.number(step)} done in {time.time() - started:.1f} s")
        return True

    def _execute(self, step: Step, out: TextIO) -> int:
        with self._lock:
            if self.stopping.is_set():
                return -1
            proc = subprocess.Popen(
                list(step.argv),
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=out,
                text=True,
                start_new_session=True,  # Ctrl-C reaches the demo only; `stop` ends the step
            )
            self._current = proc
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(line)
            out.flush()
            if step.reports_staged and line.strip():
                self.staged.append(line.rstrip("\n"))
        returncode = proc.wait()
        with self._lock:
            self._current = None
        return returncode

    def _failed(self, step: Step, reason: str) -> None:
        self._update(step, state="failed", ended_at=time.time())
        with self._lock:
            self.progress = self.progress.ended("failed")
            self._save()
        log = self._log_path(step)
        tail = log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:] if log.exists() else []
        self.say(f"{self.number(step)} failed ({reason}); its output is in {log}" + "".join(f"\n    {t}" for t in tail))

    def _log_path(self, step: Step) -> Path:
        [entry] = [s for s in self.progress.steps if s.key == step.key]
        assert entry.log is not None
        return Path(entry.log)

    def _update(self, step: Step, **changes: object) -> None:
        with self._lock:
            if self.progress.state in ("preparing", "failed"):
                self.progress = self.progress.with_step(step.key, **changes)
                self._save()

    def _save(self) -> None:
        write_progress(self.progress_file, self.progress)

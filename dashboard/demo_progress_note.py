"""The note on every page while `lectern demo` still prepares its sample data (core/demo_progress.py).

It says which step runs (i of n, its title, how long so far) and refreshes itself every few seconds; each time
a step ends the whole page runs again, so the page fills in as the data lands. When the preparation is done the
note goes. A failed step is named with the file holding its output. Outside the demo (no
LECTERN_DEMO_PROGRESS_FILE) nothing shows and nothing polls.
"""

from __future__ import annotations

import time
from pathlib import Path

import streamlit as st

from core.demo_progress import DemoProgress, read_progress
from dashboard import context
from dashboard.views.display import Tone

REFRESH_S = 2
SEEN_KEY = "demo_progress_seen"  # (state, steps finished) this session last drew its page with


def duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"


def note(progress: DemoProgress | None, now: float) -> tuple[Tone, str] | None:
    """What the note says (tone, Markdown), or None when there is nothing to say."""
    if progress is None or progress.state in ("done", "stopped"):
        return None
    total = len(progress.steps)
    if progress.state == "failed":
        failed = progress.failed_step
        if failed is None:
            return "error", "Preparing the sample data failed; the demo's terminal says why."
        number, step = failed
        where = f" Its output is in `{step.log}`." if step.log else ""
        return (
            "error",
            f"Preparing the sample data stopped: step {number} of {total} ({step.title}) failed.{where} "
            "The pages show what was loaded before it.",
        )
    current = progress.current
    if current is None:
        return "info", "Sample data: finishing…"
    number, step = current
    running = f", {duration(now - step.started_at)} so far" if step.started_at is not None else ""
    return (
        "info",
        f"Preparing the sample data: step {number} of {total}, {step.title}{running} "
        f"(started {duration(now - progress.started_at)} ago). Pages fill in as the data lands.",
    )


def _progress_file() -> Path | None:
    return context.settings().demo_progress_file


def _seen(progress: DemoProgress | None) -> tuple[str, int] | None:
    return None if progress is None else (progress.state, progress.finished_steps)


def _draw(progress: DemoProgress | None) -> None:
    said = note(progress, time.time())
    if said is not None:
        tone, text = said
        {"error": st.error, "info": st.info}.get(tone, st.info)(text)


@st.fragment(run_every=REFRESH_S)
def _live(path: Path) -> None:
    progress = read_progress(path)
    if _seen(progress) != st.session_state.get(SEEN_KEY):
        st.rerun(scope="app")  # a step ended: the page runs again with the new data (and the note redrawn)
    _draw(progress)


def show() -> None:
    """Draw the note where it is called (a live fragment while the preparation runs)."""
    path = _progress_file()
    if path is None:
        return
    progress = read_progress(path)
    st.session_state[SEEN_KEY] = _seen(progress)
    if progress is not None and progress.state == "preparing":
        _live(path)
    else:
        _draw(progress)

"""Admin > Migration (headless AppTest): plan table, start, pause/resume, retry, live progress; admins only."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.db.engine import transaction
from dashboard.auth import SESSION_KEY, SignedInUser
from dashboard.charts import migration as charts
from tests.factories import make_user
from tests.migration.helpers import MigrationEnv, settings_env

PAGE = str(Path(__file__).resolve().parents[2] / "dashboard" / "pages" / "admin_migration.py")


@pytest.fixture
def env(sqlite_env: MigrationEnv) -> MigrationEnv:
    """The page is a thin layer over MigrationService (tested on both databases): SQLite is enough here."""
    return sqlite_env


@pytest.fixture
def page(env: MigrationEnv, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    for name, value in settings_env(env.settings).items():
        monkeypatch.setenv(name, value)
    st.cache_data.clear()
    st.cache_resource.clear()

    def open_as(role: str) -> AppTest:
        with transaction(env.session_factory) as s:
            user = make_user(s, role=role)
            signed_in = SignedInUser(user.id, user.email, user.name, role)
        at = AppTest.from_file(PAGE, default_timeout=30)
        at.session_state[SESSION_KEY] = signed_in
        return at.run()

    yield open_as
    st.cache_data.clear()
    st.cache_resource.clear()


def _button(at: AppTest, label: str):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if b.label.startswith(label))


def test_admins_plan_start_pause_and_watch(page, env: MigrationEnv, clips: list[Path], corrupt: Path) -> None:  # type: ignore[no-untyped-def]
    good = env.add_lesson(clips[0])
    bad = env.add_lesson(corrupt)
    at = page("admin")
    assert not at.exception
    table = at.dataframe[0].value
    assert sorted(table["lesson_id"]) == [good, bad] and set(table["status"]) == {"ready"}
    assert any("2 lessons movable" in c.value for c in at.caption)
    assert any("No migration jobs yet" in c.value for c in at.caption)
    assert _button(at, "Pause").disabled and _button(at, "Cancel").disabled and _button(at, "Retry").disabled

    _button(at, "Start 2 lessons").click()
    at = at.run()
    assert any("Queued 2 new" in s.value for s in at.success)
    assert {j.state for j in env.store.list()} == {"queued"}
    assert any("no worker is running" in w.value for w in at.warning)
    # The plan drops what was started (no S3 listing again), and the controls follow the state.
    assert len(at.dataframe) == 1  # only the jobs table: no plan rows left to start
    assert any(c.value.startswith("2 lessons are moving") for c in at.caption)
    assert not _button(at, "Pause").disabled and not _button(at, "Cancel").disabled
    assert _button(at, "Retry").disabled
    cards = {m.label: m for m in at.metric}
    assert cards["Time left"].value == "—" and "lectern migrate worker" in cards["Time left"].help

    _button(at, "Pause").click()
    at = at.run()
    assert env.store.paused() and any(b.label == "Resume" for b in at.button)
    _button(at, "Resume").click()
    at = at.run()
    assert not env.store.paused()

    env.run_worker()
    at = at.run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Done"] == "1 / 2" and metrics["Failed"] == "1"
    jobs = at.dataframe[-1].value
    failed = jobs[jobs["state"] == "failed"].iloc[0]
    assert failed["lesson_id"] == bad and "Mux could not process the video" in failed["error"]
    assert len(at.get("plotly_chart")) == 2

    assert not _button(at, "Retry").disabled
    assert "ingest_mode" in jobs.columns and "stored_min_months" not in jobs.columns
    config = json.loads(at.dataframe[-1].proto.columns)
    assert config["ingest_mode"]["label"] == "how Mux gets it" and config["lesson_id"]["label"] == "lesson ID"

    _button(at, "Retry failed").click()
    at = at.run()
    assert env.job(bad).state == "queued"
    assert any("Queued 1 failed jobs again." in s.value for s in at.success)


def test_the_page_is_for_admins_only(page) -> None:  # type: ignore[no-untyped-def]
    at = page("teacher")
    assert any("for admin accounts" in e.value for e in at.error)
    assert not at.dataframe and not at.button


def test_charts_are_pure_functions_of_frames() -> None:
    states = charts.state_frame({"done": 3, "failed": 1, "queued": 2})
    assert list(states["state"])[:2] == ["done", "failed"] and states["jobs"].sum() == 6
    fig = charts.states_bar(states)
    assert [t.x[0] for t in fig.data] == list(states["jobs"])
    timeline = pd.DataFrame(
        {"minute": pd.date_range("2026-01-01", periods=3, freq="min"), "done": [1, 0, 2], "failed": [0, 1, 0]}
    )
    assert [list(t.y) for t in charts.throughput(timeline).data] == [[1, 0, 2], [0, 1, 0]]

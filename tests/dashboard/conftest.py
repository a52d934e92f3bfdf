"""Dashboard fixtures: the fixed two-teacher world, AppTest runs signed in as any role, and the browser gate.

Browser tests need Debian's Chromium at /usr/bin/chromium (`make chromium` installs it).
Without it they skip with the reason — except under CI=true, where a missing browser fails the run.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest, app_test

from dashboard.auth import SESSION_KEY, SignedInUser
from tests.dashboard.world import World, build_world

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
CHROMIUM = os.environ.get("LECTERN_CHROMIUM", "/usr/bin/chromium")
VENDOR = Path(__file__).resolve().parents[2] / "dashboard" / "static" / "vendor"


class _NavigationPages(PagesManager):
    """AppTest re-detects the old `pages/` directory mode before every run; the real server switches it off
    at the first `st.navigation` call. Switch it off here too, so reruns go through app.py's navigation."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        PagesManager.uses_pages_directory = False


@pytest.fixture(autouse=True)
def _navigation_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_test, "PagesManager", _NavigationPages)


_SETTINGS_PREFIXES = ("LECTERN_", "MUX_", "S3_", "AWS_", "DATABASE_URL")
_cached_for: dict[str, str] | None = None


def fresh_caches_if_settings_changed() -> None:
    """Streamlit's caches live in the process: drop them when a test runs the app with other settings.

    Tests with the same settings share them (as one server process would), which also means a result
    cached for one teacher is there when the next test signs in as another: scope must hold anyway.
    """
    global _cached_for
    current = {k: v for k, v in os.environ.items() if k.startswith(_SETTINGS_PREFIXES)}
    if current != _cached_for:
        st.cache_data.clear()
        st.cache_resource.clear()
        _cached_for = current


def new_app(script: str = APP, who: str | None = None, world: World | None = None) -> AppTest:
    """An AppTest for `script`, signed in as a world user (role from the name), caches checked."""
    fresh_caches_if_settings_changed()
    at = AppTest.from_file(script, default_timeout=30)
    if who is not None:
        assert world is not None
        role = "teacher" if who.startswith("teacher") else who
        at.session_state[SESSION_KEY] = SignedInUser(world.users[who], world.emails[who], who, role)
    return at


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("dashboard-world"))


@pytest.fixture
def dashboard_env(world: World, monkeypatch: pytest.MonkeyPatch) -> World:
    """Settings for the dashboard process (read by context.settings()) pointing at the world."""
    for name, value in world.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("S3_ENDPOINT_URL", "http://127.0.0.1:9")  # presigning never connects
    monkeypatch.setenv("S3_BUCKET", "lessons")
    monkeypatch.setenv("LECTERN_CORS_ORIGIN", "http://dashboard.test:8501")
    for name in ("MUX_TOKEN_ID", "MUX_TOKEN_SECRET", "MUX_SIGNING_KEY_ID", "MUX_SIGNING_PRIVATE_KEY"):
        monkeypatch.delenv(name, raising=False)
    return world


AppFactory = Callable[..., AppTest]


@pytest.fixture
def app(dashboard_env: World) -> AppFactory:
    """`app("teacher_a", page="pages/upload.py", lesson=3)`: an AppTest signed in as a world user, run once."""

    def start(who: str | None = None, *, page: str | None = None, **query: object) -> AppTest:
        at = new_app(APP, who, dashboard_env)
        if page is not None:
            at.switch_page(page)  # before the first run: the page's path is enough to find it
        for key, value in query.items():
            at.query_params[key] = str(value)
        return at.run()

    return start


def page_text(at: AppTest) -> str:
    """Every string the page shows (markdown, captions, alerts, titles, metric labels, widget labels/options)."""
    parts: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    for box in at.selectbox:
        parts += [box.label, *[str(o) for o in box.options]]
    for frame in at.dataframe:
        parts.append(frame.value.to_csv())
    for element in at.get("iframe"):
        parts.append(str(element.proto.srcdoc))
    return "\n".join(parts)


def chromium_missing_reason() -> str | None:
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"Chromium not found at {CHROMIUM} (run `make chromium`, or set LECTERN_CHROMIUM)"
    if not (VENDOR / "mux-player.mjs").is_file() or not (VENDOR / "mux-uploader.mjs").is_file():
        return "Mux web components not vendored (run scripts/install_web_components.sh)"
    return None


@pytest.fixture(scope="session")
def chromium_path() -> str:
    reason = chromium_missing_reason()
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser tests must run under CI=true: {reason}")
        pytest.skip(reason)
    return CHROMIUM

"""`lectern demo` driven from the outside, as a newcomer meets it: started on free ports under its own directory,
waited on until its sample data is prepared, then every page of every role's navigation opened in headless
Chromium, keeping what each page shows and every request it makes.

The must-show browser test (tests/demo/) checks what a walk keeps; `python -m tools.screenshots` saves a picture
of each page. Both move between pages through the sidebar, as a user does: loading a page's URL opens a new
Streamlit session, which is signed out.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("LECTERN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
    "--mute-audio",
    "--autoplay-policy=no-user-gesture-required",
]
ROLES = ("teacher", "admin", "analyst")
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
# Settings the demo makes for itself: inherited ones (a test run's DATABASE_URL, a developer's MUX_*) would point
# its processes somewhere else.
_SETTING_PREFIXES = ("LECTERN_", "MUX_", "S3_", "AWS_", "DATABASE_URL", "PROMETHEUS_")
PROGRESS_FILE = "demo-progress.json"
# What the demo prints once it is up when it prepares everything before its banner (no progress file).
BANNER = "Lectern is running."
# Every text node of the app, one string each (table cells, chart labels and captions apart), scripts left out.
_TEXTS_JS = """root => {
  const out = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {acceptNode: node =>
    node.parentElement && node.parentElement.closest('script, style, noscript')
      ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
  while (walker.nextNode()) {
    const text = walker.currentNode.textContent.trim();
    if (text) out.push(text);
  }
  return out;
}"""
# A navigation link's title: its text without its icon's (a Material Symbols ligature name, "upload").
_LINK_TITLE_JS = """link => {
  const copy = link.cloneNode(true);
  copy.querySelectorAll('[data-testid="stIconMaterial"], [data-testid="stIconEmoji"]').forEach(i => i.remove());
  return copy.textContent.trim();
}"""
# Charts draw after the script run that sent them ends, in their own lazily loaded bundle.
_DRAWN_JS = """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
  .every(chart => chart.querySelector('.main-svg'))
  && !document.querySelector('[data-testid="stSkeleton"], [data-testid="stSpinner"]')"""


def free_ports(count: int) -> list[int]:
    """`count` distinct ports free on 127.0.0.1 (held together while picked, so none is picked twice)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass(frozen=True)
class DemoPorts:
    api: int
    dashboard: int
    emulator: int
    s3: int

    @classmethod
    def free(cls) -> DemoPorts:
        return cls(*free_ports(4))

    def options(self) -> list[str]:
        return [
            *("--api-port", str(self.api), "--dashboard-port", str(self.dashboard)),
            *("--emulator-port", str(self.emulator), "--s3-port", str(self.s3)),
        ]

    def in_use(self) -> list[int]:
        return [port for port in (self.api, self.dashboard, self.emulator, self.s3) if port_in_use(port)]


@dataclass(frozen=True)
class Account:
    role: str
    email: str
    password: str


def is_local(url: str) -> bool:
    """True for a request that stays on this machine (127.0.0.1 or localhost), or carries its data inline."""
    parsed = urlparse(url)
    if parsed.scheme in ("data", "blob", "about", "chrome", "chrome-extension"):
        return True
    return (parsed.hostname or "") in LOCAL_HOSTS


@dataclass
class Demo:
    """A `lectern demo` process started with its own directory and ports (`start`), or one already running."""

    var: Path
    ports: DemoPorts
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0  # time.monotonic() at `start`
    started_wall: float = 0.0  # time.time() at `start`: a progress file older than that is the previous run's

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.dashboard}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.api}"

    @property
    def emulator_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.emulator}"

    @property
    def s3_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.s3}"

    @property
    def output_path(self) -> Path:
        return self.var / "demo-output.log"

    def start(self, *options: str) -> None:
        """`lectern demo --var ... --*-port ...` in its own session: a SIGINT from `stop` reaches only the demo."""
        self.var.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(_SETTING_PREFIXES)}
        env["COLUMNS"] = "200"  # a log, not a terminal: long lines stay whole
        argv = [sys.executable, "-m", "lectern", "demo", "--var", str(self.var), *self.ports.options(), *options]
        with self.output_path.open("wb") as out:
            self.proc = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.started_at, self.started_wall = time.monotonic(), time.time()

    def output(self) -> str:
        return self.output_path.read_text(errors="replace") if self.output_path.exists() else ""

    def progress(self) -> dict[str, Any] | None:
        """This run's preparation progress file (replaced atomically, so whole or absent), once it writes one."""
        path = self.var / PROGRESS_FILE
        try:
            doc: dict[str, Any] = json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        if float(doc.get("started_at", 0)) < self.started_wall - 1:
            return None  # the previous run's, until this one writes its own
        return doc

    def prepared(self) -> bool:
        """True once the sample data is prepared; raises when the demo exited or its preparation failed."""
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"the demo exited with {self.proc.returncode}:\n{self.output()[-4000:]}")
        progress = self.progress()
        if progress is not None:
            if progress.get("state") in ("failed", "stopped"):
                raise RuntimeError(f"the demo's preparation {progress['state']}: {json.dumps(progress)[:2000]}")
            return bool(progress.get("state") == "done")
        return BANNER in self.output()

    def wait_prepared(self, timeout: float) -> float:
        """Wait until the data is prepared and the dashboard answers; returns the seconds since `start`."""
        deadline = time.monotonic() + timeout
        while not (self.prepared() and self.dashboard_answers()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the demo was not prepared within {timeout:.0f} s:\n{self.output()[-4000:]}")
            time.sleep(0.5)
        return time.monotonic() - self.started_at

    def dashboard_answers(self) -> bool:
        try:
            return httpx.get(f"{self.dashboard_url}/_stcore/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self, timeout: float = 60) -> int:
        """Ctrl-C, as a user stops it; returns its exit status."""
        if self.proc is None:
            raise RuntimeError("this demo was not started here")
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=timeout)

    def accounts(self) -> dict[str, Account]:
        """The first demo sign-in of each role (`lectern seed` writes them: role, email, password per line)."""
        found: dict[str, Account] = {}
        for line in (self.var / "demo-accounts.txt").read_text().splitlines():
            parts = line.split()
            if len(parts) == 3:
                found.setdefault(parts[0], Account(*parts))
        return found

    def settings(self) -> dict[str, str]:
        """The demo's own settings (var/demo-shell.env: what every demo process was given)."""
        pairs = (line.split("=", 1) for line in (self.var / "demo-shell.env").read_text().splitlines() if "=" in line)
        return {k: v.strip("'") for k, v in pairs}


@contextlib.contextmanager
def running_demo(var: Path, ports: DemoPorts | None = None, *, timeout: float = 900) -> Iterator[Demo]:
    """A demo started under `var`, prepared; stopped on the way out if still running."""
    demo = Demo(var, ports or DemoPorts.free())
    demo.start()
    try:
        demo.wait_prepared(timeout)
        yield demo
    finally:
        if demo.proc is not None and demo.proc.poll() is None:
            demo.stop()


@dataclass
class PageVisit:
    role: str
    title: str
    url: str
    texts: list[str]  # every text the page shows, one string per text node
    errors: list[str]  # Streamlit's error boxes and exceptions
    metrics: dict[str, str]  # metric card label -> value
    requests: list[str] = field(default_factory=list)  # every URL the browser asked for while the page was open
    seconds: float = 0.0

    @property
    def external_requests(self) -> list[str]:
        return sorted({url for url in self.requests if not is_local(url)})


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class DashboardSession:
    """One browser context signed in as one account: its role's pages, one at a time, every request recorded."""

    def __init__(self, browser: Any, base_url: str, *, width: int = 1400, height: int = 1000) -> None:
        self.base_url = base_url
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.requests: list[str] = []
        self.context.on("request", lambda request: self.requests.append(request.url))
        self.page = self.context.new_page()
        self.page.on("websocket", lambda ws: self.requests.append(ws.url))
        self.page.set_default_timeout(60_000)

    def close(self) -> None:
        self.context.close()

    def __enter__(self) -> DashboardSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open_sign_in(self) -> PageVisit:
        started, first = time.monotonic(), len(self.requests)
        self.page.goto(self.base_url)
        self.page.get_by_role("button", name="Sign in").wait_for()
        self.settle()
        return self._visit("signed out", "Sign in", started, first)

    def sign_in(self, account: Account) -> None:
        if not self.page.get_by_role("button", name="Sign in").count():
            self.open_sign_in()
        self.page.get_by_role("textbox", name="Email").fill(account.email)
        self.page.get_by_role("textbox", name="Password").fill(account.password)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.get_by_test_id("stSidebarNav").wait_for()
        self.settle()

    def page_titles(self) -> list[str]:
        """The titles in the sidebar's navigation, in order (a long list is collapsed: it is opened first)."""
        more = self.page.get_by_test_id("stSidebarNavViewButton")
        if more.count() and "more" in more.inner_text().lower():
            more.click()
        links = self.page.get_by_test_id("stSidebarNavLink")
        return [str(links.nth(i).evaluate(_LINK_TITLE_JS)) for i in range(links.count())]

    def visit(self, role: str, title: str) -> PageVisit:
        """Follow the sidebar link `title` and wait until the page has run and drawn."""
        started, first = time.monotonic(), len(self.requests)
        titles = self.page_titles()
        if title not in titles:
            raise LookupError(f"no {title!r} in the navigation: {titles}")
        self.page.get_by_test_id("stSidebarNavLink").nth(titles.index(title)).click()
        self.settle(after_click=True)
        return self._visit(role, title, started, first)

    def settle(self, *, after_click: bool = False) -> None:
        """Wait for the script run to end and its charts to draw."""
        if after_click:  # the rerun a click asks for starts within milliseconds; a page may also be that quick
            with contextlib.suppress(Exception):
                self.page.locator('.stApp:not([data-test-script-state="notRunning"])').wait_for(timeout=2_000)
        self.page.locator('.stApp[data-test-script-state="notRunning"]').wait_for()
        self.page.wait_for_function(_DRAWN_JS)

    def _visit(self, role: str, title: str, started: float, first_request: int) -> PageVisit:
        app = self.page.locator(".stApp")
        texts: list[str] = app.evaluate(_TEXTS_JS)
        errors = self.page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
        metrics = {}
        for card in self.page.get_by_test_id("stMetric").all():
            label = card.get_by_test_id("stMetricLabel").inner_text().strip()
            metrics[label] = card.get_by_test_id("stMetricValue").inner_text().strip()
        return PageVisit(
            role=role,
            title=title,
            url=self.page.url,
            texts=texts,
            errors=[e.strip() for e in errors.all_inner_texts()],
            metrics=metrics,
            requests=self.requests[first_request:],
            seconds=time.monotonic() - started,
        )

    def screenshot(self, path: Path) -> None:
        """The whole page, however long: the app scrolls inside its main area, so the window grows to fit it."""
        viewport = self.page.viewport_size
        height = self.page.evaluate(
            """() => Math.max(...[...document.querySelectorAll('[data-testid="stMain"], [data-testid="stSidebar"]')]
                 .map(el => el.scrollHeight), document.documentElement.scrollHeight)"""
        )
        self.page.set_viewport_size({"width": viewport["width"], "height": int(height)})
        try:
            self.settle()
            path.parent.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(path), full_page=True)
        finally:
            self.page.set_viewport_size(viewport)

"""`lectern demo`: every part of Lectern on this machine, with sample data, until Ctrl-C.

Starts moto's S3 server, the Mux emulator, the API, the dashboard, the sync scheduler and a migration worker
as child processes (each in its own process group, so Ctrl-C stops all of them and nothing is left behind),
and prepares the sample data (lectern/demo_plan.py): the steps the dashboard needs first, then the dashboard
and the API, then the rest in a background thread while the dashboard already answers, with its progress on
every page and in the terminal. The scheduler and the migration worker start once the preparation is over:
the sync would otherwise load the simulated history half-written, and the worker would race the
preparation's own migration. A second start finds the data in place and starts the dashboard at once.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import typer
from rich.console import Console
from rich.markup import escape

from core.demo_progress import FILE_NAME as PROGRESS_FILE_NAME
from lectern.commands.dashboard import dashboard_argv
from lectern.commands.dashboard import dashboard_env as dashboard_process_env
from lectern.demo_incidents import DEMO_ALERT_RULES
from lectern.demo_plan import DEMO_SETTINGS, Step, preparation_steps
from lectern.demo_preparation import Preparation

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_VAR = ROOT / "var"
# soft_wrap: lines are never broken by us (mid-URL, mid-sentence); the terminal wraps what is too long for it,
# and a pipe or a log gets whole lines.
console = Console(soft_wrap=True)
STOP_S = 10  # how long a child gets to end after SIGTERM


def say(text: str) -> None:
    """One line of plain text (no markup, no highlighting): step titles and paths print as they are."""
    console.print(text, markup=False, highlight=False)


@dataclass(frozen=True)
class DemoPorts:
    api: int = 8000
    dashboard: int = 8501
    emulator: int = 8800
    s3: int = 8900


@dataclass
class Supervisor:
    """Child processes started by the demo; `stop` ends them all (SIGTERM, then SIGKILL). Thread-safe: the
    preparation thread starts the scheduler and the worker; nothing starts once `stop` has begun."""

    logs: Path
    children: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopped: bool = False

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes] | None:
        with self._lock:
            if self._stopped:
                return None
            with (self.logs / f"{name}.log").open("ab") as log:
                proc = subprocess.Popen(
                    argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            self.children.append((name, proc))
            return proc

    def check(self) -> str | None:
        with self._lock:
            children = list(self.children)
        for name, proc in children:
            if proc.poll() is not None:
                return f"{name} exited with code {proc.returncode}; see {self.logs / name}.log"
        return None

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            children = list(self.children)
        for _, proc in reversed(children):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_S
        for _, proc in children:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code < 500
    except httpx.HTTPError:
        return False


def wait_for(ready: Callable[[], bool], what: str, timeout: float = 60.0, supervisor: Supervisor | None = None) -> None:
    """Poll `ready` until it holds; RuntimeError when a child exits first or after `timeout`."""
    deadline = time.monotonic() + timeout
    while not ready():
        # A child that died explains a silent port better than the timeout, and sooner.
        if supervisor and (problem := supervisor.check()):
            raise RuntimeError(problem)
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not answer within {timeout:.0f} s")
        time.sleep(0.2)


def wait_http(url: str, timeout: float = 60.0, supervisor: Supervisor | None = None) -> None:
    wait_for(lambda: answers(url), url, timeout, supervisor)


def dashboard_answers(base: str) -> bool:
    """Streamlit's health check and the app's page both answer (what a browser needs to open it)."""
    try:
        health = httpx.get(f"{base}/_stcore/health", timeout=2.0)
        page = httpx.get(f"{base}/", timeout=2.0)
    except httpx.HTTPError:
        return False
    return health.status_code == 200 and page.status_code == 200 and "<html" in page.text.lower()


def load_env_file(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and not line.startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}


def demo_environment(ports: DemoPorts, var: Path) -> dict[str, str]:
    """Settings for every demo process; secrets are made once and kept in var/demo.env (mode 600).

    Every file a demo process writes lies under `var` (passed as absolute paths, whatever the working directory).
    """
    env_file = var / "demo.env"
    kept = load_env_file(env_file)
    for name in ("MUX_TOKEN_SECRET", "MUX_WEBHOOK_SECRET", "LECTERN_PLATFORM_JWT_SECRET", "LECTERN_PSEUDONYM_KEY"):
        kept.setdefault(name, secrets.token_urlsafe(24))
    env_file.write_text("".join(f"{k}={v}\n" for k, v in kept.items()))
    env_file.chmod(0o600)
    emulator = f"http://127.0.0.1:{ports.emulator}"
    return {
        **os.environ,
        "DATABASE_URL": os.environ.get("DATABASE_URL", f"sqlite:///{var / 'lectern.db'}"),
        "LECTERN_WAREHOUSE_PATH": str(var / "warehouse.duckdb"),
        "MUX_TOKEN_ID": "demo-token",
        "MUX_API_URL": emulator,
        "MUX_STREAM_BASE_URL": f"{emulator}/stream",
        "MUX_IMAGE_BASE_URL": f"{emulator}/image",
        "S3_ENDPOINT_URL": f"http://127.0.0.1:{ports.s3}",
        "S3_BUCKET": "lectern-lessons",
        "AWS_ACCESS_KEY_ID": "demo",
        "AWS_SECRET_ACCESS_KEY": "demo-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "LECTERN_API_URL": f"http://127.0.0.1:{ports.api}",
        # Both names of this machine: the dashboard uploads (and loads its scripts) from whichever the browser used.
        "LECTERN_CORS_ORIGIN": f"http://127.0.0.1:{ports.dashboard},http://localhost:{ports.dashboard}",
        # Local conveniences a production API keeps off: its docs, and /metrics for a scraper on this machine.
        "LECTERN_API_DOCS": "true",
        "LECTERN_METRICS_ALLOW": "127.0.0.0/8",
        # One metrics directory for every demo process: the API's /metrics shows the scheduler and the
        # migration worker too (docs/metrics.md).
        "LECTERN_METRICS_DIR": str(var / "metrics"),
        "PROMETHEUS_MULTIPROC_DIR": str(var / "metrics"),
        "LECTERN_VAR_DIR": str(var),
        "LECTERN_DEMO_PROGRESS_FILE": str(var / PROGRESS_FILE_NAME),
        # The staged failures fire at once and the demo's few uploads count (docs/alerts.md, the rules).
        "LECTERN_ALERT_RULES": os.environ.get("LECTERN_ALERT_RULES", json.dumps(DEMO_ALERT_RULES)),
        **{k: os.environ.get(k, v) for k, v in DEMO_SETTINGS.items()},
        **kept,
    }


def write_shell_env(env: dict[str, str], path: Path, *, inherited: dict[str, str]) -> None:
    """Every setting the demo gave its processes (not what it inherited), as a file `set -a; . FILE` loads.

    So a `lectern` command in another terminal (a token, a sync, a migration) talks to this demo's database,
    emulator and S3. Mode 600: it holds the demo's generated secrets.
    """
    own = {k: v for k, v in env.items() if inherited.get(k) != v}
    path.write_text("".join(f"{k}={shlex.quote(v)}\n" for k, v in sorted(own.items())))
    path.chmod(0o600)


class FirstAnswer:
    """When `answers` first held, seconds after `started`: polled in a thread while the first steps run."""

    def __init__(self, answers: Callable[[], bool], started: float) -> None:
        self.after: float | None = None
        self._answers = answers
        self._started = started
        self._done = threading.Event()
        threading.Thread(target=self._poll, daemon=True).start()

    def _poll(self) -> None:
        while not self._answers():
            time.sleep(0.2)
        self.after = time.monotonic() - self._started
        self._done.set()

    def check(self) -> bool:
        return self._done.is_set()


def dashboard_env(env: dict[str, str]) -> dict[str, str]:
    """What `lectern dashboard` gives Streamlit; the demo starts Streamlit itself (one interpreter, not two)."""
    from core.client_address import parse_networks

    proxies = [item.strip() for item in env.get("LECTERN_TRUSTED_PROXIES", "").split(",") if item.strip()]
    return dashboard_process_env(env, parse_networks(proxies))


def lectern(*args: str) -> list[str]:
    return [sys.executable, "-m", "lectern", *args]


def shown(path: Path) -> str:
    """`path` as the user would type it: relative to the working directory when inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def ensure_signing_key(env: dict[str, str], var: Path, emulator_url: str) -> None:
    """Create a signing key in the emulator once (Mux's System API); its id and private key join var/demo.env.

    Asked here over HTTP rather than by `lectern mux signing-key create`: a second interpreter would cost the
    first start a few seconds, and the API and the dashboard wait for the key.
    """
    if env.get("MUX_SIGNING_KEY_ID"):
        return
    say("creating a Mux signing key for private lessons")
    response = httpx.post(
        f"{emulator_url}/system/v1/signing-keys", auth=(env["MUX_TOKEN_ID"], env["MUX_TOKEN_SECRET"]), timeout=30
    )
    if response.status_code != 201 and response.status_code != 200:
        raise RuntimeError(f"creating a Mux signing key failed ({response.status_code}): {response.text[:500]}")
    key = response.json()["data"]
    created = {"MUX_SIGNING_KEY_ID": key["id"], "MUX_SIGNING_PRIVATE_KEY": key["private_key"]}
    env.update(created)
    with (var / "demo.env").open("a") as fh:
        fh.writelines(f"{k}={v}\n" for k, v in created.items())


def migrate_database(env: dict[str, str]) -> None:
    """The platform database's schema, in this process (no second interpreter to start): everything needs it."""
    from core.db.migrate import upgrade

    say("migrating the platform database")
    upgrade(env["DATABASE_URL"])


def command(
    fresh: bool = typer.Option(False, "--fresh", help="Forget the previous demo's data (under --var) first."),
    var: Path = typer.Option(
        DEFAULT_VAR, "--var", help="Directory for everything the demo keeps: databases, media, logs, secrets."
    ),
    api_port: int = typer.Option(DemoPorts.api, "--api-port", min=1, max=65535, help="The API's port."),
    dashboard_port: int = typer.Option(DemoPorts.dashboard, "--dashboard-port", min=1, max=65535),
    emulator_port: int = typer.Option(DemoPorts.emulator, "--emulator-port", min=1, max=65535),
    s3_port: int = typer.Option(DemoPorts.s3, "--s3-port", min=1, max=65535, help="moto's S3 port."),
) -> None:
    """Run the whole product locally on sample data. Ctrl-C stops everything it started."""
    from core.errors import Conflict, NotConfigured

    started = time.monotonic()
    ports = DemoPorts(api=api_port, dashboard=dashboard_port, emulator=emulator_port, s3=s3_port)
    var = var.resolve()
    if importlib.util.find_spec("moto") is None:
        raise NotConfigured(
            "the demo's S3 (moto) is not installed; install the `demo` extra: `make install`, "
            "`uv sync --extra demo` or `pip install 'lectern[demo]'`"
        )
    if fresh:
        for name in ["lectern.db", "emulator", "demo.env", "warehouse", "warehouse.duckdb", PROGRESS_FILE_NAME]:
            subprocess.run(["rm", "-rf", str(var / name)], check=True)
    (var / "logs").mkdir(parents=True, exist_ok=True)
    busy = [f"{name} ({port})" for name, port in vars(ports).items() if not port_free(port)]
    if busy:
        raise Conflict(f"ports in use: {', '.join(busy)}; stop whatever holds them (an earlier demo?)")

    env = demo_environment(ports, var)
    sup = Supervisor(var / "logs")
    emulator_url = f"http://127.0.0.1:{ports.emulator}"
    steps = preparation_steps(emulator_url=emulator_url, var=var)
    prep = Preparation(steps, env=env, logs=var / "logs", progress_file=var / PROGRESS_FILE_NAME, say=say)
    # A second start finds the seeded database in place: the dashboard starts at once, every step in the background.
    ahead = [] if prep.before_dashboard_done_before() else [s for s in steps if s.before_dashboard]
    behind = [s for s in steps if s not in ahead]
    # Ctrl-C and `kill` both stop everything; set explicitly because a shell that starts us in the
    # background leaves SIGINT ignored, and Python then never turns it into KeyboardInterrupt.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    dashboard = f"http://127.0.0.1:{ports.dashboard}"
    try:
        say(f"Starting Lectern's demo (logs in {shown(var / 'logs')})")
        sup.start("s3", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(ports.s3)], env)
        sup.start("emulator", emulator_argv(ports, var), env)
        # The dashboard boots for seconds (imports) before it serves a session, so it starts as soon as its
        # settings are complete: at once on a second start (the signing key is kept), else once the emulator
        # has made the key. It reads the database only when a browser opens a session, after the migration.
        has_key = bool(env.get("MUX_SIGNING_KEY_ID"))
        if has_key:
            sup.start("dashboard", dashboard_argv("127.0.0.1", ports.dashboard), dashboard_env(env))
        migrate_database(env)  # while S3 and the emulator start; the API and the seed need it
        if not has_key:
            wait_http(f"{emulator_url}/_emulator/health", supervisor=sup)
            ensure_signing_key(env, var, emulator_url)  # in the environment the API and the dashboard start with
            sup.start("dashboard", dashboard_argv("127.0.0.1", ports.dashboard), dashboard_env(env))
        write_shell_env(env, var / "demo-shell.env", inherited=dict(os.environ))
        # The API boots while the first steps run; a page opened before the banner shows which step runs. The
        # banner, with the sign-ins, waits for those steps.
        sup.start("api", lectern("api", "--host", "127.0.0.1", "--port", str(ports.api)), env)
        first_answer = FirstAnswer(lambda: dashboard_answers(dashboard), started)
        if ahead:
            wait_http(f"http://127.0.0.1:{ports.s3}/", supervisor=sup)  # the seed puts lesson videos there
            if not prep.run(ahead):
                raise RuntimeError("the sample data the dashboard needs could not be prepared (see above)")
        wait_for(first_answer.check, dashboard, timeout=90, supervisor=sup)
        print_banner(ports, var, answered_after=first_answer.after or 0.0, ready_after=time.monotonic() - started)
        background = threading.Thread(
            target=prepare_in_background, args=(prep, behind, sup, env, ports, started), daemon=True
        )
        background.start()
        while (problem := sup.check()) is None:
            time.sleep(0.5)
        say(problem)
        raise typer.Exit(1)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how the demo ends: exit status 0
    except RuntimeError as exc:
        # A failed step carries that step's own output (many lines): shown whole, not as one error line.
        say(str(exc))
        raise typer.Exit(1) from None
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        prep.stop()
        sup.stop()
        say("Stopped: everything the demo started has ended.")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def emulator_argv(ports: DemoPorts, var: Path) -> list[str]:
    webhook = f"http://127.0.0.1:{ports.api}/api/videos/mux/webhook"
    state = str(var / "emulator" / "state.json")
    return lectern(
        "emulator", "--host", "127.0.0.1", "--port", str(ports.emulator), "--webhook-url", webhook,
        "--processing-delay", "3", "--state", state,
    )  # fmt: skip


def prepare_in_background(
    prep: Preparation, steps: list[Step], sup: Supervisor, env: dict[str, str], ports: DemoPorts, started: float
) -> None:
    """The steps the dashboard does not wait for, then the scheduler and the migration worker."""
    try:
        # The steps talk to all three: uploads and webhooks go through the API.
        wait_http(f"http://127.0.0.1:{ports.s3}/", supervisor=sup)
        wait_http(f"http://127.0.0.1:{ports.emulator}/_emulator/health", supervisor=sup)
        wait_http(f"http://127.0.0.1:{ports.api}/healthz", supervisor=sup)
    except RuntimeError as exc:
        if steps and not prep.stopping.is_set():
            prep.fail(steps[0], f"a part of the demo did not answer: {exc}")
        return
    ok = prep.run(steps)
    if prep.stopping.is_set():
        return
    if ok:
        prep.finish()
        say(f"Sample data ready, {time.monotonic() - started:.0f} s after the start: every page shows it.")
        if prep.staged:
            console.print(operations_note(prep.staged), highlight=False)
    # After a failure too: nothing else writes now, and the scheduler's next sync retries what the step did.
    sup.start("scheduler", lectern("sync", "schedule"), env)
    sup.start("migration-worker", lectern("migrate", "worker"), env)


def print_banner(ports: DemoPorts, var: Path, *, answered_after: float, ready_after: float) -> None:
    accounts = (var / "demo-accounts.txt").read_text() if (var / "demo-accounts.txt").exists() else ""
    shell_env = shown(var / "demo-shell.env")
    timing = f"the dashboard answered {answered_after:.1f} s after the start; sign-ins work from {ready_after:.1f} s"
    console.print(
        f"""
[bold green]Lectern is running[/] ({timing}).
  Dashboard      http://localhost:{ports.dashboard}  (or http://127.0.0.1:{ports.dashboard})
  API (OpenAPI)  http://127.0.0.1:{ports.api}/docs
  Mux emulator   http://127.0.0.1:{ports.emulator}  (controls under /_emulator/, see docs/emulator.md)
  S3 (moto)      http://127.0.0.1:{ports.s3}
  Settings used  {escape(shell_env)} (secrets generated for this machine, kept in {escape(shown(var / "demo.env"))})

[bold]Demo sign-ins[/]
{escape(accounts)}
Any lectern command against this demo, from another terminal:
  set -a; . {escape(shell_env)}; set +a; .venv/bin/lectern token --user <id>
The sample data is still being prepared where the steps below say so; each page shows how far it got.
Press Ctrl-C to stop everything.""",
        highlight=False,
    )


def operations_note(staged: list[str]) -> str:
    """What the banner says about Admin > Operations: alerts fire on purpose, from these staged failures."""
    page = "[bold]Admin > Operations[/] (sign in as the admin)"
    if not staged:
        return f"{page}: alerts, webhooks, uploads, orphaned assets, the sync.\n"
    # One paragraph per line: the terminal wraps them to its width (the console soft-wraps).
    intro = (
        f"{page}: alerts are [bold red]firing on purpose[/]. The demo staged these failures the way production "
        "meets them (through the API, Mux's webhooks and Mux Data), and the sync's alert evaluator raised the "
        "alerts from them (`lectern alerts list` shows them too):"
    )
    failures = "".join(f"  - {escape(line)}\n" for line in staged)
    outro = (
        "  The playback alerts resolve by themselves an hour after the failing views stop; a later demo run "
        "stages them again."
    )
    return f"{intro}\n{failures}{outro}\n"

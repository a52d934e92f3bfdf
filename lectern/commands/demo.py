"""`lectern demo`: every part of Lectern on this machine, with sample data, until Ctrl-C.

Starts moto's S3 server, the Mux emulator, the API, the sync scheduler, a migration worker and the
dashboard as child processes (each in its own process group, so Ctrl-C stops all of them and nothing is left behind),
migrates and seeds the platform database, stages a few failures for Admin > Operations (a failed upload,
failing playback, an orphaned asset: lectern/demo_incidents.py) and prints the URLs and demo sign-ins.
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
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import typer
from rich.console import Console
from rich.markup import escape

from lectern.demo_incidents import DEMO_ALERT_RULES
from lectern.demo_plan import DEMO_SETTINGS, preparation_steps

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_VAR = ROOT / "var"
console = Console()


@dataclass(frozen=True)
class DemoPorts:
    api: int = 8000
    dashboard: int = 8501
    emulator: int = 8800
    s3: int = 8900


@dataclass
class Supervisor:
    """Child processes started by the demo; `stop` ends them all (SIGTERM, then SIGKILL)."""

    logs: Path
    children: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.children.append((name, proc))
        return proc

    def check(self) -> str | None:
        for name, proc in self.children:
            if proc.poll() is not None:
                return f"{name} exited with code {proc.returncode}; see {self.logs / name}.log"
        return None

    def stop(self) -> None:
        for _, proc in reversed(self.children):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _, proc in self.children:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def wait_http(url: str, timeout: float = 60.0, supervisor: Supervisor | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        if supervisor and (problem := supervisor.check()):
            raise RuntimeError(problem)
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


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
        "LECTERN_CORS_ORIGIN": f"http://127.0.0.1:{ports.dashboard}",
        # Local conveniences a production API keeps off: its docs, and /metrics for a scraper on this machine.
        "LECTERN_API_DOCS": "true",
        "LECTERN_METRICS_ALLOW": "127.0.0.0/8",
        # One metrics directory for every demo process: the API's /metrics shows the scheduler and the
        # migration worker too (docs/metrics.md).
        "LECTERN_METRICS_DIR": str(var / "metrics"),
        "PROMETHEUS_MULTIPROC_DIR": str(var / "metrics"),
        "LECTERN_VAR_DIR": str(var),
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


def lectern(*args: str) -> list[str]:
    return [sys.executable, "-m", "lectern", *args]


def run_step(title: str, argv: list[str], env: dict[str, str]) -> str:
    console.print(f"[bold]•[/] {title}")
    result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{title} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def ensure_signing_key(env: dict[str, str], var: Path) -> None:
    """Create a signing key in the emulator once; its id and private key join var/demo.env."""
    if env.get("MUX_SIGNING_KEY_ID"):
        return
    out = run_step("creating a Mux signing key for private lessons", lectern("mux", "signing-key", "create"), env)
    created = {k: v for k, v in (line.split("=", 1) for line in out.splitlines() if line.startswith("MUX_SIGNING_"))}
    env.update(created)
    with (var / "demo.env").open("a") as fh:
        fh.writelines(f"{k}={v}\n" for k, v in created.items())


def prepare_analytics(env: dict[str, str], ports: DemoPorts, var: Path) -> list[str]:
    """Run the sample data's steps after the seed (lectern/demo_plan.py); returns the staged failures' lines."""
    staged: list[str] = []
    for step in preparation_steps(emulator_url=f"http://127.0.0.1:{ports.emulator}", var=var):
        if step.before_dashboard or not step.needed():
            continue
        out = run_step(step.title, list(step.argv), env)
        if step.reports_staged:
            staged += [line for line in out.splitlines() if line.strip()]
    return staged


def command(
    fresh: bool = typer.Option(False, "--fresh", help="Forget the previous demo's data (var/) first."),
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

    ports = DemoPorts(api=api_port, dashboard=dashboard_port, emulator=emulator_port, s3=s3_port)
    var = var.resolve()
    if importlib.util.find_spec("moto") is None:
        raise NotConfigured(
            "the demo's S3 (moto) is not installed; install the `demo` extra: `make install`, "
            "`uv sync --extra demo` or `pip install 'lectern[demo]'`"
        )
    if fresh:
        for path in [var / "lectern.db", var / "emulator", var / "demo.env", var / "warehouse"]:
            subprocess.run(["rm", "-rf", str(path)], check=True)
    (var / "logs").mkdir(parents=True, exist_ok=True)
    busy = [f"{name} ({port})" for name, port in vars(ports).items() if not port_free(port)]
    if busy:
        raise Conflict(f"ports in use: {', '.join(busy)}; stop whatever holds them (an earlier demo?)")

    env = demo_environment(ports, var)
    sup = Supervisor(var / "logs")
    # Ctrl-C and `kill` both stop everything; set explicitly because a shell that starts us in the
    # background leaves SIGINT ignored, and Python then never turns it into KeyboardInterrupt.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        console.print(f"[bold]Starting Lectern's demo[/] (logs in {var / 'logs'})")
        sup.start("s3", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(ports.s3)], env)
        webhook = f"http://127.0.0.1:{ports.api}/api/videos/mux/webhook"
        sup.start(
            "emulator",
            lectern(
                "emulator",
                "--host",
                "127.0.0.1",
                "--port",
                str(ports.emulator),
                "--webhook-url",
                webhook,
                "--processing-delay",
                "3",
                "--state",
                str(var / "emulator" / "state.json"),
            ),
            env,
        )
        wait_http(f"http://127.0.0.1:{ports.s3}/", supervisor=sup)
        wait_http(f"http://127.0.0.1:{ports.emulator}/_emulator/health", supervisor=sup)
        run_step("migrating the platform database", lectern("db", "upgrade"), env)
        for step in preparation_steps(emulator_url=f"http://127.0.0.1:{ports.emulator}", var=var):
            if step.before_dashboard and step.needed():
                console.print(run_step(step.title, list(step.argv), env).strip())
        ensure_signing_key(env, var)
        write_shell_env(env, var / "demo-shell.env", inherited=dict(os.environ))
        sup.start("api", lectern("api", "--host", "127.0.0.1", "--port", str(ports.api)), env)
        wait_http(f"http://127.0.0.1:{ports.api}/healthz", supervisor=sup)
        staged = prepare_analytics(env, ports, var)
        sup.start("scheduler", lectern("sync", "schedule"), env)
        sup.start("migration-worker", lectern("migrate", "worker"), env)
        sup.start("dashboard", lectern("dashboard", "--host", "127.0.0.1", "--port", str(ports.dashboard)), env)
        wait_http(f"http://127.0.0.1:{ports.dashboard}/_stcore/health", timeout=90, supervisor=sup)
        print_banner(ports, var, staged)
        while (problem := sup.check()) is None:
            time.sleep(1)
        console.print(f"[red]{problem}[/]")
        raise typer.Exit(1)
    except KeyboardInterrupt:
        console.print("\nStopping…")
    except RuntimeError as exc:
        # A failed step carries that step's own output (many lines): shown whole, not as one error line.
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    finally:
        sup.stop()
        console.print("Everything the demo started has stopped.")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def print_banner(ports: DemoPorts, var: Path, staged: list[str] | None = None) -> None:
    accounts = (var / "demo-accounts.txt").read_text() if (var / "demo-accounts.txt").exists() else ""
    console.print(
        f"""
[bold green]Lectern is running.[/]
  Dashboard      http://127.0.0.1:{ports.dashboard}
  API (OpenAPI)  http://127.0.0.1:{ports.api}/docs
  Mux emulator   http://127.0.0.1:{ports.emulator}  (controls under /_emulator/, see docs/emulator.md)
  S3 (moto)      http://127.0.0.1:{ports.s3}
  Settings used  {var / "demo-shell.env"} (secrets generated for this machine, kept in {var / "demo.env"})

[bold]Demo sign-ins[/]
{accounts}"""
    )
    console.print(operations_note(staged or []), highlight=False)
    console.print(
        f"""Any lectern command against this demo, from another terminal:
  set -a; . {var / "demo-shell.env"}; set +a; .venv/bin/lectern token --user <id>
Press Ctrl-C to stop everything."""
    )


def operations_note(staged: list[str]) -> str:
    """What the banner says about Admin > Operations: alerts fire on purpose, from these staged failures."""
    page = "[bold]Admin > Operations[/] (sign in as the admin)"
    if not staged:
        return f"{page}: alerts, webhooks, uploads, orphaned assets, the sync.\n"
    # One paragraph per line: the console wraps them to the terminal's width.
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

"""`lectern`: the front door. Every command builds settings once and passes them down."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from core.errors import ErrorKind
from lectern.commands._settings import settings_or_exit
from lectern.errors import as_lectern_error
from lectern.lazy_commands import LazyGroup
from lectern.sample_data import DemoAccount

if TYPE_CHECKING:
    from typer._click.core import Context as ClickContext  # typer's own copy of click, which TyperGroup takes

    from core.container import Lectern
    from lectern.seed import Progress as seeding_progress

# Commands contributed by other modules (each a typer app or a function named `command`), imported only when
# the command runs: the heavy ones (emulator, costs, upload) cost seconds to import.
_SUBCOMMANDS = {
    "emulator": "lectern.commands.emulator",
    "api": "lectern.commands.api",
    "token": "lectern.commands.token",
    "mux": "lectern.commands.mux",
    "dashboard": "lectern.commands.dashboard",
    "demo": "lectern.commands.demo",
    "costs": "lectern.commands.costs",
    "sync": "lectern.commands.sync",
    "warehouse": "lectern.commands.warehouse",
    "migrate": "lectern.commands.migrate",
    "upload": "lectern.commands.upload",
    "privacy": "lectern.commands.privacy",
    "assets": "lectern.commands.assets",
    "alerts": "lectern.commands.alerts",
    "webhooks": "lectern.commands.webhooks",
    "lessons": "lectern.commands.lessons",
}

# sysexits(3) codes, so a script can tell "fix the input" from "try again later" without reading stderr.
EXIT_CODE_BY_KIND: dict[ErrorKind, int] = {
    ErrorKind.INVALID: 65,  # EX_DATAERR
    ErrorKind.TOO_LARGE: 65,
    ErrorKind.HEADERS_TOO_LARGE: 65,
    ErrorKind.NOT_FOUND: 66,  # EX_NOINPUT
    ErrorKind.UNAVAILABLE: 69,  # EX_UNAVAILABLE
    ErrorKind.INTERNAL: 70,  # EX_SOFTWARE
    ErrorKind.CONFLICT: 73,  # EX_CANTCREAT: the object's state does not allow it
    ErrorKind.RETRYABLE: 75,  # EX_TEMPFAIL
    ErrorKind.UPSTREAM: 76,  # EX_PROTOCOL: Mux, S3 or the emulator refused
    ErrorKind.UNAUTHENTICATED: 77,  # EX_NOPERM
    ErrorKind.FORBIDDEN: 77,
    ErrorKind.MISCONFIGURED: 78,  # EX_CONFIG
}
EPILOG = (
    "An error is one line on stderr (`error: ...`) and an exit code by its kind: "
    + ", ".join(f"{kind.value} {code}" for kind, code in EXIT_CODE_BY_KIND.items())
    + "; 2 when the command line does not parse (an unknown option, a number out of range); 1 when a command "
    "reports failures in its own output (a sync job in its table, a refused rollback)."
)


class _ErrorsAsExitCodes(LazyGroup):
    """The root command: any LecternError from any command becomes one line and its kind's exit code; the
    commands in `_SUBCOMMANDS` are imported only when they run.

    Here rather than around `app()` in `main`, so a test that drives `app` with typer's CliRunner goes
    through the same mapping as the `lectern` script.
    """

    lazy_modules = _SUBCOMMANDS

    def invoke(self, ctx: ClickContext) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            error = as_lectern_error(exc)
            if error is None:
                raise
            message = " ".join(error.user_message.split())  # one line, whatever the message holds
            typer.echo(f"error: {message}", err=True)
            raise typer.Exit(EXIT_CODE_BY_KIND[error.kind]) from None


app = typer.Typer(
    cls=_ErrorsAsExitCodes,
    help="Lectern: course videos on Mux.",
    epilog=EPILOG,
    no_args_is_help=True,
    add_completion=False,
)
config_app = typer.Typer(help="Inspect settings.", no_args_is_help=True)
db_app = typer.Typer(help="Platform database migrations.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
console = Console()


@config_app.command("check")
def config_check() -> None:
    """Print the effective settings with every secret masked; flag missing, published or weak secrets (exit 1)."""
    settings = settings_or_exit()
    table = Table("variable", "value", title="Lectern settings")
    for name, value in settings.masked().items():
        table.add_row(name, value)
    console.print(table)
    console.print("Mux: " + ("credentials set" if settings.mux_configured else "no credentials (MUX_TOKEN_ID/SECRET)"))
    problems = settings.secret_problems()
    for problem in problems:
        console.print(f"[red]problem:[/] {problem}", highlight=False, soft_wrap=True)
    if settings.dev_mode:
        console.print("LECTERN_DEV_MODE is on: the API accepts a short or published JWT secret (never in production)")
    # Each problem is a line of the report above, not one error line: the settings themselves loaded.
    if problems:
        raise typer.Exit(1)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Option("head", help="Target revision.")) -> None:
    """Migrate the platform database forward (default: to the newest revision)."""
    from core.db.migrate import current_revision, upgrade

    settings = settings_or_exit()
    upgrade(settings.database_url, revision)
    console.print(f"database at revision {current_revision(settings.database_url)}")


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Option("-1", help="Target revision (e.g. -1, 0001, base).")) -> None:
    """Migrate the platform database back."""
    from core.db.migrate import current_revision, downgrade

    settings = settings_or_exit()
    downgrade(settings.database_url, revision)
    console.print(f"database at revision {current_revision(settings.database_url)}")


@db_app.command("current")
def db_current() -> None:
    """Show the database's current revision."""
    from core.db.migrate import current_revision

    settings = settings_or_exit()
    console.print(current_revision(settings.database_url) or "empty (no revision)")


@app.command()
def seed(
    seed: int = typer.Option(7, help="Random seed: the same seed gives the same platform."),
    students: int = typer.Option(2400, min=1, help="Number of students."),
    teachers: int = typer.Option(8, min=1, help="Number of teachers."),
    courses: int = typer.Option(25, min=1, help="Number of courses."),
    days: int = typer.Option(90, min=1, help="Days of Mux history (the move to Mux began then)."),
    reset: bool = typer.Option(False, "--reset", help="Delete every platform row first."),
    media: bool = typer.Option(
        True, "--media/--no-media", help="Make the sample lesson videos and put the S3 lessons' files in S3."
    ),
    only_media: bool = typer.Option(False, "--only-media", help="Only the videos (the database is seeded)."),
    if_empty: bool = typer.Option(False, "--if-empty", help="Do nothing (exit 0) when users already exist."),
    history: Path = typer.Option(
        Path("var/sample-history.json"),
        "--history",
        help="Where to write the Mux history for `python -m lectern.sample_history` (lessons that moved to Mux).",
    ),
) -> None:
    """Build a realistic sample platform (deterministic by --seed) and print the demo sign-ins."""
    import time

    from core.container import Lectern
    from core.db.migrate import upgrade
    from lectern import seed as seeding
    from lectern.sample_data import SeedConfig, build_platform

    settings = settings_or_exit()
    upgrade(settings.database_url)
    lectern = Lectern.from_settings(settings)
    engine = lectern.engine
    started = time.perf_counter()
    platform = None
    try:
        if reset and not only_media:
            seeding.reset(engine)
        with _progress() as bar:
            advance = _advancer(bar)
            if not only_media:
                try:
                    built = build_platform(
                        SeedConfig(seed=seed, teachers=teachers, courses=courses, students=students, days=days)
                    )
                    counts = seeding.write_platform(engine, built, advance)
                    seeding.write_history(history, built)
                    platform = built
                except seeding.DatabaseNotEmpty:
                    if not if_empty:
                        raise
                    console.print("platform database already seeded")
            if media or only_media:
                _seed_media(lectern, seeding.legacy_videos(engine), advance)
    finally:
        lectern.close()
    if platform is not None:
        elapsed = time.perf_counter() - started
        console.print(", ".join(f"{n:,} {t}" for t, n in counts.items()) + f" in {elapsed:.1f} s")
        print_demo_accounts(platform.demo_accounts, settings.var_dir)


def _advancer(bar: Progress) -> seeding_progress:
    tasks: dict[str, TaskID] = {}

    def advance(name: str, n: int) -> None:
        if name not in tasks:
            tasks[name] = bar.add_task(name, total=None)
        bar.advance(tasks[name], n)

    return advance


def _seed_media(lectern: Lectern, videos: list[tuple[str, float | None]], advance: seeding_progress) -> None:
    import time

    from lectern.sample_media import lesson_clips
    from lectern.seed import upload_missing_videos

    settings = lectern.settings
    started = time.perf_counter()
    clips = lesson_clips(settings.var_dir / "sample-media")
    made = time.perf_counter() - started
    if settings.s3_endpoint_url is None and not settings.aws_access_key_id:
        console.print("S3 not configured (S3_ENDPOINT_URL / AWS_*): legacy lessons keep keys without files")
        return
    added = upload_missing_videos(lectern.s3, settings.s3_bucket, videos, clips, advance)
    console.print(
        f"{len(clips)} sample lesson videos ready in {made:.1f} s; "
        f"{added} legacy lesson videos put in s3://{settings.s3_bucket}"
    )


def print_demo_accounts(accounts: list[DemoAccount], var: Path) -> None:
    """Print the sign-ins (and keep a private copy in var/ so `make demo` can show them again)."""
    table = Table("role", "email", "password", title="Demo sign-ins")
    lines = []
    for acc in accounts:
        table.add_row(acc.role, acc.email, acc.password)
        lines.append(f"{acc.role:8} {acc.email:28} {acc.password}")
    console.print(table)
    path = var / "demo-accounts.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:>16}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=not sys.stdout.isatty(),
    )


def main(args: list[str] | None = None) -> None:
    """The `lectern` entry point: the commands, with any LecternError as one line and an exit code by kind."""
    app(args=args, prog_name="lectern")

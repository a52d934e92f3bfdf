"""`lectern lessons repair LESSON`: bring a lesson up to date with Mux when a webhook never arrived.

Fetches the lesson's asset (or its upload's asset) from Mux and heals the lesson the way the assets sync job
does (core/heal.py via core/webhook_ops.py); recorded in the audit log as `cli:<os user>`.
"""

from __future__ import annotations

import typer
from rich.console import Console

from lectern.commands._settings import settings_or_exit

app = typer.Typer(help="Lessons: repair one from Mux's current state.", no_args_is_help=True)
console = Console()


@app.command("repair")
def repair_cmd(lesson_id: int = typer.Argument(..., min=1, max=2**31 - 1, help="The lesson's id.")) -> None:
    """Apply Mux's current state of the lesson's asset (a lesson stuck in processing becomes ready)."""
    from core.audit import cli_actor
    from core.container import Lectern

    with Lectern.from_settings(settings_or_exit()) as lectern:
        result = lectern.webhook_ops.repair_lesson(lesson_id, actor=cli_actor())
    change = f"{result.before} -> {result.after}" if result.healed else f"unchanged ({result.after})"
    console.print(f"lesson {result.lesson_id}: {change}: {result.reason}", highlight=False, soft_wrap=True)

"""`lectern alerts`: the alert engine from the command line (operators with platform-DB access).

lectern alerts list [--state firing]     open alerts (or every alert in one state), newest first
lectern alerts ack ID                     acknowledge (recorded as cli:<os user>)
lectern alerts silence ID --for 2h        no notifications for a while (recorded as cli:<os user>)
lectern alerts evaluate                   evaluate every rule now and deliver (= `lectern sync --once --job alerts`)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import typer
from rich.console import Console
from rich.table import Table

from lectern.commands._settings import settings_or_exit

app = typer.Typer(help="Alerts: list, acknowledge, silence, evaluate now.", no_args_is_help=True)
console = Console()


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment is not None else ""


@app.command("list")
def list_alerts(
    state: str = typer.Option("open", "--state", help="open (pending + firing), pending, firing or resolved."),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="At most this many rows."),
) -> None:
    """Alerts with their value and threshold, first/last seen, and who acknowledged or silenced them."""
    from core.alerts.store import alert_history, open_alerts, parse_state
    from core.container import Lectern

    settings = settings_or_exit()
    with Lectern.from_settings(settings) as lectern, lectern.session_factory() as session:
        if state == "open":
            rows = open_alerts(session, limit=limit)
        else:
            since = datetime.now(UTC) - timedelta(days=3650)
            rows = alert_history(session, since=since, state=parse_state(state), limit=limit)
    table = Table("id", "state", "severity", "rule", "subject", "value / threshold", "first seen", "last seen", "notes")
    now = datetime.now(UTC)
    for a in rows:
        notes = []
        if a.acknowledged_at:
            notes.append(f"acked by {a.acknowledged_by}")
        if a.silenced(now):
            notes.append(f"silenced until {_when(a.silenced_until)} by {a.silenced_by}")
        value = "" if a.value is None else f"{a.value:g}"
        if value and a.threshold is not None:
            value += f" / {a.threshold:g}"
        table.add_row(
            str(a.id),
            a.state,
            a.severity,
            a.kind,
            a.subject or a.key,
            value,
            _when(a.first_seen_at),
            _when(a.last_seen_at),
            "; ".join(notes),
        )
    console.print(table)
    for a in rows:
        console.print(f"{a.id}: {a.message}", highlight=False, soft_wrap=True)
    if not rows:
        console.print("no alerts")


@app.command("ack")
def ack(alert_id: int = typer.Argument(..., min=1, help="The alert's id (from `lectern alerts list`).")) -> None:
    """Acknowledge an open alert: someone is on it (it keeps firing and notifying until it resolves)."""
    from core.alerts.store import acknowledge
    from core.audit import cli_actor
    from core.container import Lectern

    settings = settings_or_exit()
    with Lectern.from_settings(settings) as lectern, lectern.session_factory.begin() as session:
        row = acknowledge(session, alert_id, actor=cli_actor())
    console.print(f"alert {row.id} acknowledged by {row.acknowledged_by} at {_when(row.acknowledged_at)} UTC")


@app.command("silence")
def silence_alert(
    alert_id: int = typer.Argument(..., min=1, help="The alert's id (from `lectern alerts list`)."),
    duration: str = typer.Option(..., "--for", help="How long: 30m, 2h, 1d (at most 30 days)."),
) -> None:
    """No notifications for this alert for a while; queued ones are dropped (it still shows as firing)."""
    from core.alerts.store import parse_duration, silence
    from core.audit import cli_actor
    from core.container import Lectern

    settings = settings_or_exit()
    length = parse_duration(duration)
    with Lectern.from_settings(settings) as lectern, lectern.session_factory.begin() as session:
        row = silence(session, alert_id, actor=cli_actor(), duration=length)
    console.print(f"alert {row.id} silenced until {_when(row.silenced_until)} UTC by {row.silenced_by}")


@app.command("evaluate")
def evaluate_now() -> None:
    """Measure every rule now, update the alerts and deliver due notifications (the sync's `alerts` job)."""
    from sync.runner import SyncContext, run_jobs

    settings = settings_or_exit()
    ctx = SyncContext.from_settings(settings)
    try:
        [result] = run_jobs(ctx, ["alerts"])
    finally:
        ctx.close()
    details = result.details
    console.print(
        f"{result.status}: {details.get('conditions', 0)} condition(s) holding, {result.rows} alert(s) firing; "
        f"opened {len(details.get('opened', []))}, fired {len(details.get('fired', []))}, "
        f"resolved {len(details.get('resolved', []))}, notifications queued {details.get('queued', 0)}",
        highlight=False,
    )
    if "notifications" in details:
        console.print(f"deliveries: {details['notifications']}", highlight=False)
    if result.error:
        console.print(f"error: {result.error}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)

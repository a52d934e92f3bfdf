"""`lectern webhooks`: the webhook log from the command line — search, show one event, replay.

lectern webhooks list --outcome failed --since 2026-12-01        newest first; --cursor for the next page
lectern webhooks show EVENT_ID                                   the payload, secrets redacted (JSON)
lectern webhooks replay EVENT_ID                                 handle one stored event again
lectern webhooks replay --outcome unmatched --lesson 12 --yes    every matching event, oldest first

The same functions as the admin API (core/webhook_log.py, core/webhook_ops.py), straight on the platform DB:
whoever runs this is an operator with database access, recorded as `cli:<os user>`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from lectern.commands._settings import settings_or_exit

if TYPE_CHECKING:
    from core.container import Lectern
    from core.webhook_log import EventFilter
    from core.webhooks import ReplayResult

app = typer.Typer(help="The webhook log: search, show and replay stored Mux events.", no_args_is_help=True)
console = Console()

TypeOpt = typer.Option(None, "--type", help="Event type, e.g. video.asset.ready (repeatable).")
OutcomeOpt = typer.Option(None, "--outcome", help="applied, stale, unmatched, ignored, failed (repeatable).")
LessonOpt = typer.Option(None, "--lesson", min=1, max=2**31 - 1, help="Events of this lesson.")
AssetOpt = typer.Option(None, "--asset", help="Events about this Mux asset.")
UploadOpt = typer.Option(None, "--upload", help="Events about this Mux direct upload.")
SinceOpt = typer.Option(None, "--since", help="Received at or after (UTC).")
UntilOpt = typer.Option(None, "--until", help="Received before (UTC).")


@contextmanager
def _lectern() -> Iterator[Lectern]:
    from core.container import Lectern

    with Lectern.from_settings(settings_or_exit()) as lectern:
        yield lectern


def _filter(
    types: list[str] | None,
    outcomes: list[str] | None,
    lesson: int | None,
    asset: str | None,
    upload: str | None,
    since: datetime | None,
    until: datetime | None,
) -> EventFilter:
    from core.webhook_log import EventFilter

    return EventFilter(
        types=tuple(types or ()),
        outcomes=tuple(outcomes or ()),
        lesson_id=lesson,
        asset_id=asset,
        upload_id=upload,
        since=since,
        until=until,
    )


@app.command("list")
def list_cmd(
    types: list[str] | None = TypeOpt,
    outcomes: list[str] | None = OutcomeOpt,
    lesson: int | None = LessonOpt,
    asset: str | None = AssetOpt,
    upload: str | None = UploadOpt,
    since: datetime | None = SinceOpt,
    until: datetime | None = UntilOpt,
    limit: int = typer.Option(50, min=1, max=200, help="Events per page."),
    cursor: str | None = typer.Option(None, "--cursor", help="The next page: the cursor the last page printed."),
    fmt: str = typer.Option("table", "--format", help="table or json."),
) -> None:
    """Stored webhook events, newest first."""
    from core.webhook_log import search_events

    where = _filter(types, outcomes, lesson, asset, upload, since, until)
    with _lectern() as lectern, lectern.session_factory() as session:
        page = search_events(session, where, limit=limit, cursor=cursor)
    if fmt == "json":
        typer.echo(json.dumps({"data": [r.as_dict() for r in page.items], "next_cursor": page.next_cursor}, indent=2))
        return
    table = Table("received (UTC)", "event", "type", "outcome", "lesson", "asset", "upload", "lag", "error")
    for row in page.items:
        table.add_row(
            row.received_at.strftime("%Y-%m-%d %H:%M:%S"),
            row.id,
            row.type,
            row.outcome,
            str(row.lesson_id or "—"),
            row.asset_id or "—",
            row.upload_id or "—",
            f"{row.lag_s:.1f} s",
            (row.error or "")[:80],
        )
    console.print(table)
    if not page.items:
        console.print("no stored events match")
    if page.next_cursor:
        console.print(f"more: --cursor {page.next_cursor}", highlight=False, soft_wrap=True)


@app.command("show")
def show_cmd(event_id: str = typer.Argument(..., help="The Mux event id.")) -> None:
    """One stored event as JSON, its payload with signed URLs and secrets redacted."""
    from core.webhook_log import event_detail

    with _lectern() as lectern, lectern.session_factory() as session:
        detail = event_detail(session, event_id)
    typer.echo(json.dumps(detail.as_dict(), indent=2, default=str))


def _print_results(results: list[ReplayResult]) -> None:
    table = Table("event", "type", "before", "after", "lesson", "changed", "reason", title="Replayed")
    for r in results:
        table.add_row(
            r.event_id,
            r.event_type,
            r.before,
            r.after,
            str(r.lesson_id or "—"),
            "yes" if r.lesson_changed else "no",
            (r.reason or "")[:80],
        )
    console.print(table)


@app.command("replay")
def replay_cmd(
    event_id: str | None = typer.Argument(None, help="One event; or none, and filters for a set."),
    types: list[str] | None = TypeOpt,
    outcomes: list[str] | None = OutcomeOpt,
    lesson: int | None = LessonOpt,
    asset: str | None = AssetOpt,
    upload: str | None = UploadOpt,
    since: datetime | None = SinceOpt,
    until: datetime | None = UntilOpt,
    max_events: int = typer.Option(100, "--max", min=1, max=500, help="Events replayed at most."),
    yes: bool = typer.Option(False, "--yes", help="Replay a filtered set without asking."),
) -> None:
    """Handle stored events again: they apply only where still news (a failed event whose cause is fixed, an
    unmatched one whose lesson now exists); an applied event changes nothing. Each replay is audited."""
    from core.audit import cli_actor

    actor = cli_actor()
    where = _filter(types, outcomes, lesson, asset, upload, since, until)
    with _lectern() as lectern:
        if event_id is not None:
            if not where.is_empty:
                raise typer.BadParameter("give an event id or filters, not both")
            _print_results([lectern.webhook_ops.replay(event_id, actor=actor)])
            return
        if not where.is_empty and not yes:
            typer.confirm(f"Replay up to {max_events} stored events matching these filters?", abort=True)
        batch = lectern.webhook_ops.replay_matching(where, actor=actor, max_events=max_events)
    _print_results(batch.results)
    summary = ", ".join(f"{k}: {v}" for k, v in batch.by_outcome.items()) or "nothing matched"
    console.print(f"{len(batch.results)} replayed ({summary})" + ("; more match: run again" if batch.truncated else ""))

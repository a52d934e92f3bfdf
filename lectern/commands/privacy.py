"""`lectern privacy`: students' personal data — map a student key back (admins), forget a student.

Both read the platform DB with its credentials (DATABASE_URL), which is what makes them admin-only: the
warehouse, which analysts read, cannot map a key back to anyone.
"""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from core.auth import MAX_ID
from core.errors import NotConfigured
from core.settings import Settings
from lectern.commands._settings import settings_or_exit

app = typer.Typer(help="Students' personal data: look up a student key, forget a student.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


def _secret(settings: Settings) -> bytes:
    from core.privacy import pseudonym_secret

    try:
        return pseudonym_secret(settings)
    except NotConfigured as exc:
        err.print(f"error: {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _database_error(exc: SQLAlchemyError) -> NoReturn:
    cause = getattr(exc, "orig", None)  # the driver's error, on the DBAPIError subclasses
    reason = str(cause if cause is not None else exc).splitlines()[0]
    err.print(
        f"error: cannot read the platform DB (DATABASE_URL; run `lectern db upgrade`?): {reason}", highlight=False
    )
    raise typer.Exit(1) from None


@app.command("lookup")
def lookup(key: int = typer.Argument(..., help="A student key from the warehouse or Mux Data (18 digits).")) -> None:
    """The platform student behind a student key (admins: needs the platform DB and the pseudonym key)."""
    from core.container import Lectern
    from core.privacy import is_student_key
    from core.privacy import lookup as find

    settings = settings_or_exit()
    if not is_student_key(key):
        err.print(f"error: {key} is not a student key (those have 18 digits)")
        raise typer.Exit(2)
    lectern = Lectern.from_settings(settings)
    engine = lectern.engine
    try:
        person = find(engine, _secret(settings), key)
    except SQLAlchemyError as exc:
        _database_error(exc)
    finally:
        lectern.close()
    if person is None:
        err.print(f"no platform student has key {key} (deleted, forgotten, or another LECTERN_PSEUDONYM_KEY)")
        raise typer.Exit(1)
    console.print(f"user {person.user_id}: {person.name} <{person.email}> ({person.role})", highlight=False)


@app.command("forget")
def forget(
    user: int = typer.Option(
        ..., "--user", min=1, max=MAX_ID, help="The student's platform user id (not a student key)."
    ),
) -> None:
    """Remove a student from every store Lectern owns; prints what it cannot reach. Safe to run again."""
    from core.container import Lectern
    from core.errors import Conflict
    from core.privacy import forget as forget_student
    from warehouse.privacy import forget_in_warehouse
    from warehouse.store import WarehouseBusy, WarehouseWriter

    settings = settings_or_exit()
    lectern = Lectern.from_settings(settings)
    engine = lectern.engine
    writer = WarehouseWriter.from_settings(settings)
    try:
        report = forget_student(engine, _secret(settings), user, lambda key, uid: forget_in_warehouse(writer, key, uid))
    except Conflict as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(1) from None
    except WarehouseBusy as exc:
        err.print(f"error: {exc}; nothing was changed, run it again")
        raise typer.Exit(1) from None
    except SQLAlchemyError as exc:
        _database_error(exc)
    finally:
        lectern.close()
    for line in report.lines():
        console.print(line, highlight=False, soft_wrap=True)

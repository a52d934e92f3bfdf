"""`lectern privacy`: students' personal data — map a student key back (admins), forget a student.

Both read the platform DB with its credentials (DATABASE_URL), which is what makes them admin-only: the
warehouse, which analysts read, cannot map a key back to anyone.
"""

from __future__ import annotations

import typer
from rich.console import Console

from core.auth import MAX_ID
from lectern.commands._settings import settings_or_exit

app = typer.Typer(help="Students' personal data: look up a student key, forget a student.", no_args_is_help=True)
console = Console()


@app.command("lookup")
def lookup(key: int = typer.Argument(..., help="A student key from the warehouse or Mux Data (18 digits).")) -> None:
    """The platform student behind a student key (admins: needs the platform DB and the pseudonym key)."""
    from core.container import Lectern
    from core.errors import NotFound
    from core.privacy import is_student_key, pseudonym_secret
    from core.privacy import lookup as find
    from lectern.errors import InvalidArgument

    settings = settings_or_exit()
    if not is_student_key(key):
        raise InvalidArgument(f"{key} is not a student key (those have 18 digits)")
    secret = pseudonym_secret(settings)
    with Lectern.from_settings(settings) as lectern:
        person = find(lectern.engine, secret, key)
    if person is None:
        raise NotFound(f"no platform student has key {key} (deleted, forgotten, or another LECTERN_PSEUDONYM_KEY)")
    console.print(f"user {person.user_id}: {person.name} <{person.email}> ({person.role})", highlight=False)


@app.command("forget")
def forget(
    user: int = typer.Option(
        ..., "--user", min=1, max=MAX_ID, help="The student's platform user id (not a student key)."
    ),
) -> None:
    """Remove a student from every store Lectern owns; prints what it cannot reach. Safe to run again."""
    from core.container import Lectern
    from core.privacy import forget as forget_student
    from core.privacy import pseudonym_secret
    from warehouse.privacy import forget_in_warehouse
    from warehouse.store import WarehouseBusy, WarehouseWriter

    settings = settings_or_exit()
    secret = pseudonym_secret(settings)
    writer = WarehouseWriter.from_settings(settings)
    with Lectern.from_settings(settings) as lectern:
        try:
            report = forget_student(
                lectern.engine, secret, user, lambda key, uid: forget_in_warehouse(writer, key, uid)
            )
        except WarehouseBusy as exc:
            # Re-raised with what a user most wants to know here: nothing changed, so running it again is safe.
            raise WarehouseBusy(f"{exc.message}; nothing was changed, run it again") from exc
    for line in report.lines():
        console.print(line, highlight=False, soft_wrap=True)

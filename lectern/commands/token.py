"""`lectern token --user ID`: a platform bearer token for a user (for curl, demos and tests)."""

from __future__ import annotations

import typer


def command(
    user: int = typer.Option(
        ..., "--user", min=1, max=2**31 - 1, help="User id (see `lectern seed` output or the users table)."
    ),
    ttl: int | None = typer.Option(None, min=60, help="Lifetime in seconds (default LECTERN_PLATFORM_TOKEN_TTL_S)."),
) -> None:
    """Print a bearer token for USER; the token is the last line of the output."""
    from sqlalchemy import select

    from core.auth import mint_token
    from core.container import Lectern
    from core.db.models import User
    from core.errors import NotFound
    from lectern.commands._settings import settings_or_exit

    settings = settings_or_exit()
    settings.require_api_secrets()  # a token the API would never accept helps nobody
    with Lectern.from_settings(settings) as lectern, lectern.engine.connect() as conn:
        row = conn.execute(select(User.role, User.email).where(User.id == user)).one_or_none()
    if row is None:
        raise NotFound(f"no user with id {user}")
    lifetime = ttl or settings.platform_token_ttl_s
    typer.echo(f"# {row.role} {row.email} (user {user}), valid for {lifetime} s — use: Authorization: Bearer <token>")
    # Plain echo, never a rich console: a wrapped token would not paste back.
    typer.echo(mint_token(settings.platform_jwt_secret.get_secret_value(), user, ttl_s=lifetime))

"""`lectern mux ...`: tasks on the Mux account (or the emulator, when MUX_API_URL points at it)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Mux account tasks.", no_args_is_help=True)
signing_key_app = typer.Typer(help="URL signing keys for signed playback.", no_args_is_help=True)
app.add_typer(signing_key_app, name="signing-key")


@signing_key_app.command("create")
def create_signing_key() -> None:
    """Create a signing key through Mux's System API and print the two settings to add to .env."""
    from core.container import Lectern
    from core.errors import NotConfigured
    from lectern.commands._settings import settings_or_exit

    settings = settings_or_exit()
    with Lectern.from_settings(settings) as lectern:
        if lectern.mux is None:
            raise NotConfigured("set MUX_TOKEN_ID and MUX_TOKEN_SECRET (a token with System permission)")
        key = lectern.mux.create_signing_key()
    typer.echo(f"# signing key {key.id} created at {settings.mux_api_url}; Mux shows the private key only now.")
    typer.echo("# Add these two lines to .env (keep the private key secret):")
    typer.echo(f"MUX_SIGNING_KEY_ID={key.id}")
    typer.echo(f"MUX_SIGNING_PRIVATE_KEY={key.private_key}")

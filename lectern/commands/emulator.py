"""`lectern emulator`: run the local Mux emulator (a group, so `simulate` etc. can join later)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from emulator.config import EmulatorConfig
from emulator.server import serve
from lectern.commands.simulate import simulate

app = typer.Typer(
    help="Run a local, stateful stand-in for Mux (API, upload URLs, stream/image hosts, webhooks).",
    no_args_is_help=False,
)
console = Console(stderr=True)


def _split(values: list[str] | None) -> list[str]:
    """Repeated options and comma-separated env values (LECTERN_EMULATOR_WEBHOOK_URLS=a,b) both work."""
    return [item.strip() for value in values or [] for item in value.split(",") if item.strip()]


def build_config(
    *,
    host: str,
    port: int,
    token_id: str,
    token_secret: str,
    webhook_url: list[str] | None,
    webhook_secret: str,
    processing_delay: float,
    state: Path | None,
    data_dir: Path | None,
    public_base_url: str | None,
    cors_origin: list[str] | None,
    seed: int,
    rate_limits: bool,
    log_level: str,
    max_page_limit: int = 100,
) -> EmulatorConfig:
    if data_dir is None and state is not None:
        # Media must outlive the process whenever state does, or restored assets would not play.
        data_dir = state.with_name(state.stem + "-media")
    return EmulatorConfig(
        host=host,
        port=port,
        token_id=token_id,
        token_secret=token_secret,
        webhook_urls=_split(webhook_url),
        webhook_secret=webhook_secret,
        processing_delay=processing_delay,
        state_file=state,
        data_dir=data_dir,
        public_base_url=public_base_url,
        cors_origins=_split(cors_origin),
        seed=seed,
        rate_limits=rate_limits,
        log_level=log_level,
        max_page_limit=max_page_limit,
    )


@app.callback(invoke_without_command=True)
def run(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to bind.", envvar="LECTERN_EMULATOR_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", envvar="LECTERN_EMULATOR_PORT")] = 8800,
    token_id: Annotated[
        str, typer.Option(help="Access token ID clients must send (basic auth user).", envvar="MUX_TOKEN_ID")
    ] = "emulator-token-id",
    token_secret: Annotated[
        str,
        typer.Option(help="Access token secret (basic auth password).", envvar="MUX_TOKEN_SECRET", show_default=False),
    ] = "emulator-token-secret",
    webhook_url: Annotated[
        list[str] | None,
        typer.Option(
            help="Webhook receiver URL; repeat for several (env: comma-separated).",
            envvar="LECTERN_EMULATOR_WEBHOOK_URLS",
        ),
    ] = None,
    webhook_secret: Annotated[
        str, typer.Option(help="Secret for Mux-Signature.", envvar="MUX_WEBHOOK_SECRET", show_default=False)
    ] = "emulator-webhook-secret",
    processing_delay: Annotated[
        float,
        typer.Option(help="Minimum seconds an asset stays preparing.", envvar="LECTERN_EMULATOR_PROCESSING_DELAY"),
    ] = 0.0,
    state: Annotated[
        Path | None,
        typer.Option(help="JSON state file; keeps objects across restarts.", envvar="LECTERN_EMULATOR_STATE"),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Media directory (default: next to --state, else a temp dir).", envvar="LECTERN_EMULATOR_DATA_DIR"
        ),
    ] = None,
    public_base_url: Annotated[
        str | None,
        typer.Option(help="Base URL handed out in upload/storyboard URLs.", envvar="LECTERN_EMULATOR_PUBLIC_URL"),
    ] = None,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(
            help="Origins allowed to call /_emulator/ from a browser.", envvar="LECTERN_EMULATOR_CORS_ORIGINS"
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for fault injection.", envvar="LECTERN_EMULATOR_SEED")] = 0,
    rate_limits: Annotated[
        bool, typer.Option(help="Start with Mux-like rate limits on.", envvar="LECTERN_EMULATOR_RATE_LIMITS")
    ] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    max_page_limit: Annotated[
        int,
        typer.Option(
            min=1,
            max=100,
            help="Largest list `limit` served; larger ones are capped silently, as Mux does.",
            envvar="LECTERN_EMULATOR_MAX_PAGE_LIMIT",
        ),
    ] = 100,
) -> None:
    """Serve the emulator until interrupted."""
    if ctx.invoked_subcommand is not None:
        return
    config = build_config(
        host=host,
        port=port,
        token_id=token_id,
        token_secret=token_secret,
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
        processing_delay=processing_delay,
        state=state,
        data_dir=data_dir,
        public_base_url=public_base_url,
        cors_origin=cors_origin,
        seed=seed,
        rate_limits=rate_limits,
        log_level=log_level,
        max_page_limit=max_page_limit,
    )
    console.print(f"[bold]Mux emulator[/bold] on {config.base_url}  (token id: {config.token_id})")
    console.print(f"  MUX_API_URL={config.base_url}")
    console.print(f"  MUX_STREAM_BASE_URL={config.base_url}/stream  MUX_IMAGE_BASE_URL={config.base_url}/image")
    console.print(f"  webhooks -> {', '.join(config.webhook_urls) or '(none; PUT /_emulator/config)'}")
    console.print(f"  state: {config.state_file or 'in memory only'}; media: {config.data_dir or 'temporary'}")
    serve(config)


# `lectern emulator simulate`: traffic for Mux Data and delivery usage (lives beside the platform-DB code).
app.command("simulate")(simulate)

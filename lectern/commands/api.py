"""`lectern api`: serve the Lectern API with uvicorn."""

from __future__ import annotations

import typer


def command(
    host: str = typer.Option("127.0.0.1", help="Interface to bind (0.0.0.0 for every interface)."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port to listen on."),
    workers: int = typer.Option(
        1, min=1, help="Worker processes (each builds its own app; /metrics adds up all of them: LECTERN_METRICS_DIR)."
    ),
    access_log: bool = typer.Option(True, "--access-log/--no-access-log", help="Log one line per request."),
) -> None:
    """Serve the API: upload URLs, the Mux webhook receiver, playback info, status (docs at /docs with
    LECTERN_API_DOCS=true). Refuses to start without a strong LECTERN_PLATFORM_JWT_SECRET."""
    from api.server import serve
    from core.logging import configure_logging, settings_secrets
    from core.settings import SettingsError
    from lectern.commands._settings import settings_or_exit

    settings = settings_or_exit()
    try:
        settings.require_api_secrets()
    except SettingsError as exc:
        # Re-raised with the consequence, which the bare setting problem does not say.
        raise SettingsError(f"{exc.message} (the API will not start)") from exc
    configure_logging(settings.log_level, secrets=settings_secrets(settings))
    serve(settings, host=host, port=port, workers=workers, access_log=access_log)

"""Which parts of Lectern are up: the platform DB, Mux (or the emulator), S3, the API, the warehouse.

Each check returns a `PartStatus` and never raises, so a status page can always draw every row. Details
(internal URLs, bucket, DB revision, user count, error text) are for admins: `for_viewer` keeps only
up/down and latency for everyone else.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import Engine, text

from core.settings import Settings

if TYPE_CHECKING:
    from core.container import Lectern


@dataclass(frozen=True)
class PartStatus:
    part: str
    ok: bool
    detail: str
    latency_ms: float | None = None


def _timed(part: str, probe: Callable[[], str]) -> PartStatus:
    started = time.perf_counter()
    try:
        detail = probe()
    except Exception as exc:  # a status page reports every failure instead of crashing on it
        return PartStatus(part, False, f"{type(exc).__name__}: {exc}"[:300])
    return PartStatus(part, True, detail, round((time.perf_counter() - started) * 1000, 1))


def check_database(engine: Engine) -> PartStatus:
    def probe() -> str:
        from alembic.runtime.migration import MigrationContext

        with engine.connect() as conn:
            users = conn.execute(text("SELECT count(*) FROM users")).scalar_one()
            revision = MigrationContext.configure(conn).get_current_revision()
        return f"revision {revision}, {users:,} users ({engine.dialect.name})"

    return _timed("Platform database", probe)


def check_http(part: str, url: str, *, auth: Any = None, expect: tuple[int, ...] = (200,)) -> PartStatus:
    def probe() -> str:
        response = httpx.get(url, auth=auth, timeout=3.0)
        if response.status_code not in expect:
            raise RuntimeError(f"{url} answered {response.status_code}")
        return f"{url} answered {response.status_code}"

    return _timed(part, probe)


def check_mux(settings: Settings) -> PartStatus:
    if not settings.mux_configured:
        return PartStatus("Mux API", False, "no credentials: set MUX_TOKEN_ID and MUX_TOKEN_SECRET")
    base = str(settings.mux_api_url).rstrip("/")
    auth = (settings.mux_token_id, settings.mux_token_secret.get_secret_value())
    status = check_http("Mux API", f"{base}/video/v1/assets?limit=1", auth=auth)
    kind = "real Mux" if "api.mux.com" in base else "emulator"
    return PartStatus(status.part, status.ok, f"{kind}: {status.detail}", status.latency_ms)


def check_s3(settings: Settings, s3_client: Any) -> PartStatus:
    def probe() -> str:
        s3_client.head_bucket(Bucket=settings.s3_bucket)
        return f"bucket {settings.s3_bucket} at {settings.s3_endpoint_url or 'AWS'}"

    return _timed("S3", probe)


def check_api(settings: Settings) -> PartStatus:
    return check_http("Lectern API", f"{str(settings.api_base_url).rstrip('/')}/healthz")


def check_warehouse(settings: Settings) -> PartStatus:
    path = Path(settings.warehouse_path)
    if not path.exists():
        return PartStatus("Warehouse", False, f"{path} not published yet (run `lectern sync --once`)")
    return PartStatus("Warehouse", True, f"{path} ({path.stat().st_size / 1e6:.1f} MB)")


def check_all(services: Lectern) -> list[PartStatus]:
    """Every part, through the process's container (its pool and S3 client: a check opens no new ones)."""
    settings = services.settings
    return [
        check_database(services.engine),
        check_api(settings),
        check_mux(settings),
        check_s3(settings, services.s3),
        check_warehouse(settings),
    ]


def for_viewer(statuses: list[PartStatus], *, admin: bool) -> list[PartStatus]:
    """What a viewer may see: everything for admins; for other roles only whether each part answered."""
    if admin:
        return statuses
    return [replace(s, detail="answered" if s.ok else "not answering (an admin sees why)") for s in statuses]

"""Admin cost report: Mux cost estimates from the warehouse, grouped by course, teacher, lesson, day or month."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from api.deps import ServicesDep, UserIdDep
from api.errors import responses
from core.auth import load_principal
from core.costs.pricebook import pricebook_from_settings
from core.costs.report import GROUP_BY, parse_report_params, report_csv, report_payload
from core.errors import Forbidden
from warehouse.costs import estimate_period
from warehouse.reader import reader_for

router = APIRouter(prefix="/api/costs", tags=["costs"])


@router.get(
    "/report",
    responses={
        200: {
            "content": {"application/json": {}, "text/csv": {}},
            "description": "Totals and one row per group; amounts in USD (cents add up to the totals).",
        },
        **responses(400, 401, 403, 503),
    },
    summary="Estimated Mux costs for a period (admins only)",
    description="Encoding, storage and delivery estimated from Mux usage at the configured price book "
    "(LECTERN_PRICEBOOK_PATH, LECTERN_PRICE_OVERRIDES), free delivery minutes and volume discounts spread pro "
    "rata. `from`/`to` are inclusive ISO dates (default: this month to date).",
)
def cost_report(
    user_id: UserIdDep,
    services: ServicesDep,
    first: Annotated[str | None, Query(alias="from", description="First day, e.g. 2026-11-01.")] = None,
    last: Annotated[str | None, Query(alias="to", description="Last day (inclusive).")] = None,
    group_by: Annotated[str | None, Query(description=f"One of {', '.join(GROUP_BY)}.")] = None,
    format: Annotated[str | None, Query(description="json or csv.")] = None,
) -> Response:
    settings = services.settings
    with services.session_factory() as session:
        principal = load_principal(session, user_id)
    if not principal.is_admin:
        raise Forbidden("cost reports are for admins")
    today = datetime.now(UTC).date()
    # A CostError (bad parameters, price book) answers 400 and WarehouseNotReady 503, by their kinds.
    params = parse_report_params(first, last, group_by, format, today=today, max_days=settings.cost_report_max_days)
    book = pricebook_from_settings(settings)
    with reader_for(settings.warehouse_path).connect() as con:
        estimate, attribution = estimate_period(con, params.period, book, today=today)
    headers = {"Cache-Control": "no-store"}
    if params.format == "csv":
        name = f"mux-costs-{params.period.start}-{params.period.last}-by-{params.group_by}.csv"
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return Response(report_csv(estimate, params.group_by, attribution), media_type="text/csv", headers=headers)
    return JSONResponse(report_payload(estimate, params.group_by, attribution), headers=headers)

"""HTTP routes: Mux Data (`/data/v1/video-views`, `/data/v1/metrics/...`, `/data/v1/exports/views`),
`/video/v1/delivery-usage`, the export files (`/_exports/...`, standing in for S3), and the
`/_emulator/simulate` and `/_emulator/views/...` controls.

Auth, rate limits and injected faults come from part 1's middleware, which covers every route of the
app by path (API prefixes) and route template (faults), so these routes need nothing of their own. The
export files are outside the API prefixes: like S3 presigned URLs they take no credentials (their
signature is the credential) and no Mux rate limit, but faults still apply.
"""

from __future__ import annotations

import hmac
import threading
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse

from emulator.data import exports, metrics, usage, views
from emulator.data.filters import (
    Selection,
    dimension,
    error_predicate,
    parse_filters,
    parse_metric_filters,
    parse_timeframe,
    selection_key,
    viewer_predicate,
)
from emulator.data.service import DataService, SimulateRequest, SimulationBusy
from emulator.data.store import ViewStore
from emulator.deps import JsonBody
from emulator.errors import MuxError, forbidden, invalid, not_found
from emulator.validation import page_params

router = APIRouter()
_service_lock = threading.Lock()


def get_data(request: Request) -> DataService:
    state = request.app.state
    service = getattr(state, "mux_data", None)
    if service is None:
        with _service_lock:
            service = getattr(state, "mux_data", None)
            if service is None:
                service = state.mux_data = DataService(state.emulator)
    return service


Data = Annotated[DataService, Depends(get_data)]
Filters = Annotated[list[str] | None, Query(alias="filters[]")]
MetricFilters = Annotated[list[str] | None, Query(alias="metric_filters[]")]
Timeframe = Annotated[list[str] | None, Query(alias="timeframe[]")]


def _direction(value: str | None) -> str | None:
    if value is not None and value not in ("asc", "desc"):
        raise invalid("order_direction must be asc or desc")
    return value


def _selection(
    store: ViewStore,
    now: float,
    timeframe: Timeframe,
    filters: Filters,
    metric_filters: MetricFilters,
    viewer_id: str | None = None,
    error_id: str | None = None,
) -> tuple[Selection, tuple[int, int]]:
    start, end = parse_timeframe(timeframe, now)
    predicates = (
        parse_filters(store, filters)
        + parse_metric_filters(metric_filters)
        + viewer_predicate(store, viewer_id)
        + error_predicate(error_id)
    )
    lo, hi = store.bounds(start, end, now)
    key = selection_key(filters=filters, metric_filters=metric_filters, viewer_id=viewer_id, error_id=error_id)
    return Selection(store, lo, hi, predicates, key), (start, end)


# -- Mux Data: video views ------------------------------------------------------------------------


@router.get("/data/v1/video-views")
def list_video_views(
    data: Data,
    limit: int | None = None,
    page: int | None = None,
    viewer_id: str | None = None,
    error_id: str | None = None,
    order_direction: str | None = None,
    filters: Filters = None,
    metric_filters: MetricFilters = None,
    timeframe: Timeframe = None,
) -> JSONResponse:
    limit, page = page_params(limit, page, max_limit=data.emu.config.max_page_limit)
    descending = (_direction(order_direction) or "desc") == "desc"
    store = data.current()
    sel, window = _selection(store, data.now(), timeframe, filters, metric_filters, viewer_id, error_id)
    total = sel.count()
    rows = sel.rows((page - 1) * limit, limit, descending)
    body = {"data": views.abridged_page(store, rows, total), "total_row_count": total, "timeframe": list(window)}
    return JSONResponse(body)  # already plain JSON types: skip FastAPI's (slow) re-encoding


@router.get("/data/v1/video-views/{video_view_id}")
def get_video_view(data: Data, video_view_id: str) -> dict[str, Any]:
    store = data.current()
    now = data.now()
    row = store.row_of_id(video_view_id)
    if row is None or row >= store.visible(now):
        raise not_found()
    return {
        "data": views.full(store, row, environment_id=data.emu.config.environment_id),
        "timeframe": [int(now) - 86_400, int(now)],
        "total_row_count": None,
    }


# -- Mux Data: view exports ----------------------------------------------------------------------

EXPORTS_FORBIDDEN = "Video view exports are not enabled for this environment's plan."


def _export_settings(data: DataService) -> exports.ExportSettings:
    cfg = data.export_settings()
    if not cfg.enabled:
        raise forbidden(EXPORTS_FORBIDDEN)
    return cfg


@router.get("/data/v1/exports/views")
def list_view_exports(data: Data) -> JSONResponse:
    return JSONResponse(exports.listing(_export_settings(data), data.now()))


@router.get("/data/v1/exports")
def list_exports(data: Data) -> JSONResponse:
    """The deprecated listing: the same files as bare URLs, oldest first (as Mux's example shows)."""
    body = exports.listing(_export_settings(data), data.now())
    paths = [item["files"][0]["path"] for item in reversed(body["data"])]
    return JSONResponse({**body, "data": paths})


def _s3_error(status: int, code: str, message: str) -> Response:
    # What S3 answers a presigned URL it refuses.
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return Response(body, status_code=status, media_type="application/xml")


@router.get("/_exports/views/{environment}/{file_name}")
def view_export_file(
    request: Request,
    data: Data,
    environment: str,
    file_name: str,
    version: str = "",
    expires: str = "",
    signature: str = "",
) -> Response:
    cfg = data.export_settings()
    day = exports.parse_file_name(file_name)
    if day is None or not version.isdigit() or not expires.isdigit():
        return _s3_error(403, "AccessDenied", "Query-string authentication requires a signature and expiry")
    expected = exports.signature(cfg.secret, environment, day, int(version), int(expires))
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        return _s3_error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match")
    now = data.now()
    if int(expires) < now:
        return _s3_error(403, "AccessDenied", "Request has expired")
    if (
        not cfg.enabled
        or environment != cfg.environment_id
        or int(version) != cfg.version
        or day not in exports.listed_days(now, cfg.days, cfg.delay_s)
    ):
        # Expired from the listing, or re-published in another version since this URL was signed.
        return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
    store = data.current()
    etag = f'"{data.exports.fingerprint(store, day, cfg.version, cfg.environment_id)}"'
    if etag in {tag.strip() for tag in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers={"ETag": etag})
    started = time.perf_counter()
    built = data.exports.get(store, day, cfg.version, cfg.environment_id)
    headers = {"ETag": f'"{built.etag}"', "x-emulator-build-seconds": f"{time.perf_counter() - started:.3f}"}
    return FileResponse(built.path, media_type="application/gzip", headers=headers)


# -- Mux Data: metrics ----------------------------------------------------------------------------


@router.get("/data/v1/metrics/{metric_id}/overall")
def overall_values(
    data: Data,
    metric_id: str,
    measurement: str | None = None,
    filters: Filters = None,
    metric_filters: MetricFilters = None,
    timeframe: Timeframe = None,
) -> JSONResponse:
    metric, measurement = metrics.resolve(metric_id, measurement)
    sel, window = _selection(data.current(), data.now(), timeframe, filters, metric_filters)
    return JSONResponse(metrics.overall(sel, metric, measurement, window))


@router.get("/data/v1/metrics/{metric_id}/breakdown")
def breakdown_values(
    data: Data,
    metric_id: str,
    group_by: str | None = None,
    measurement: str | None = None,
    limit: int | None = None,
    page: int | None = None,
    order_by: str | None = None,
    order_direction: str | None = None,
    filters: Filters = None,
    metric_filters: MetricFilters = None,
    timeframe: Timeframe = None,
) -> JSONResponse:
    metric, measurement = metrics.resolve(metric_id, measurement)
    if not group_by:
        raise invalid("group_by is required")
    limit, page = page_params(limit, page, max_limit=data.emu.config.max_page_limit)
    store = data.current()
    dim = dimension(store, group_by)
    sel, window = _selection(store, data.now(), timeframe, filters, metric_filters)
    body = metrics.breakdown(
        sel,
        metric,
        measurement,
        dim,
        window,
        limit=limit,
        page=page,
        order_by=order_by,
        order_direction=_direction(order_direction),
    )
    return JSONResponse(body)


@router.get("/data/v1/metrics/{metric_id}/timeseries")
def timeseries_values(
    data: Data,
    metric_id: str,
    group_by: str | None = None,
    measurement: str | None = None,
    order_direction: str | None = None,
    filters: Filters = None,
    metric_filters: MetricFilters = None,
    timeframe: Timeframe = None,
) -> JSONResponse:
    metric, measurement = metrics.resolve(metric_id, measurement)
    sel, window = _selection(data.current(), data.now(), timeframe, filters, metric_filters)
    body = metrics.timeseries(
        sel, metric, measurement, window, granularity=group_by, order_direction=_direction(order_direction)
    )
    return JSONResponse(body)


# -- Mux Video: delivery usage ------------------------------------------------------------------


@router.get("/video/v1/delivery-usage")
def delivery_usage(
    data: Data,
    page: int | None = None,
    limit: int | None = None,
    asset_id: str | None = None,
    live_stream_id: str | None = None,
    timeframe: Timeframe = None,
) -> JSONResponse:
    if asset_id and live_stream_id:
        raise invalid("Cannot specify both asset_id and live_stream_id")
    limit, page = page_params(limit, page, max_limit=data.emu.config.max_page_limit, default_limit=100)
    now = data.now()
    start, end = usage.usage_window(timeframe, now)
    store = data.current()
    rows: list[dict[str, Any]] = []
    if not live_stream_id:  # the emulator has no live streams
        lo, hi = store.bounds(start, end, now)
        rows = usage.delivery_rows(store, lo, hi, data.assets(), asset_id)
    offset = (page - 1) * limit
    body = {
        "data": rows[offset : offset + limit],
        "total_row_count": len(rows),
        "timeframe": [start, end],
        "page": page,
        "limit": limit,
    }
    return JSONResponse(body)


# -- controls -------------------------------------------------------------------------------------


@router.post("/_emulator/simulate")
def simulate(data: Data, body: JsonBody = None) -> dict[str, Any]:
    """Replace (or extend) the simulated views; answers when the views are queryable."""
    try:
        request = SimulateRequest.parse(body)
        return {"data": data.simulate(request)}
    except SimulationBusy:
        raise MuxError(409, "conflict", "A simulation is already running") from None
    except ValueError as exc:
        raise invalid(str(exc)) from None


@router.get("/_emulator/simulate")
def simulate_status(data: Data) -> dict[str, Any]:
    status = data.status
    return {
        "data": {
            "state": status.state,
            "generated": status.generated,
            "total": status.total,
            "started_at": status.started_at,
            "seconds": status.seconds,
            "error": status.error,
        }
    }


@router.get("/_emulator/views")
def views_summary(data: Data) -> dict[str, Any]:
    store = data.current()
    now = data.now()
    return {
        "data": {
            "views": store.n,
            "visible": store.visible(now),
            "videos": len(store.lessons),
            "viewers": len(store.viewers),
            "memory_bytes": store.nbytes,
            "first_view_end": views.iso(int(store["end_ms"][0])) if store.n else None,
            "last_view_end": views.iso(int(store["end_ms"][-1])) if store.n else None,
        }
    }


@router.delete("/_emulator/views")
def clear_views(data: Data) -> dict[str, Any]:
    data.clear()
    return {"data": {"views": 0}}


@router.get("/_emulator/views/progress")
def views_progress(data: Data, page: int = 1, limit: int = 1000) -> JSONResponse:
    """Per (viewer_user_id, video_id): views, furthest position, playing time, first/last view."""
    if page < 1 or not 1 <= limit <= 10_000:
        raise invalid("page must be >= 1 and limit between 1 and 10000")
    store = data.current()
    table = usage.progress(store, store.visible(data.now()))
    body = {
        "data": usage.progress_rows(store, table, (page - 1) * limit, limit),
        "total_row_count": len(table.views),
        "page": page,
        "limit": limit,
    }
    return JSONResponse(body)

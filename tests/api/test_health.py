"""Health, readiness, metrics (per-app registry) and the OpenAPI description."""

from __future__ import annotations

from api.main import create_app
from tests.api.conftest import ApiFactory, api_settings


def test_healthz_readyz_and_metrics(db_url: str, start_api: ApiFactory) -> None:
    api = start_api(api_settings(db_url))
    assert api.http.get("/healthz").json() == {"status": "ok", "detail": None}
    assert api.http.get("/readyz").json() == {"status": "ok"}
    api.http.get("/api/videos/123/playback")
    text = api.http.get("/metrics").text
    assert 'lectern_http_requests_total{method="GET",route="/api/videos/{lesson_id}/playback",status="401"} 1.0' in text
    assert 'lectern_http_request_duration_seconds_bucket{le="0.05",method="GET",route="/healthz"}' in text
    assert "/api/videos/123" not in text  # labels use route templates, never raw paths


def test_readyz_is_503_when_the_database_is_unreachable(start_api: ApiFactory) -> None:
    api = start_api(api_settings("postgresql://nobody@127.0.0.1:1/nothing"))
    resp = api.http.get("/readyz")
    assert resp.status_code == 503
    assert resp.json()["status"] == "unavailable"
    assert api.http.get("/healthz").status_code == 200


def test_each_app_has_its_own_registry(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = api_settings(f"sqlite:///{tmp_path}/x.db")
    one, two = create_app(settings), create_app(settings)
    assert one.state.services.metrics.registry is not two.state.services.metrics.registry
    one.state.services.close()
    two.state.services.close()


def test_openapi_documents_every_error_response(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(api_settings(f"sqlite:///{tmp_path}/x.db"))
    spec = app.openapi()
    expected = {
        ("/api/videos/mux/upload-url", "post"): {"200", "401", "403", "404", "503"},
        ("/api/videos/mux/webhook", "post"): {"200", "400", "401", "413"},
        ("/api/videos/{lesson_id}/playback", "get"): {"200", "401", "403", "404", "409"},
        ("/api/lessons/{lesson_id}/status", "get"): {"200", "401", "403", "404"},
        ("/api/lessons/{lesson_id}/events", "get"): {"200", "401", "403", "404"},
        ("/readyz", "get"): {"200", "503"},
    }
    for (path, method), statuses in expected.items():
        documented = set(spec["paths"][path][method]["responses"])
        assert statuses <= documented, (path, documented)
    assert spec["paths"]["/api/videos/{lesson_id}/playback"]["get"]["responses"]["409"]["content"]["application/json"][
        "schema"
    ] == {"$ref": "#/components/schemas/ErrorBody"}
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    app.state.services.close()

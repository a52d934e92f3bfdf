"""Health, readiness, metrics (per-app registry) and the OpenAPI description."""

from __future__ import annotations

import pytest

from api.main import create_app
from core.settings import SettingsError
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
    spec = app.openapi()  # built even when /openapi.json is not served (LECTERN_API_DOCS)
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


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ("", "not set"),
        ("dev-only-secret-change-me-in-production-0001", "published default"),  # was the built-in default
        ("short-secret", "shorter than 32 bytes"),
    ],
)
def test_the_api_refuses_to_start_with_a_missing_published_or_short_jwt_secret(
    tmp_path, secret: str, problem: str
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SettingsError, match=problem):
        create_app(api_settings(f"sqlite:///{tmp_path}/x.db", platform_jwt_secret=secret))
    if secret:  # the explicit development flag lets a developer use a weak one
        app = create_app(api_settings(f"sqlite:///{tmp_path}/x.db", platform_jwt_secret=secret, dev_mode=True))
        app.state.services.close()


def test_docs_and_openapi_are_off_by_default_and_on_by_setting(db_url: str, start_api: ApiFactory) -> None:
    off = start_api(api_settings(db_url))
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert off.http.get(path).status_code == 404, path
    on = start_api(api_settings(db_url, api_docs=True))
    page = on.http.get("/docs")
    assert page.status_code == 200
    # Swagger UI from this server's own files: no CDN, so the page works offline.
    assert "cdn.jsdelivr.net" not in page.text and "/docs/assets/swagger-ui-bundle.js" in page.text
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"):
        assert on.http.get(f"/docs/assets/{name}").status_code == 200, name
    for name in ("LICENSE", "..%2F..%2Fapi%2Fmain.py", "package.json"):
        assert on.http.get(f"/docs/assets/{name}").status_code == 404, name
    assert on.http.get("/redoc").status_code == 404  # ReDoc needs Google Fonts: not served
    assert "/api/videos/{lesson_id}/playback" in on.http.get("/openapi.json").json()["paths"]


def test_metrics_are_off_unless_a_token_or_an_address_allows_them(db_url: str, start_api: ApiFactory) -> None:
    off = start_api(api_settings(db_url, metrics_allow=[]))
    resp = off.http.get("/metrics")
    assert resp.status_code == 404 and "LECTERN_METRICS_TOKEN" in resp.json()["error"]["message"]
    token = "scrape-token-0123456789abcdef"
    tok = start_api(api_settings(db_url, metrics_allow=[], metrics_token=token))
    assert tok.http.get("/metrics").status_code == 401
    assert tok.http.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    scraped = tok.http.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert scraped.status_code == 200 and "lectern_http_requests_total" in scraped.text
    elsewhere = start_api(api_settings(db_url, metrics_allow=["10.0.0.0/8"]))
    assert elsewhere.http.get("/metrics").status_code == 403  # we scrape from 127.0.0.1
    here = start_api(api_settings(db_url, metrics_allow=["10.0.0.0/8", "127.0.0.0/8"]))
    assert here.http.get("/metrics").status_code == 200

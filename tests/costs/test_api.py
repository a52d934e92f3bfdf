"""GET /api/costs/report over real HTTP: admins only, JSON and CSV that match the estimator to the cent."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from api.main import create_app
from api.testing import ApiServer
from core.auth import mint_token
from core.costs.estimate import Period
from core.costs.money import cents_str, micros_to_cents
from core.costs.pricebook import load_pricebook
from core.db.engine import make_engine, make_session_factory
from tests.api.conftest import JWT_SECRET, api_settings
from tests.costs.demo import build_demo, write_warehouse
from tests.factories import make_user
from warehouse.costs import estimate_period
from warehouse.reader import WarehouseReader


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_warehouse(tmp_path_factory.mktemp("wh") / "warehouse.duckdb", build_demo(datetime.now(UTC).date()))


@pytest.fixture
def api(db_url: str, warehouse: Path) -> Iterator[tuple[httpx.Client, dict[str, int]]]:
    settings = api_settings(db_url, warehouse_path=warehouse)
    engine = make_engine(db_url)
    with make_session_factory(engine)() as session, session.begin():
        users = {role: make_user(session, role=role).id for role in ("admin", "teacher", "student")}
    with ApiServer(create_app(settings)) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        yield http, users
    engine.dispose()


def _auth(user_id: int) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(JWT_SECRET, user_id, ttl_s=600)}"}


def test_report_needs_an_admin(api: tuple[httpx.Client, dict[str, int]]) -> None:
    http, users = api
    assert http.get("/api/costs/report").status_code == 401
    for role in ("teacher", "student"):
        response = http.get("/api/costs/report", headers=_auth(users[role]))
        assert response.status_code == 403, role
        assert response.json()["error"]["type"] == "Forbidden"


BAD_QUERIES = [
    ({"from": "2026-13-01"}, "`from` must be a date"),
    ({"from": "2026-11-10", "to": "2026-11-01"}, "before `from`"),
    ({"group_by": "planet"}, "`group_by` must be one of"),
    ({"format": "xml"}, "`format` must be one of"),
    ({"from": "2020-01-01", "to": "2026-01-01"}, "at most 400"),
    # Dates at the edge of the calendar overflowed date arithmetic into a 500.
    ({"from": "9999-12-31", "to": "9999-12-31"}, "`from` must be between 1970-01-01 and 2261-12-31"),
    ({"from": "2026-11-01", "to": "9999-12-31"}, "`to` must be between"),
    ({"from": "0001-01-01", "to": "0001-01-01"}, "`from` must be between"),
]


def test_bad_parameters_are_400(api: tuple[httpx.Client, dict[str, int]]) -> None:
    http, users = api
    for query, message in BAD_QUERIES:
        response = http.get("/api/costs/report", params=query, headers=_auth(users["admin"]))
        assert response.status_code == 400, query
        assert message in response.json()["error"]["message"], query


def test_json_and_csv_match_the_estimator(api: tuple[httpx.Client, dict[str, int]], warehouse: Path) -> None:
    http, users = api
    today = datetime.now(UTC).date()
    first = today - timedelta(days=40)
    reader = WarehouseReader(warehouse)
    try:
        with reader.connect() as con:
            expected, _ = estimate_period(con, Period.inclusive(first, today), load_pricebook(), today=today)
    finally:
        reader.close()
    total = cents_str(micros_to_cents(expected.total_micros))
    for group in ("course", "teacher", "lesson", "day", "month"):
        query = {"from": first.isoformat(), "to": today.isoformat(), "group_by": group}
        body = http.get("/api/costs/report", params=query, headers=_auth(users["admin"])).json()
        assert body["total_micros"] == expected.total_micros, group
        assert body["totals"]["net_usd"] == total
        assert sum(Decimal(g["net_usd"]) for g in body["groups"]) == Decimal(total), group
    response = http.get(
        "/api/costs/report",
        params={"from": first.isoformat(), "to": today.isoformat(), "group_by": "teacher", "format": "csv"},
        headers=_auth(users["admin"]),
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert {"teacher_id", "teacher_name", "encoding_usd", "storage_usd", "delivery_usd", "net_usd"} <= set(rows[0])
    assert sum(Decimal(r["net_usd"]) for r in rows) == Decimal(total)


def test_default_period_is_this_month(api: tuple[httpx.Client, dict[str, int]]) -> None:
    http, users = api
    body = http.get("/api/costs/report", headers=_auth(users["admin"])).json()
    today = datetime.now(UTC).date()
    assert body["from"] == today.replace(day=1).isoformat() and body["to"] == today.isoformat()
    assert body["group_by"] == "course" and body["pricebook"].startswith("mux-list-")
    assert isinstance(date.fromisoformat(body["from"]), date)

"""Admin > Costs page (Streamlit AppTest): KPIs, charts and the what-if panel for admins; teachers refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from core.costs.alerts import KIND
from core.db.engine import make_engine
from core.db.migrate import upgrade
from core.db.models import Alert
from dashboard.auth import SESSION_KEY, SignedInUser
from tests.costs.demo import build_demo, write_warehouse

PAGE = str(Path(__file__).resolve().parents[2] / "dashboard" / "pages" / "admin_costs.py")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_warehouse(tmp_path_factory.mktemp("wh") / "warehouse.duckdb", build_demo(datetime.now(UTC).date()))


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, warehouse: Path) -> Iterator[None]:
    monkeypatch.setenv("LECTERN_WAREHOUSE_PATH", str(warehouse))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'platform.db'}")
    monkeypatch.setenv("LECTERN_MONTHLY_BUDGET_USD", "0.5")
    monkeypatch.delenv("LECTERN_PRICE_OVERRIDES", raising=False)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def _run(role: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state[SESSION_KEY] = SignedInUser(1, f"{role}@demo.test", role.title(), role)
    at.run()
    return at


def test_admin_sees_kpis_charts_and_what_if() -> None:
    at = _run("admin")
    assert not at.exception, at.exception
    labels = [m.label for m in at.metric]
    assert labels[:3] == ["Month to date", "Last month", "Projected month end"]
    assert all(m.value.startswith("$") for m in at.metric)
    charts = at.get("plotly_chart")
    assert len(charts) == 5  # by line item, top courses, top lessons, month path, months
    assert any("over the $0.50 monthly budget" in w.value for w in at.warning)
    assert_money_is_shown_as_money(at)
    at.selectbox[0].set_value("720p")
    at.selectbox[1].set_value("premium")
    at.checkbox[0].check()
    at.button[0].click()
    at.run()
    assert not at.exception, at.exception
    assert len(at.get("plotly_chart")) == 6
    # The note says what was chosen: the migrated lessons too are premium and capped at 720p.
    assert any(m.value == "What if: every video at premium quality; resolution capped at 720p; the remaining S3 "
               "lessons moved to Mux." for m in at.markdown)  # fmt: skip
    migrated = [c.value for c in at.caption if "S3 lessons migrated" in c.value]
    assert migrated and all("as premium 720p" in note for note in migrated)
    assert at.get("download_button")
    assert_money_is_shown_as_money(at)


def assert_money_is_shown_as_money(at: AppTest) -> None:
    """Every money axis has round dollar ticks (never SI suffixes like `$140µ`), today's bar is marked as
    partial, tables have human headers and no text reads `None`, `nan` or `µ`."""
    for chart in at.get("plotly_chart"):
        figure = json.loads(chart.proto.spec)
        layout = figure["layout"]
        money = [layout[a] for a in ("xaxis", "yaxis") if layout.get(a, {}).get("tickprefix") == "$"]
        assert money, layout.get("title")
        assert all(axis["tickformat"] in (",.2f", ",.0f") for axis in money)
    daily = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert any(a.get("text") == "today, so far" for a in daily["layout"].get("annotations", []))
    for frame in at.dataframe:
        headers = [column.get("label", "") for column in json.loads(frame.proto.columns).values()]
        assert all("_" not in header for header in headers), headers
    text = "\n".join(
        [*(str(e.value) for kind in ("markdown", "caption", "info", "warning", "success") for e in getattr(at, kind)),
         *(f"{m.label} {m.value} {m.proto.delta}" for m in at.metric)]
    )  # fmt: skip
    for bad in ("None", "nan", "µ"):
        assert bad not in text, bad


def test_recorded_budget_alerts_are_shown(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'alerts.db'}"
    upgrade(db_url)
    engine = make_engine(db_url)
    with Session(engine) as session, session.begin():
        session.add(
            Alert(key="cost-budget:2030-01", kind=KIND, severity="critical", message="Over by a mile.", state="firing")
        )
        session.add(
            Alert(
                key="cost-budget:2029-12",
                kind=KIND,
                message="Old news.",
                state="resolved",
                resolved_at=datetime.now(UTC),
            )
        )
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", db_url)
    at = _run("admin")
    assert not at.exception, at.exception
    assert any("Over by a mile." in e.value for e in at.error)
    assert not any("Old news." in w.value for w in [*at.warning, *at.error])


def test_teacher_is_refused() -> None:
    at = _run("teacher")
    assert not at.exception
    assert any("This page is for admin" in e.value for e in at.error)
    assert not at.metric and not at.get("plotly_chart")


def test_no_warehouse_gives_a_helpful_caption(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LECTERN_WAREHOUSE_PATH", str(tmp_path / "none.duckdb"))
    at = _run("admin")
    assert not at.exception
    assert any("first warehouse sync" in i.value for i in at.info)

"""Forecast: an honest band on a known trend, and one budget alert per month however often it runs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.alerts.config import AlertConfig
from core.alerts.rules import resolve_rules
from core.alerts.store import evaluate
from core.costs.alerts import KIND, budget_key, budget_observations
from core.costs.errors import CostInputInvalid
from core.costs.estimate import Period, estimate_costs, month_start, next_month
from core.costs.forecast import CostHistory, forecast_costs, history_from_estimate, history_period
from core.costs.pricebook import load_pricebook
from core.db.engine import make_engine
from core.db.models import Alert
from tests.costs.demo import build_demo

AS_OF = date(2026, 9, 15)


def _trend(day: date) -> tuple[float, float, float]:
    t = (day - date(2026, 6, 1)).days
    return 50_000.0 + 1_000.0 * t, 2_000_000.0 + 30_000.0 * t, 20_000.0  # storage, delivery, encoding (micros)


def synthetic_history(seed: int = 1) -> CostHistory:
    rng = np.random.default_rng(seed)
    days = [AS_OF - timedelta(days=i) for i in range(90, 0, -1)]
    storage, delivery, encoding = np.array([_trend(d) for d in days]).T
    return CostHistory(
        daily=pd.DataFrame(
            {
                "day": days,
                "storage": storage,
                "delivery": delivery + rng.normal(0, 300_000, len(days)),
                "encoding": np.clip(encoding + rng.normal(0, 10_000, len(days)), 0, None),
                "delivered_min": delivery / 1_000.0,
            }
        ),
        month_to_date_net_micros=0,
    )


def _no_credits() -> object:
    return load_pricebook().with_overrides({"delivery.free_minutes_per_month": 0, "volume.enabled": 0})


def test_linear_trend_is_inside_the_band_and_the_band_widens() -> None:
    history = synthetic_history()
    forecast = forecast_costs(history, _no_credits(), as_of=AS_OF, months_ahead=3, paths=800)  # type: ignore[arg-type]
    months = forecast.months
    assert list(months["is_current"]) == [True, False, False, False]
    observed = history.daily.set_index("day")[["storage", "delivery", "encoding"]].sum(axis=1)
    for row in months.itertuples():
        first, end = row.month, next_month(row.month)
        days = [first + timedelta(days=i) for i in range((end - first).days)]
        # Days already seen count as observed (noise included); the band covers the days still to come.
        truth = sum(observed[d] if d < AS_OF else sum(_trend(d)) for d in days)
        assert row.low_micros <= truth <= row.high_micros, (row.month, row.low_micros, truth, row.high_micros)
        assert row.low_micros <= row.p50_micros <= row.high_micros
    per_day = (months["high_micros"] - months["low_micros"]) / months["days_in_month"]
    future = per_day[~months["is_current"]].to_list()
    assert future == sorted(future) and future[-1] > future[0] * 1.2
    current = forecast.current_month
    assert current["day"].min() == month_start(AS_OF) and current["day"].max() == date(2026, 9, 30)
    assert current["actual_cum_micros"].notna().sum() == AS_OF.day - 1


def test_forecast_needs_two_weeks_of_history() -> None:
    history = synthetic_history()
    short = CostHistory(daily=history.daily.tail(5))
    with pytest.raises(CostInputInvalid, match="at least 14 days"):
        forecast_costs(short, load_pricebook(), as_of=AS_OF)


def test_forecast_from_a_real_estimate() -> None:
    today = date(2026, 11, 25)
    demo = build_demo(today)
    period = history_period(today + timedelta(days=1))
    estimate = estimate_costs(demo.assets, demo.delivery, demo.views, period, load_pricebook())
    history = history_from_estimate(estimate)
    mtd = estimate.subset(Period(date(2026, 11, 1), today + timedelta(days=1))).total_micros
    assert history.month_to_date_net_micros == mtd
    forecast = forecast_costs(history, load_pricebook(), as_of=today + timedelta(days=1), budget_usd=0.01)
    current = forecast.months.iloc[0]
    assert current["is_current"] and current["p50_micros"] >= mtd * 0.9
    assert len(forecast.crossings()) >= 1


def test_budget_crossing_is_one_alert_however_often_it_runs(db_url: str) -> None:
    history = synthetic_history()
    forecast = forecast_costs(history, _no_credits(), as_of=AS_OF, months_ahead=0, budget_usd=10.0)  # type: ignore[arg-type]
    assert list(forecast.crossings()["month"]) == [date(2026, 9, 1)]
    config = AlertConfig(rules=resolve_rules())
    at = datetime(2026, 9, 15, 6, tzinfo=UTC)
    engine = make_engine(db_url)
    try:
        with Session(engine) as session, session.begin():
            outcome = evaluate(session, config, {KIND}, budget_observations(forecast), now=at)
            assert outcome.opened == outcome.fired == [budget_key("2026-09")]  # no `for` duration: fires at once
        again = forecast_costs(history, _no_credits(), as_of=AS_OF, months_ahead=0, budget_usd=12.0)  # type: ignore[arg-type]
        with Session(engine) as session, session.begin():
            assert evaluate(session, config, {KIND}, budget_observations(again), now=at).opened == []
        with Session(engine) as session:
            assert session.execute(select(func.count()).select_from(Alert)).scalar_one() == 1
            alert = session.execute(select(Alert)).scalar_one()
            assert alert.key == "cost-budget:2026-09" and alert.kind == "cost_budget" and alert.state == "firing"
            assert alert.context is not None and alert.context["budget_micros"] == 12_000_000  # refreshed
            assert alert.threshold == 12.0 and alert.value is not None and alert.value > 12.0
            assert "over the $12.00 monthly budget" in alert.message
        under = forecast_costs(history, _no_credits(), as_of=AS_OF, months_ahead=0, budget_usd=1e9)  # type: ignore[arg-type]
        assert budget_observations(under) == []
        with Session(engine) as session, session.begin():
            assert evaluate(session, config, {KIND}, [], now=at).resolved == [budget_key("2026-09")]
    finally:
        engine.dispose()

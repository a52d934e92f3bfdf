"""Admin > Costs: what Mux is costing, where it goes, where the month is heading, and what would change it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import streamlit as st
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from core.costs.alerts import KIND
from core.costs.errors import CostError
from core.costs.money import usd
from core.costs.pricebook import pricebook_from_settings
from core.costs.report import present, report_csv, rollup
from core.costs.whatif import CAPS, Levers, what_if
from core.db.models import Alert
from dashboard import context
from dashboard.auth import require_role
from dashboard.charts import costs as charts
from warehouse.costs import CostOverview, cost_overview, load_cost_inputs, load_s3_lessons
from warehouse.reader import reader_for
from warehouse.store import WarehouseNotReady

CACHE_TTL_S = 300

require_role("admin")
settings = context.settings()
st.title("Costs")


@st.cache_data(ttl=CACHE_TTL_S, show_spinner="Estimating Mux costs…")
def overview(snapshot: str, first: date, last: date, today: date) -> CostOverview:
    # `snapshot` is only part of the cache key: a newly published warehouse invalidates cached estimates.
    from core.costs.estimate import Period

    book = pricebook_from_settings(settings)
    with reader_for(settings.warehouse_path).connect() as con:
        return cost_overview(
            con, book, today=today, period=Period.inclusive(first, last), budget_usd=settings.monthly_budget_usd
        )


@st.cache_data(ttl=60, show_spinner=False)
def open_budget_alerts() -> list[dict[str, str]]:
    with context.session_factory()() as session:
        alerts = session.execute(
            select(Alert).where(Alert.kind == KIND, Alert.resolved_at.is_(None)).order_by(Alert.key)
        ).scalars()
        return [
            {"severity": a.severity, "message": a.message, "since": f"{a.created_at:%Y-%m-%d %H:%M} UTC"}
            for a in alerts
        ]


today = datetime.now(UTC).date()
picked = st.date_input("Period", value=(today.replace(day=1), today), max_value=today, key="costs_period")
if not isinstance(picked, tuple) or len(picked) != 2:
    st.caption("Pick the last day of the period too.")
    st.stop()
first, last = picked
try:
    book = pricebook_from_settings(settings)
    snapshot = str(reader_for(settings.warehouse_path).snapshot)
    data = overview(snapshot, first, last, today)
except WarehouseNotReady:
    st.info("No warehouse yet: costs are estimated from synced Mux usage. Run `lectern sync --once` first.")
    st.stop()
except CostError as exc:
    st.error(exc.user_message)
    st.stop()

st.caption(
    f"Estimated from Mux usage at list prices ({book.version}, effective {book.effective}"
    + (f", {len(book.overrides)} negotiated overrides" if book.overrides else "")
    + "). Free delivery minutes and volume discounts are spread over assets pro rata to usage."
)
if data.estimate.is_empty and data.month_to_date_micros == 0:
    st.caption("No Mux usage in this period yet: nothing is stored, encoded or delivered on Mux.")
    st.stop()

forecast = data.forecast
kpi = st.columns(4)
kpi[0].metric(
    "Month to date",
    usd(data.month_to_date_micros),
    delta=usd(data.month_to_date_micros - data.last_month_same_days_micros),
    delta_color="inverse",
    help="Compared with the same days of last month.",
)
kpi[1].metric("Last month", usd(data.last_month_micros))
if forecast is not None:
    current = forecast.months[forecast.months["is_current"]].iloc[0]
    kpi[2].metric(
        "Projected month end",
        usd(int(current["p50_micros"])),
        help=f"Band {usd(int(current['low_micros']))} to {usd(int(current['high_micros']))}.",
    )
kpi[3].metric("Selected period", usd(data.estimate.total_micros), help=f"{first} to {last}")
if settings.monthly_budget_usd is not None and forecast is not None and not forecast.crossings().empty:
    months = ", ".join(f"{m:%Y-%m}" for m in forecast.crossings()["month"])
    st.warning(f"Projected over the {usd(forecast.budget_micros or 0)} monthly budget in {months}.")
try:
    # What the scheduled `cost_alerts` sync job recorded (open until a projection drops under budget).
    for alert in open_budget_alerts():
        show = st.error if alert["severity"] == "critical" else st.warning
        show(f"Budget alert since {alert['since']}: {alert['message']}")
except SQLAlchemyError as exc:
    st.caption(f"Recorded budget alerts are unavailable ({type(exc).__name__}).")

st.plotly_chart(charts.cost_by_line(rollup(data.estimate, "day")), width="stretch")
left, right = st.columns(2)
by_course = rollup(data.estimate, "course", data.attribution)
by_lesson = rollup(data.estimate, "lesson", data.attribution)
left.plotly_chart(charts.top_groups(by_course, "course_title", "Top courses"), width="stretch")
right.plotly_chart(charts.top_groups(by_lesson, "lesson_title", "Top lessons"), width="stretch")

st.subheader("Forecast")
if forecast is None:
    st.caption("Not enough history for a forecast yet (two weeks of usage needed).")
else:
    one, two = st.columns(2)
    one.plotly_chart(charts.month_path(forecast.current_month, forecast.budget_micros), width="stretch")
    two.plotly_chart(charts.forecast_months(forecast.months, forecast.budget_micros), width="stretch")
    low, high = forecast.quantiles
    st.caption(f"Band: {low:.0%} to {high:.0%} of bootstrapped trend paths. " + " ".join(forecast.notes))

st.subheader("What if…")
with st.form("what_if"):
    cols = st.columns(4)
    cap = cols[0].selectbox("Cap resolution", ["no cap", *CAPS])
    quality = cols[1].selectbox("Video quality", ["as today", "basic", "plus", "premium"])
    unwatched = cols[2].number_input("Delete lessons unplayed for N days (0 = keep)", min_value=0, value=0)
    migrate = cols[3].checkbox("Migrate the remaining S3 lessons")
    submitted = st.form_submit_button("Recompute")
if submitted:
    levers = Levers(
        max_resolution=None if cap == "no cap" else cap,
        video_quality=None if quality == "as today" else quality,
        delete_unwatched_days=int(unwatched) or None,
        migrate_s3=migrate,
    )
    # The overview keeps only roll-ups; a scenario re-prices the period's usage, read now as frames.
    with reader_for(settings.warehouse_path).connect() as con:
        inputs = load_cost_inputs(con, data.estimate.period, cold_after_days=book.cold_after_days)
        s3 = load_s3_lessons(con, today + timedelta(days=1)) if migrate else None
    result = what_if(
        inputs.assets, inputs.delivery, inputs.views, data.estimate.period, book, levers,
        s3_lessons=s3, as_of=today + timedelta(days=1),
    )  # fmt: skip
    st.plotly_chart(charts.what_if_diff(result.diff), width="stretch")
    shown = result.diff.assign(
        today=result.diff["baseline_micros"].map(usd),
        what_if=result.diff["scenario_micros"].map(usd),
        change=result.diff["delta_micros"].map(usd),
    )[["item", "today", "what_if", "change"]]
    st.dataframe(shown, hide_index=True, width="stretch")
    for note in result.notes:
        st.caption(note)

st.subheader("Download")
group = st.selectbox("Group the CSV by", ["course", "teacher", "lesson", "day", "month"], key="costs_csv_group")
st.dataframe(present(rollup(data.estimate, group, data.attribution)), hide_index=True, width="stretch")
st.download_button(
    "Download CSV",
    report_csv(data.estimate, group, data.attribution),
    file_name=f"mux-costs-{first}-{last}-by-{group}.csv",
    mime="text/csv",
)
for note in data.notes:
    st.caption(f"Note: {note}")

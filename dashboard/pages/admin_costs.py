"""Admin > Costs: what Mux is costing, where it goes, where the month is heading, and what would change it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import streamlit as st

from core.costs.errors import CostError
from core.costs.report import report_csv, rollup
from core.costs.whatif import CAPS
from dashboard import analytics, context, platform_db
from dashboard import definitions as d
from dashboard.analytics import NoWarehouse
from dashboard.auth import require_role
from dashboard.charts import costs as charts
from dashboard.views import costs as view
from dashboard.widgets import message, metric_row, table

require_role("admin")
settings = context.settings()
st.title("Costs")

today = datetime.now(UTC).date()
picked = st.date_input("Period", value=(today.replace(day=1), today), max_value=today, key="costs_period")
if not isinstance(picked, tuple) or len(picked) != 2:
    st.caption("Pick the last day of the period too.")
    st.stop()
first, last = picked
try:
    book = analytics.price_book()
    data = analytics.costs(first, last, today=today)
except NoWarehouse:
    st.info(f"Costs are estimated from synced Mux usage. {analytics.NOT_SYNCED}")
    st.stop()
except CostError as exc:
    st.error(exc.user_message)
    st.stop()

st.caption(view.pricing_caption(book))
if not view.has_usage(data):
    st.caption("No Mux usage in this period yet: nothing is stored, encoded or delivered on Mux.")
    st.stop()

forecast = data.forecast
metric_row(view.kpis(data, first, last))
if (over_budget := view.budget_warning(forecast)) is not None:
    st.warning(over_budget)
# The budget alerts the `alerts` sync job keeps open (until a projection drops under budget).
recorded = platform_db.open_budget_alerts(context.session_factory())
for alert in recorded.alerts:
    message(*view.alert_message(alert))
if recorded.unavailable:
    st.caption(f"Recorded budget alerts are unavailable ({recorded.unavailable}).")

st.plotly_chart(charts.cost_by_line(rollup(data.estimate, "day"), today=today), width="stretch")
if first <= today <= last:
    st.caption(view.PARTIAL_DAY)
# One per row: course and lesson names need the width (side by side, the bars get a sliver at 1024 px).
st.plotly_chart(charts.top_groups(rollup(data.estimate, "course", data.attribution), "course_title", "Top courses"))
st.plotly_chart(charts.top_groups(rollup(data.estimate, "lesson", data.attribution), "lesson_title", "Top lessons"))

st.subheader("Forecast")
if forecast is None:
    st.caption("Not enough history for a forecast yet (two weeks of usage needed).")
else:
    one, two = st.columns(2)
    one.plotly_chart(charts.month_path(forecast.current_month, forecast.budget_micros), width="stretch")
    two.plotly_chart(charts.forecast_months(forecast.months, forecast.budget_micros), width="stretch")
    st.caption(view.forecast_caption(forecast))

st.subheader("What if…")
with st.form("what_if"):
    cols = st.columns(2) + st.columns(2)  # two by two: the labels stay whole at 1024 px
    cap = cols[0].selectbox("Cap resolution", [view.NO_CAP, *CAPS])
    quality = cols[1].selectbox("Video quality", view.QUALITY_CHOICES)
    unwatched = cols[2].number_input("Delete lessons unplayed for N days (0 = keep)", min_value=0, value=0)
    migrate = cols[3].checkbox("Migrate the remaining S3 lessons")
    submitted = st.form_submit_button("Recompute")
if submitted:
    levers = view.levers(cap, quality, int(unwatched), migrate)
    result = analytics.cost_what_if(data.estimate.period, levers, as_of=today + timedelta(days=1))
    st.markdown(view.what_if_summary(levers))
    st.plotly_chart(charts.what_if_diff(result.diff), width="stretch")
    table(view.what_if_table(result.diff), column_config=d.WHAT_IF_COLUMNS)
    for note in result.notes:
        st.caption(note)

st.subheader("Breakdown")
group = st.selectbox("Group by", view.CSV_GROUPS, key="costs_csv_group")
table(view.breakdown(rollup(data.estimate, group, data.attribution)), column_config=d.COST_COLUMNS)
st.download_button(
    "Download CSV",
    report_csv(data.estimate, group, data.attribution),
    file_name=view.csv_name(first, last, group),
    mime="text/csv",
)
for note in view.unshown_notes(data):
    st.caption(f"Note: {note}")

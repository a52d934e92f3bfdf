"""Retention key moments, chapter marks, stalled students, and the chart builders (literal tables)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from dashboard.charts import engagement as charts
from dashboard.insights import RetentionMoments, chapter_marks, flag_stalled, key_moments, share_at

# 100 views: 10 leave in the first 5 %, 30 leave at 50-55 %, the rest fade out slowly.
SHARES = [1.0, 0.9, 0.88, 0.86, 0.84, 0.82, 0.8, 0.78, 0.76, 0.74, 0.72, 0.42, 0.4, 0.38, 0.36, 0.34, 0.32, 0.3,
          0.28, 0.26, 0.05]  # fmt: skip
CURVE = pd.DataFrame({"pct_of_duration": [i * 5 for i in range(21)], "share_still_watching": SHARES})


def test_share_after_30_s_is_interpolated_at_30_s_of_the_video() -> None:
    moments = key_moments(CURVE, duration_s=300.0)
    assert moments.early_pct == pytest.approx(10.0)
    assert moments.share_after_early == pytest.approx(0.88)
    assert share_at(CURVE, 7.5) == pytest.approx(0.89)


def test_biggest_drop_offs_skip_the_final_bucket_and_small_wobbles() -> None:
    moments = key_moments(CURVE, duration_s=300.0)
    assert [(m.pct, round(m.value, 2)) for m in moments.drop_offs] == [(5.0, 0.1), (55.0, 0.3)]
    assert moments.drop_offs[1].label == "-30 pts (50-55%)"


def test_replay_spikes_need_twice_the_lesson_share_and_enough_views() -> None:
    replays = pd.DataFrame(
        {
            "pct_of_duration": [10, 50, 90],
            "views": [20, 40, 4],
            "replayed_views": [2, 20, 4],
            "replay_share": [0.1, 0.5, 1.0],
        }
    )
    spikes = key_moments(CURVE, 300.0, replays).replay_spikes
    assert [(s.pct, s.value) for s in spikes] == [(50.0, 0.5)]  # 90 % has only 4 views


def test_no_duration_no_early_share_and_empty_curve_no_moments() -> None:
    assert key_moments(CURVE, None).share_after_early is None
    empty = key_moments(CURVE.iloc[0:0], 60.0)
    assert empty.drop_offs == [] and empty.share_after_early is None


def test_chapter_marks_are_percentages_of_the_duration() -> None:
    chapters = [{"start_s": 60, "title": "Example"}, {"start_s": 0, "title": "Intro"}, {"start_s": 999, "title": "x"}]
    assert chapter_marks(chapters, 120.0) == [(0.0, "Intro"), (50.0, "Example")]
    assert chapter_marks(chapters, None) == []
    assert chapter_marks([{"start_s": "bad", "title": "y"}], 10.0) == []


def test_stalled_students_started_unfinished_and_idle_for_14_days() -> None:
    now = datetime(2025, 6, 30, tzinfo=UTC)
    students = pd.DataFrame(
        {
            "user_id": [1, 2, 3, 4],
            "course_id": [10, 10, 10, 10],
            "lessons_started": [2, 2, 4, 0],
            "lessons_completed": [1, 1, 4, 0],
            "last_view_at": [now - timedelta(days=20), now - timedelta(days=2), now - timedelta(days=30), None],
            "last_progress_at": [now - timedelta(days=30), None, None, None],
        }
    )
    out = flag_stalled(students, now=now, lessons_in_course={10: 4})
    assert out["stalled"].tolist() == [True, False, False, False]  # 3 finished; 4 never started
    assert out["progress"].tolist() == [0.25, 0.25, 1.0, 0.0]
    assert flag_stalled(students.iloc[0:0], now=now, lessons_in_course={}).empty


def test_trend_chart_fills_days_without_views_with_zero() -> None:
    trend = pd.DataFrame({"day": [date(2025, 1, 2)], "views": [5], "unique_viewers": [3]})
    fig = charts.trend_chart(trend, date(2025, 1, 1), date(2025, 1, 3))
    assert list(fig.data[0].y) == [0, 5, 0]
    assert list(charts.trend_chart(trend.iloc[0:0], date(2025, 1, 1), date(2025, 1, 2)).data[0].y) == [0, 0]


def test_retention_chart_marks_moments_and_chapters() -> None:
    moments = key_moments(CURVE, 300.0)
    fig = charts.retention_chart(CURVE, moments, [(0.0, "Intro"), (50.0, "Example")])
    names = [trace.name for trace in fig.data]
    assert names == ["still watching", "after 30 s", "biggest drop-offs"]
    assert [a.text for a in fig.layout.annotations] == ["Intro", "Example"]
    bare = charts.retention_chart(CURVE, RetentionMoments(None, None), [])
    assert [trace.name for trace in bare.data] == ["still watching"]


def test_funnel_qoe_and_provider_charts_take_the_query_columns() -> None:
    funnel = pd.DataFrame({"position": [1, 2], "lesson_title": ["a", "b"], "enrolled_students": [10, 10],
                           "students_reached": [9, 4], "students_completed": [7, 2]})  # fmt: skip
    assert [list(t.x) for t in charts.funnel_chart(funnel).data] == [[9, 4], [7, 2]]
    qoe = pd.DataFrame({"browser": ["Chrome"], "startup_time_ms_p50": [900.0], "avg_rebuffer_percentage": [0.01],
                        "playback_failure_rate": [0.02]})  # fmt: skip
    assert list(charts.qoe_chart(qoe, "browser").data[1].y) == [1.0]
    providers = pd.DataFrame({"provider": ["s3", "mux"], "completion_rate": [0.4, 0.5],
                              "avg_progress_fraction": [0.6, 0.7], "avg_fraction_watched": [None, 0.55]})  # fmt: skip
    fig = charts.provider_chart(providers)
    assert [t.name for t in fig.data] == ["S3", "MUX"]
    assert list(fig.data[0].y) == [0.4, 0.6, None]


def test_a_short_video_has_no_after_the_first_30_s_moment() -> None:
    curve = pd.DataFrame({"pct_of_duration": [0.0, 50.0, 100.0], "share_still_watching": [1.0, 0.8, 0.5]})
    assert key_moments(curve, 40.0).share_after_early is None  # "after 30 s" of a 40 s clip says nothing
    long = key_moments(curve, 600.0)
    assert long.early_pct == 5.0 and long.share_after_early is not None

"""The views job: backfill, incremental with overlap, late views, idempotent re-runs, crash consistency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from sync.state import read_state, windows
from sync.views import ViewsConfig, plan_range, run_views
from tests.warehouse.factories import T0, FakeViews, make_view, random_views, view_uuid
from warehouse.schema import duplicate_keys, migrate

CFG = ViewsConfig(overlap_s=6 * 3600, window_s=86_400, batch_rows=300, backfill_days=12)
NOW = T0 + timedelta(days=11)


def totals(con: duckdb.DuckDBPyConnection) -> tuple[object, ...]:
    return tuple(
        con.execute(
            "SELECT count(*), sum(watch_time_ms), sum(max_playhead_ms), (SELECT sum(views) FROM lesson_daily), "
            "(SELECT count(*) FROM viewer_lesson_daily), (SELECT sum(views) FROM lesson_retention_daily) "
            "FROM mux_views"
        ).fetchall()[0]
    )


def test_windows_align_to_the_step() -> None:
    start = datetime(2025, 3, 1, 18, tzinfo=UTC)
    spans = windows(start, datetime(2025, 3, 3, 6, tzinfo=UTC), 86_400)
    assert [(a.day, a.hour, b.day, b.hour) for a, b in spans] == [(1, 18, 2, 0), (2, 0, 3, 0), (3, 0, 3, 6)]
    assert windows(start, start, 3600) == []


def test_plan_range() -> None:
    assert plan_range(None, now=NOW, cfg=CFG) == (NOW - timedelta(days=12), NOW)
    mark = NOW - timedelta(days=1)
    assert plan_range(mark, now=NOW, cfg=CFG) == (mark - timedelta(hours=6), NOW)
    assert plan_range(mark, now=NOW, cfg=CFG, since=T0) == (T0, NOW)


def test_backfill_then_incremental_fetches_only_new_views(con: duckdb.DuckDBPyConnection) -> None:
    views = random_views(3000, days=10)
    source = FakeViews(views, page_size=250)
    first = run_views(con, source, now=NOW, cfg=CFG)
    assert (first.status, first.rows, first.new_rows) == ("ok", 3000, 3000)
    assert first.watermark == NOW
    assert totals(con)[0] == 3000
    assert set(duplicate_keys(con).values()) == {0}

    # Six hours later: 40 new views ended since the last run.
    later = NOW + timedelta(hours=6)
    fresh = [make_view(10_000 + i, end=NOW + timedelta(minutes=5 * i + 1), viewer=7) for i in range(40)]
    source.views.extend(fresh)
    source.calls.clear()
    second = run_views(con, source, now=later, cfg=CFG)
    assert (second.rows, second.new_rows) == (40, 40)
    assert min(start for start, _ in source.calls) == NOW - timedelta(hours=6)  # only the overlap before it
    assert totals(con)[0] == 3040

    before = totals(con)
    third = run_views(con, source, now=later, cfg=CFG)
    assert third.new_rows == 0
    assert totals(con) == before  # an identical run changes nothing


def test_late_view_inside_the_overlap_is_caught(con: duckdb.DuckDBPyConnection) -> None:
    source = FakeViews(random_views(200, days=10))
    run_views(con, source, now=NOW, cfg=CFG)
    # Reported after the last run, though it ended two hours before it.
    source.views.append(make_view(99_999, end=NOW - timedelta(hours=2), viewer=1))
    result = run_views(con, source, now=NOW + timedelta(minutes=15), cfg=CFG)
    assert result.new_rows == 1
    assert con.execute("SELECT count(*) FROM mux_views WHERE view_id = ?", [view_uuid(99_999)]).fetchall() == [(1,)]


def test_a_failure_keeps_committed_windows_and_the_next_run_converges(tmp_path: Path) -> None:
    views = random_views(2000, days=10)
    clean = duckdb.connect(str(tmp_path / "clean.duckdb"))
    migrate(clean)
    run_views(clean, FakeViews(views), now=NOW, cfg=CFG)

    broken = duckdb.connect(str(tmp_path / "broken.duckdb"))
    migrate(broken)
    source = FakeViews(views, page_size=50, fail_after_pages=15)
    with pytest.raises(RuntimeError, match="injected"):
        run_views(broken, source, now=NOW, cfg=CFG)
    state = read_state(broken, "views")
    assert state is not None and state.status == "in_progress"
    assert state.watermark is not None and state.watermark < NOW
    # What is stored is exactly the views up to the watermark: data and watermark moved together.
    stored = broken.execute("SELECT count(*), max(view_end) FROM mux_views").fetchall()[0]
    assert stored[0] == sum(1 for v in views if v["view_end"] < state.watermark.strftime("%Y-%m-%dT%H:%M:%SZ"))

    source.fail_after_pages = None
    run_views(broken, source, now=NOW, cfg=CFG)
    assert totals(broken) == totals(clean)
    assert read_state(broken, "views").status == "ok"  # type: ignore[union-attr]

"""The views job with Mux's daily view exports (fakes): which days come from files, which from list+get."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from core.mux.models import ExportDownload
from sync.state import read_state, write_state
from sync.view_exports import ExportDay
from sync.views import ViewsConfig, plan_segments, run_views
from tests.warehouse.factories import T0, FakeViewExports, FakeViews, iso, make_view, random_views
from warehouse.loaders import upsert, views_to_arrow
from warehouse.schema import duplicate_keys, migrate

CFG = ViewsConfig(overlap_s=6 * 3600, window_s=7 * 86_400, batch_rows=300, backfill_days=12)
NOW = T0 + timedelta(days=11, hours=9)  # 2025-03-12 09:00: exports exist for 03-05 .. 03-11


def totals(con: duckdb.DuckDBPyConnection) -> tuple[object, ...]:
    return tuple(
        con.execute(
            "SELECT count(*), sum(watch_time_ms), sum(max_playhead_ms), count(DISTINCT view_id), "
            "(SELECT sum(views) FROM lesson_daily), (SELECT sum(views) FROM lesson_retention_daily) FROM mux_views"
        ).fetchall()[0]
    )


def clean_totals(tmp_path: Path, views: list[dict[str, object]], *, now: datetime = NOW) -> tuple[object, ...]:
    reference = duckdb.connect(str(tmp_path / "reference.duckdb"))
    migrate(reference)
    run_views(reference, FakeViews(views), now=now, cfg=CFG)
    return totals(reference)


def day(n: int) -> date:
    return (T0 + timedelta(days=n)).date()


def test_segments_put_export_days_and_windows_in_time_order() -> None:
    exports = [ExportDay(day(d), 14, f"fake://{day(d)}", None) for d in (4, 5, 7)]
    start = T0 + timedelta(days=3, hours=12)
    segments = plan_segments(start, T0 + timedelta(days=8, hours=9), exports, 86_400)
    spans = [(s.start - T0, s.end - T0, s.export is not None) for s in segments]
    h, d = timedelta(hours=1), timedelta(days=1)
    assert spans == [
        (3 * d + 12 * h, 4 * d, False),
        (4 * d, 5 * d, True),
        (5 * d, 6 * d, True),
        (6 * d, 7 * d, False),  # no export for this day: list+get
        (7 * d, 8 * d, True),
        (8 * d, 8 * d + 9 * h, False),  # today
    ]
    # An export day before the range is still loaded (first), and the range has no hole.
    late = plan_segments(T0 + 6 * d, T0 + 6 * d + 5 * h, exports[:1], 86_400)
    assert [(s.start - T0, s.end - T0, s.export is not None) for s in late] == [
        (4 * d, 5 * d, True),
        (6 * d, 6 * d + 5 * h, False),
    ]


def test_backfill_takes_exported_days_from_files_and_the_rest_from_the_list(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    views = random_views(3000, days=12)
    source = FakeViewExports(views, page_size=250, clock=NOW)
    result = run_views(con, source, now=NOW, cfg=CFG)
    assert result.details["exports_loaded"] == 7 and result.watermark == NOW
    assert totals(con) == clean_totals(tmp_path, views)
    assert set(duplicate_keys(con).values()) == {0}
    # list+get only read what has no export: before 03-05 and today.
    assert all(end <= T0 + timedelta(days=4) or start >= T0 + timedelta(days=11) for start, end in source.calls)
    recorded = dict(con.execute("SELECT export_date, rows FROM sync_view_exports").fetchall())
    per_day = dict(con.execute("SELECT timezone('UTC', view_end)::DATE, count(*) FROM mux_views GROUP BY 1").fetchall())
    assert recorded == {day(d): per_day.get(day(d), 0) for d in range(4, 11)}


def test_incremental_runs_skip_loaded_days_and_reload_republished_ones(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    views = random_views(2000, days=12)
    source = FakeViewExports(views, clock=NOW)
    run_views(con, source, now=NOW, cfg=CFG)
    before = totals(con)

    source.downloads.clear()
    later = NOW + timedelta(minutes=15)
    second = run_views(con, source, now=later, cfg=CFG)
    ended_since = sum(1 for v in views if iso(NOW) <= v["view_end"] < iso(later))  # today's, by list+get
    assert (second.details["exports_unchanged"], second.details["exports_loaded"]) == (7, 0)
    assert second.new_rows == ended_since
    assert all(etag is not None for _, etag in source.downloads)  # conditional: 304s cost nothing
    assert totals(con)[0] == before[0] + ended_since

    # Mux publishes 03-08 again with views it had missed: only that day is loaded again.
    extra = [make_view(50_000 + i, end=T0 + timedelta(days=7, hours=3, minutes=i), viewer=3) for i in range(25)]
    source.views.extend(extra)
    third = run_views(con, source, now=later, cfg=CFG)
    assert (third.details["exports_loaded"], third.new_rows) == (1, 25)
    assert con.execute("SELECT rows FROM sync_view_exports WHERE export_date = ?", [day(7)]).fetchall()[0][0] == len(
        [v for v in source.views if v["view_end"].startswith(str(day(7)))]
    )

    # Every day in a later export version: each is loaded again, unconditionally, and nothing changes.
    source.version = 15
    source.downloads.clear()
    fourth = run_views(con, source, now=later, cfg=CFG)
    assert (fourth.details["exports_loaded"], fourth.new_rows) == (7, 0)
    assert [etag for _, etag in source.downloads] == [None] * 7
    assert con.execute("SELECT DISTINCT version FROM sync_view_exports").fetchall() == [(15,)]
    reference = duckdb.connect(str(tmp_path / "reference.duckdb"))
    migrate(reference)
    run_views(reference, FakeViews(source.views), now=later, cfg=CFG)
    assert totals(con) == totals(reference)


def test_unusable_exports_fall_back_to_list_and_get(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    views = random_views(1500, days=12)
    source = FakeViewExports(views, clock=NOW, refuse={day(6)})
    with caplog.at_level(logging.WARNING, logger="sync.views"):
        result = run_views(con, source, now=NOW, cfg=CFG)
    assert result.details["exports_loaded"] == 6
    assert any(r.getMessage() == "views.export_unusable" for r in caplog.records)
    assert (T0 + timedelta(days=6), T0 + timedelta(days=7)) in source.calls
    assert [d for d, _ in source.downloads].count(day(6)) == 2  # listed again for a fresh URL first
    assert totals(con) == clean_totals(tmp_path, views)

    # A URL that expired while the job was busy with older days: a fresh listing's URL works.
    late = duckdb.connect(str(tmp_path / "late.duckdb"))
    migrate(late)
    expired = FakeViewExports(views, clock=NOW, expire_once={day(9)})
    assert run_views(late, expired, now=NOW, cfg=CFG).details["exports_loaded"] == 7
    assert (T0 + timedelta(days=9), T0 + timedelta(days=10)) not in expired.calls
    assert totals(late) == totals(con)

    # Files without a column the warehouse needs (a header that contradicts its version): list+get too.
    other = duckdb.connect(str(tmp_path / "other.duckdb"))
    migrate(other)
    header = ["view_id", "viewer_user_id", "video_id", "video_title", "view_start", "view_end", "watch_time"]
    thin = FakeViewExports(views, clock=NOW, columns=header)
    assert run_views(other, thin, now=NOW, cfg=CFG).details["exports_loaded"] == 0
    assert totals(other) == totals(con)


def test_old_export_versions_and_accounts_without_exports_use_list_and_get(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    views = random_views(800, days=12)
    expected = clean_totals(tmp_path, views)
    for name, source in (
        ("old", FakeViewExports(views, clock=NOW, version=8)),
        ("off", FakeViewExports(views, clock=NOW, view_exports_enabled=False)),
    ):
        con = duckdb.connect(str(tmp_path / f"{name}.duckdb"))
        migrate(con)
        with caplog.at_level(logging.INFO, logger="sync.view_exports"):
            result = run_views(con, source, now=NOW, cfg=CFG)
        assert result.details["exports_loaded"] == 0 and source.downloads == []
        assert totals(con) == expected
    assert [r.getMessage() for r in caplog.records] == ["views.exports_version_too_old"]


def test_a_failure_mid_exports_keeps_what_committed_and_the_next_run_converges(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    views = random_views(2000, days=12)

    class Failing(FakeViewExports):
        def download_view_export(self, url: str, dest: Path, *, if_none_match: str | None = None) -> ExportDownload:
            if url.endswith(str(day(8))):
                raise RuntimeError("injected download failure")
            return super().download_view_export(url, dest, if_none_match=if_none_match)

    with pytest.raises(RuntimeError, match="injected"):
        run_views(con, Failing(views, clock=NOW), now=NOW, cfg=CFG)
    state = read_state(con, "views")
    assert state is not None and state.status == "in_progress"
    assert state.watermark == T0 + timedelta(days=8)  # the end of the last day that committed
    stored = con.execute("SELECT count(*), max(view_end) FROM mux_views").fetchall()[0]
    assert stored[1] < state.watermark and stored[0] == sum(1 for v in views if v["view_end"] < "2025-03-09")
    assert not list(tmp_path.glob("view-exports-*"))  # temporary files went with the run

    run_views(con, FakeViewExports(views, clock=NOW), now=NOW, cfg=CFG)
    assert totals(con) == clean_totals(tmp_path, views)
    assert read_state(con, "views").status == "ok"  # type: ignore[union-attr]


def test_exports_of_days_not_over_by_the_jobs_clock_are_ignored(con: duckdb.DuckDBPyConnection) -> None:
    views = random_views(500, days=12)
    # Mux's clock is a day ahead of this (late-running) job: it lists a day that is not over for the job.
    source = FakeViewExports(views, clock=NOW + timedelta(days=1))
    result = run_views(con, source, now=NOW, cfg=CFG)
    assert day(11) not in [d for d, _ in source.downloads]
    assert result.details["exports_loaded"] == 6  # 03-06 .. 03-11; 03-12 comes from list+get
    assert con.execute("SELECT max(export_date) FROM sync_view_exports").fetchall() == [(day(10),)]


def test_an_upgraded_warehouse_reads_its_legacy_days_again_by_file_or_by_list(tmp_path: Path) -> None:
    views = random_views(1500, days=12)
    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    migrate(con, target=6)
    # Lectern before v7, list+get only: every view keyed on Mux's opaque `id`.
    batch = views_to_arrow([{**v, "view_id": v["id"]} for v in views if v["view_end"] < iso(NOW)], loaded_at=T0)
    names = {r[0] for r in con.execute("DESCRIBE mux_views").fetchall()}
    upsert(con, "mux_views", batch.select([n for n in batch.column_names if n in names]), ["view_id"])
    write_state(con, "views", now=NOW, status="ok", rows=batch.num_rows, watermark=NOW)
    assert migrate(con) == [7, 8, 9]
    legacy_days = {r[0] for r in con.execute("SELECT view_day FROM sync_view_rereads").fetchall()}
    assert len(legacy_days) == 12

    later = NOW + timedelta(minutes=10)
    source = FakeViewExports(views, clock=later, refuse={day(6)})  # one exported day's file is refused
    result = run_views(con, source, now=later, cfg=CFG)
    # Exported days from their files (matched by content), day 6 and the older days by list+get (by id),
    # each in full and without moving the watermark back.
    assert result.details["reread_days"] == 12 and result.details["exports_loaded"] == 6
    assert (T0 + timedelta(days=6), T0 + timedelta(days=7)) in source.calls
    assert all((T0 + timedelta(days=d), T0 + timedelta(days=d + 1)) in source.calls for d in range(4))
    assert read_state(con, "views").watermark == later  # type: ignore[union-attr]
    assert con.execute("SELECT count(*) FROM mux_views WHERE legacy_key").fetchall() == [(0,)]
    assert con.execute("SELECT count(*) FROM sync_view_rereads").fetchall() == [(0,)]
    assert totals(con) == clean_totals(tmp_path, views, now=later)
    assert set(duplicate_keys(con).values()) == {0}

    # Nothing left to read again: the next run is an ordinary incremental one.
    source.calls.clear()
    again = run_views(con, source, now=later + timedelta(minutes=5), cfg=CFG)
    assert (again.details["reread_days"], again.new_rows) == (0, 0)
    assert all(start >= NOW - timedelta(hours=7) for start, _ in source.calls)

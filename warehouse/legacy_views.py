"""Views stored before schema v7 under Mux's opaque `id` (`legacy_key`), and how the views job replaces them.

Schema step 7 marks them and lists their days (view_end's UTC date) in `sync_view_rereads`. The views
job reads each such day again: from its export file when Mux lists one, else by list+get. A re-read view
replaces its legacy row in one of three ways, all inside the segment's transaction:

- by key: Mux gave the view the same `id` and `view_id` (Mux's ids since 2022-07-28), so the upsert by
  view_id finds the old row;
- by Mux id (list+get): the new row's `mux_view_id` is the legacy row's (the legacy row's view_id *was*
  Mux's `id`; step 7 copied it into mux_view_id);
- by content (export files, which carry no `id`): a legacy row whose view_start, view_end, viewer and
  video equal those of a row just loaded under its UUID is the same view.

Legacy rows Mux no longer serves (past its Data retention) are not in the list nor in a file: they stay as
they are, still marked, and their day leaves `sync_view_rereads` once it was read (warehouse/README.md).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import duckdb

DayRange = tuple[date, date] | None


def reread_days(con: duckdb.DuckDBPyConnection) -> list[date]:
    return [row[0] for row in con.execute("SELECT view_day FROM sync_view_rereads ORDER BY 1").fetchall()]


def _bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), UTC)
    return start, start + timedelta(days=1)


def _days(rows: list[tuple[date | None]]) -> DayRange:
    days = [r[0] for r in rows if r[0] is not None]
    return (min(days), max(days)) if days else None


def merge(a: DayRange, b: DayRange) -> DayRange:
    if a is None or b is None:
        return a or b
    return min(a[0], b[0]), max(a[1], b[1])


def drop_replaced_by_id(con: duckdb.DuckDBPyConnection, batch: str) -> tuple[int, DayRange]:
    """Delete legacy rows whose Mux id a batch of list+get rows (a registered relation) carries."""
    rows = con.execute(
        f"""DELETE FROM mux_views WHERE legacy_key
            AND mux_view_id IN (SELECT mux_view_id FROM {batch} WHERE mux_view_id IS NOT NULL)
            RETURNING view_day"""
    ).fetchall()
    return len(rows), _days(rows)


def drop_replaced_by_content(con: duckdb.DuckDBPyConnection, day: date) -> tuple[int, DayRange]:
    """Delete the day's legacy rows that a non-legacy row (just loaded from the day's file) duplicates."""
    start, end = _bounds(day)
    rows = con.execute(
        """DELETE FROM mux_views WHERE legacy_key AND view_end >= ? AND view_end < ? AND rowid IN (
            SELECT l.rowid FROM mux_views l JOIN mux_views n
              ON n.view_end = l.view_end AND n.view_start IS NOT DISTINCT FROM l.view_start
             AND n.viewer_user_id IS NOT DISTINCT FROM l.viewer_user_id AND n.video_id IS NOT DISTINCT FROM l.video_id
            WHERE l.legacy_key AND n.legacy_key IS NOT TRUE AND l.view_end >= ? AND l.view_end < ?
              AND n.view_end >= ? AND n.view_end < ?
        ) RETURNING view_day""",
        [start, end, start, end, start, end],
    ).fetchall()
    return len(rows), _days(rows)


def remaining(con: duckdb.DuckDBPyConnection, day: date) -> int:
    start, end = _bounds(day)
    rows = con.execute(
        "SELECT count(*) FROM mux_views WHERE legacy_key AND view_end >= ? AND view_end < ?", [start, end]
    ).fetchall()
    return int(rows[0][0])


def finish(con: duckdb.DuckDBPyConnection, day: date) -> None:
    """The day was read again: legacy rows left in it are views Mux no longer serves, kept as they are."""
    con.execute("DELETE FROM sync_view_rereads WHERE view_day = ?", [day])

"""View model of the SQL page: which workbench a user gets, the query picker, history, notices, the table list."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

from core.saved_queries import SavedQueryRecord
from core.settings import Settings
from dashboard.auth import Scope
from warehouse.sql.examples import EXAMPLES
from warehouse.sql.workbench import FORMATS, SqlLimits, SqlResult, SqlWorkbench

HISTORY_SIZE = 20
EDITORS = ("analyst", "admin")  # who may save queries (teachers run them on their own copy)
PLACEHOLDER = "SELECT course_title, sum(views) AS views FROM v_daily_lesson_engagement GROUP BY ALL"


@dataclass(frozen=True)
class Choice:
    sql: str
    description: str
    saved_id: int | None = None
    author_id: int | None = None


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    sql: str
    rows: int | None
    seconds: float | None
    outcome: str


@dataclass(frozen=True)
class ChartColumns:
    x: list[str]
    y: list[str]
    color: list[str]


def workbench_for(settings: Settings, scope: Scope) -> SqlWorkbench:
    """Analysts and admins query the whole snapshot; a teacher a copy holding only their own courses' rows."""
    return SqlWorkbench.from_settings(settings, teacher_id=scope.teacher_id, user_id=scope.user_id)


def intro(workbench: SqlWorkbench) -> str:
    limits = workbench.limits
    what = (
        "your own copy of the warehouse: only the rows of the courses you teach"
        if workbench.teacher_id is not None
        else "a read-only snapshot of the warehouse (students appear as student keys only)"
    )
    return (
        f"One SELECT at a time on {what}. Each query runs in a DuckDB instance of its own that cannot write, "
        f"read files or URLs, load extensions or change its settings; it stops after {limits.time_limit_s:g} s "
        f"and shows at most {limits.max_rows:,} rows. Ctrl+Enter runs the query."
    )


def choices(saved: list[SavedQueryRecord]) -> dict[str, Choice]:
    """Picker label -> query: the shipped examples first, then everyone's saved queries."""
    options = {f"Example: {e.name}": Choice(e.sql, e.description) for e in EXAMPLES}
    for q in saved:
        by = f" (by {q.author_name})" if q.author_name else ""
        options[f"Saved: {q.name}{by}"] = Choice(q.sql, q.description, q.id, q.author_id)
    return options


def deletable_id(choice: Choice | None, user_id: int, role: str) -> int | None:
    """The picked saved query's id when this user may delete it (its author, or an admin); examples never."""
    if choice is None or choice.saved_id is None:
        return None
    return choice.saved_id if choice.author_id == user_id or role == "admin" else None


def downloader(workbench: SqlWorkbench, sql: str, fmt: str) -> Callable[[], bytes]:
    """What the download button calls when clicked: the query again, as a file (up to the download cap)."""
    return lambda: workbench.download(sql, fmt)[0]


def summary(result: SqlResult) -> str:
    return f"{result.rows:,} row{'s' if result.rows != 1 else ''} · {result.elapsed_s:.3f} s"


def truncation_notice(result: SqlResult, limits: SqlLimits, *, admin: bool = False) -> str | None:
    """Why the table stops short; the setting that sets the cap is named to admins only (they set it)."""
    if not result.truncated:
        return None
    setting = " (LECTERN_SQL_MAX_ROWS)" if admin else ""
    return (
        f"Truncated at {result.limit:,} rows{setting}: aggregate or filter to see everything here. "
        f"The downloads hold up to {limits.download_max_rows:,} rows; `lectern warehouse sql` writes every row."
    )


def download_file(fmt: str) -> tuple[str, str]:
    """(file name, MIME type) of a download."""
    return f"query.{fmt}", FORMATS[fmt]


def download_note(limits: SqlLimits, *, admin: bool = False) -> str:
    setting = " (LECTERN_SQL_DOWNLOAD_MAX_ROWS)" if admin else ""
    return (
        f"Downloads run the query again and hold up to {limits.download_max_rows:,} rows{setting}; "
        '`lectern warehouse sql "…" --format parquet --output FILE` has no cap.'
    )


def remember(history: list[HistoryEntry], sql: str, result: SqlResult | None, error: str | None) -> list[HistoryEntry]:
    """This session's history, newest first, at most HISTORY_SIZE entries."""
    if result is not None:
        outcome = "truncated" if result.truncated else "ok"
        entry = HistoryEntry(datetime.now(UTC), sql, result.rows, result.elapsed_s, outcome)
    else:
        entry = HistoryEntry(datetime.now(UTC), sql, None, None, error or "failed")
    return [entry, *history][:HISTORY_SIZE]


def history_frame(history: list[HistoryEntry]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "when (UTC)": [h.at.strftime("%H:%M:%S") for h in history],
            "query": [" ".join(h.sql.split())[:200] for h in history],
            "rows": pd.array([h.rows for h in history], dtype="Int64"),
            "seconds": [h.seconds for h in history],
            "outcome": [h.outcome for h in history],
        }
    )


def chart_columns(frame: pd.DataFrame) -> ChartColumns:
    """x: any column; y: numeric columns; colour: columns with few distinct values (a legend stays readable)."""
    columns = [str(c) for c in frame.columns]
    numeric = [str(c) for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    few = [str(c) for c in frame.columns if frame[c].nunique(dropna=True) <= 30]
    return ChartColumns(columns, numeric, few)


def catalogue(workbench: SqlWorkbench) -> list[tuple[str, str]]:
    """(title, markdown) per table or view the user can query: its summary and columns."""
    return [
        (f"{e.name} ({e.kind})", f"{e.summary}\n\n" + "\n".join(f"- `{n}`: {m}" for n, m in e.columns))
        for e in workbench.catalogue
    ]

"""What every dashboard query shares: the teacher/course/lesson scope CTE, its parameters, the row cap.

A teacher only ever sees lessons of courses they teach: the filter is the `scope` CTE inside each query
(warehouse/queries.py, warehouse/engagement.py), never left to the caller.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd

DEFAULT_MAX_ROWS = 100_000

# Lessons a query may look at: narrowed by teacher, course and lesson, each optional.
SCOPE_CTE = """scope AS (
    SELECT l.id AS lesson_id, l.title AS lesson_title, l.position, l.course_id, c.title AS course_title,
           c.teacher_id, l.mux_asset_id
    FROM lessons l JOIN courses c ON c.id = l.course_id
    WHERE (CAST($teacher_id AS BIGINT) IS NULL OR c.teacher_id = $teacher_id)
      AND (CAST($course_id AS BIGINT) IS NULL OR l.course_id = $course_id)
      AND (CAST($lesson_id AS BIGINT) IS NULL OR l.id = $lesson_id)
)"""


def scope_params(teacher_id: int | None, course_id: int | None = None, lesson_id: int | None = None) -> dict[str, Any]:
    return {"teacher_id": teacher_id, "course_id": course_id, "lesson_id": lesson_id}


def run_capped(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any], max_rows: int | None) -> pd.DataFrame:
    """Run `sql` with at most `max_rows` rows (default DEFAULT_MAX_ROWS); `df.attrs["truncated"]` says if cut."""
    limit = DEFAULT_MAX_ROWS if max_rows is None else max_rows
    df = con.execute(f"{sql}\nLIMIT $max_rows", {**params, "max_rows": limit + 1}).df()
    truncated = len(df) > limit
    if truncated:
        df = df.iloc[:limit]
    df.attrs["truncated"] = truncated
    return df

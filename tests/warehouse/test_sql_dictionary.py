"""The data dictionary is data (warehouse/dictionary.py): it names exactly what the schema creates, the README
section is rendered from it, and the workbench lists it (a teacher's copy lists fewer tables)."""

from __future__ import annotations

import duckdb

from warehouse import dictionary
from warehouse.schema import TABLES, VIEWS, migrate
from warehouse.sql.scoped import TEACHER_TABLES
from warehouse.sql.workbench import SqlLimits, SqlWorkbench


def test_it_names_every_table_view_and_column_in_schema_order() -> None:
    con = duckdb.connect()
    migrate(con)
    schema = {
        name: tuple(
            c
            for (c,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
                [name],
            ).fetchall()
        )
        for name in (*TABLES, *VIEWS)
    }
    documented = {e.name: e.column_names for e in dictionary.ENTRIES}
    assert documented == schema
    assert {e.name for e in dictionary.ENTRIES if e.kind == "view"} == set(VIEWS)
    assert all(meaning.strip() for e in dictionary.ENTRIES for _, meaning in e.columns)


def test_the_readme_section_is_rendered_from_it() -> None:
    text = dictionary.README.read_text(encoding="utf-8")
    # `python -m warehouse.dictionary` rewrites it after an edit to warehouse/dictionary.py.
    assert dictionary.readme_section(text) == dictionary.render_markdown()
    assert "| view_id | Mux's `view_id`, a UUID" in text


def test_the_dashboard_table_has_a_row_per_column() -> None:
    rows = dictionary.column_rows()
    assert len(rows) == sum(len(e.columns) for e in dictionary.ENTRIES)
    assert {
        "table": "users",
        "kind": "table",
        "column": "role",
        "meaning": "teacher, student, admin or analyst",
    } in rows


def test_the_workbench_lists_what_each_user_can_query(tmp_path: object) -> None:
    analyst = SqlWorkbench(tmp_path, SqlLimits())  # type: ignore[arg-type]
    teacher = SqlWorkbench(tmp_path, SqlLimits(), teacher_id=3)  # type: ignore[arg-type]
    assert analyst.catalogue == dictionary.ENTRIES
    assert {e.name for e in teacher.catalogue} == set(TEACHER_TABLES) | set(VIEWS)

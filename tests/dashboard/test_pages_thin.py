"""Every page is thin: at most `MAX_LINES` lines, no database library or platform DB module, no SQL.

Queries live in `warehouse/` (and `dashboard/platform_db.py` for the platform DB), logic in `core/` or a view
model in `dashboard/views/`; a page lays out widgets. The check reads each page with `ast`, so an import
inside a function or a SQL string in a helper counts too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PAGES = Path(__file__).resolve().parents[2] / "dashboard" / "pages"
MAX_LINES = 120
# A page reaches data only through `dashboard.analytics`, `dashboard.platform_db` and core services.
FORBIDDEN_IMPORTS = ("sqlalchemy", "duckdb", "core.db")
# Upper-case statement shapes, as every query in this codebase is written; prose such as "select lessons
# from the list" does not match.
SQL = re.compile(
    r"\bSELECT\b[\s\S]*\bFROM\b|\bINSERT\s+INTO\b|\bDELETE\s+FROM\b|\bUPDATE\s+\w+\s+SET\b|\bWITH\s+\w+\s+AS\s*\("
)


def problems(source: str) -> list[str]:
    """Why `source` is not a thin page (empty when it is)."""
    found: list[str] = []
    lines = len(source.splitlines())
    if lines > MAX_LINES:
        found.append(f"{lines} lines (at most {MAX_LINES})")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [f"line {node.lineno}: imports {m}" for m in modules if _forbidden(m)]
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
            found.append(f"line {node.lineno}: SQL in a string")
    return found


def _forbidden(module: str) -> bool:
    return any(module == name or module.startswith(f"{name}.") for name in FORBIDDEN_IMPORTS)


def page_files() -> list[Path]:
    return sorted(p for p in PAGES.glob("*.py") if p.name != "__init__.py")


def test_the_pages_are_found() -> None:
    names = {p.name for p in page_files()}
    assert {"engagement.py", "admin_costs.py", "admin_migration.py", "upload.py"} <= names


@pytest.mark.parametrize("page", page_files(), ids=lambda p: p.name)
def test_page_is_thin(page: Path) -> None:
    assert problems(page.read_text()) == []


def test_the_check_catches_long_pages_imports_and_sql() -> None:
    fat = "\n".join(
        [
            "import duckdb",
            "from sqlalchemy import select",
            "from core.db.models import Lesson",
            "import core.db.engine as engine",
            "def rows():",
            "    import sqlalchemy.orm",
            "    return con.execute('SELECT id FROM lessons WHERE course_id = ?')",
            "SQL = '''",
            "    UPDATE lessons SET title = 'x'",
            "'''",
            *["x = 1"] * MAX_LINES,
        ]
    )
    found = problems(fat)
    assert found[0] == f"{MAX_LINES + 10} lines (at most {MAX_LINES})"
    assert sorted(found[1:]) == sorted(
        [
            "line 1: imports duckdb",
            "line 2: imports sqlalchemy",
            "line 3: imports core.db.models",
            "line 4: imports core.db.engine",
            "line 6: imports sqlalchemy.orm",
            "line 7: SQL in a string",
            "line 8: SQL in a string",
        ]
    )


def test_prose_and_look_alike_modules_pass() -> None:
    page = (
        'import core.dbx\nfrom core.costs.report import rollup\nst.caption("Select lessons from the list to start.")\n'
    )
    assert problems(page) == []

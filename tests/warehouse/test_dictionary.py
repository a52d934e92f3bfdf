"""The data dictionary (warehouse/README.md) names every table, view and column the schema creates."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from warehouse.schema import TABLES, VIEWS, migrate

README = Path(__file__).resolve().parents[2] / "warehouse" / "README.md"


def test_every_table_view_and_column_is_documented() -> None:
    text = README.read_text(encoding="utf-8")
    words = set(re.findall(r"[a-z0-9_]+", text))
    con = duckdb.connect()
    migrate(con)
    missing = []
    for name in (*TABLES, *VIEWS):
        if name not in words:
            missing.append(name)
        for (column,) in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [name]
        ).fetchall():
            # Headings document whole families at once ("delivered_seconds_720p / _1080p ...").
            if column not in words and not any(column.endswith(w) for w in words if w.startswith("_") and len(w) >= 5):
                missing.append(f"{name}.{column}")
    assert missing == []

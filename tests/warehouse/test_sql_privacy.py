"""What the workbench can read holds no password hash, email or token: the platform job never copies them.

Checked on a snapshot a real platform job wrote from a platform DB whose users have password hashes and
emails: no column is named for a secret, and no text value anywhere contains one of the platform's hashes or
emails (nor a student's platform id standing for them: students are keys).
"""

from __future__ import annotations

import duckdb
from sqlalchemy import text

from core.db.engine import make_engine
from tests.warehouse.conftest import Built
from warehouse.store import WarehouseLayout

SECRET_WORDS = ("password", "hash", "token", "secret", "email")


def test_no_password_hash_email_or_token_reaches_the_warehouse(built: Built) -> None:
    engine = make_engine(built.database_url)
    with engine.connect() as conn:
        secrets = [
            value
            for row in conn.execute(text("SELECT password_hash, email FROM users")).all()
            for value in row
            if value and value != "!"
        ]
    engine.dispose()
    assert any(s.startswith("scrypt") for s in secrets) and any("@" in s for s in secrets)  # the check has teeth

    snapshot = WarehouseLayout(built.pointer).published()
    assert snapshot is not None
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        columns = con.execute("SELECT table_name, column_name, data_type FROM information_schema.columns").fetchall()
        named = [f"{t}.{c}" for t, c, _ in columns if any(w in c.lower() for w in SECRET_WORDS)]
        assert named == []
        con.execute("CREATE TEMP TABLE secrets AS SELECT unnest($s) AS value", {"s": secrets})
        found = []
        for table, column, data_type in columns:
            if data_type != "VARCHAR":
                continue
            hits = con.execute(
                f'SELECT count(*) FROM "{table}" t, secrets s WHERE contains(t."{column}", s.value)'
            ).fetchall()[0][0]
            if hits:
                found.append(f"{table}.{column}")
        assert found == []
    finally:
        con.close()

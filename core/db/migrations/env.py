"""Alembic environment: the URL comes from the caller (core.db.migrate) or DATABASE_URL, never a file."""

from __future__ import annotations

import os

from alembic import context

from core.db.engine import make_engine
from core.db.models import Base

config = context.config
database_url = config.attributes.get("database_url") or os.environ.get("DATABASE_URL", "sqlite:///var/lectern.db")

engine = make_engine(database_url, sqlite_foreign_keys=False)
try:
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        if connection.dialect.name == "sqlite":
            # Keys were off while tables were rebuilt; prove nothing was left dangling.
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"migration left rows violating foreign keys: {broken[:5]}")
finally:
    engine.dispose()

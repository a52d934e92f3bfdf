"""Platform database: models, engine/session helpers, Alembic migrations."""

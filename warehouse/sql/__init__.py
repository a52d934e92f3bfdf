"""The analysts' SQL workbench: guarded, limited, read-only queries on the published warehouse snapshot.

- `guard.py`     which statements run (DuckDB's parser decides) and the locked-down instance they run in
- `scoped.py`    a teacher's in-memory copy holding only their courses' rows
- `workbench.py` `SqlWorkbench`: run (row cap, time limit), download and export (csv, parquet, json)
- `examples.py`  the example queries shipped for the common questions
- `errors.py`    `QueryRefused`, `QueryFailed`, `QueryTimedOut` (kind invalid)
"""

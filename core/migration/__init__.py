"""S3-to-Mux migration: plan, job store, workers, ingest, verification and the lesson switch.

Data flow 5 in DESIGN.md: an admin plans (`plan.py`) and starts a selection (jobs in `migration_jobs`,
`jobs.py`); any number of worker processes claim jobs with row locks (`worker.py`); each job gets its
Mux asset from a presigned S3 URL, or streamed through Lectern as a fallback (`ingest.py`), is verified
and switches its lesson to Mux in the same transaction that marks it done (`verify.py`). The S3 object
stays until an admin runs cleanup; rollback works until then (`service.py`, the admin facade used by the
CLI and the dashboard). Every step is resumable.

Import from the modules (`core.migration.worker`, ...): a worker process then never loads pandas, which
only the plan and the dashboard's frames need.
"""

# Two commands matter: `make demo` and `make test`. Each builds .venv from nothing when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed
export UV_PYTHON_DOWNLOADS := never
export TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: install web-components chromium wrk demo test test-quick soak bench check lint audit format clean

install: $(STAMP)

# The dev group (test and check tools) and the `demo` extra (moto, the demo's and the tests' local S3).
$(STAMP): pyproject.toml uv.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/pip install --quiet "uv==$(UV_VERSION)"
	$(BIN)/uv sync --frozen --inexact --extra demo --quiet
	@touch $(STAMP)

# Mux's uploader and player web components, vendored from the npm registry (no CDN at run time).
web-components:
	@scripts/install_web_components.sh

# Debian programs, installed with apt when missing and we are root: wrk is the API benchmark's load
# generator (C, so it leaves the 2 cores to the server it measures); browser tests drive Chromium.
wrk:
	@scripts/ensure_apt_package.sh wrk $${LECTERN_WRK:-/usr/bin/wrk}

chromium:
	@scripts/ensure_apt_package.sh chromium $${LECTERN_CHROMIUM:-/usr/bin/chromium}

demo: install web-components
	$(BIN)/lectern demo

# `check` first: CI runs `make test`, so it enforces the checks too. Two pytest-xdist workers: most tests wait
# on servers, subprocesses and PostgreSQL, so two keep both cores busy. --dist loadfile keeps a module on one
# worker, so its module-scoped servers (the browser stack) start once.
test: install check web-components chromium
	$(BIN)/pytest -m "not slow" -n 2 --dist loadfile

test-quick: install web-components
	$(BIN)/pytest -x -q -m "not slow and not browser"

bench: install wrk
	$(BIN)/python -m bench

# docs/screenshots/: every page for every role, from a demo it starts on free ports (tools/screenshots.py).
.PHONY: screenshots
screenshots: install web-components chromium
	$(BIN)/python -m tools.screenshots

# Lint, format and types of the product code (mypy: strict on core/, settings in pyproject.toml). Offline.
check: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# `check` plus `audit`. The audit is not part of `make test`: it needs a vulnerability database on the
# internet (PyPI's per-version JSON API or OSV), which CI's machine cannot reach.
lint: check
	@$(MAKE) --no-print-directory audit

# Known vulnerabilities in the locked dependencies (uv.lock, dev group and extras included), not in whatever .venv holds.
# --strict fails when a package cannot be audited: a vulnerability service that cannot be reached must not
# read as "no known vulnerabilities". PIP_AUDIT_SERVICE=osv picks the OSV database instead of PyPI's.
PIP_AUDIT_SERVICE ?= pypi
audit: install
	@mkdir -p var
	$(BIN)/uv export --frozen --all-groups --all-extras --no-emit-project --format requirements-txt --quiet -o var/audit-requirements.txt
	$(BIN)/pip-audit --strict --desc --disable-pip --progress-spinner off -s $(PIP_AUDIT_SERVICE) -r var/audit-requirements.txt

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache

# The long soak/benchmark-sized versions of tests (`make test` runs their quick versions), among them the
# reliability suite (tests/reliability: OpenAPI fuzz, webhook storm, PostgreSQL restart, full or read-only
# warehouse disk, Mux faults). SOAK_ROUNDS=3 runs them three times in a row, stopping at the first failure;
# SOAK_ARGS narrows them, e.g. `make soak SOAK_ROUNDS=3 SOAK_ARGS=tests/reliability`.
SOAK_ROUNDS ?= 1
SOAK_ARGS ?=
soak: install
	@for round in $$(seq $(SOAK_ROUNDS)); do \
		echo "soak round $$round of $(SOAK_ROUNDS)"; \
		$(BIN)/pytest -m slow $(SOAK_ARGS) || exit 1; \
	done

# The two commands a newcomer needs: `make build` and `make test`.
# Everything else here is a helper they call.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)

export DBT_PROFILES_DIR := $(CURDIR)
export DBT_PROJECT_DIR := $(CURDIR)
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DO_NOT_TRACK := 1
export GX_ANALYTICS_ENABLED := false
export DAGSTER_DISABLE_TELEMETRY := 1
export RETENTION_DB ?= $(CURDIR)/warehouse.duckdb
export RETENTION_RAW_DIR ?= $(CURDIR)/data/sample

.PHONY: build test test-postgres test-spark lint lock venv system-packages clean

## build: the warehouse on the bundled sample (venv, sample data, dbt build, quality checkpoint)
build: $(STAMP)
	$(BIN)/retention build

## test: the whole test suite (dbt build on test data, lint, unit tests, oracle, PostgreSQL,
## Spark, ...), on two workers: each test file runs whole on one of them, so its module
## fixtures are built once.
test: $(STAMP) system-packages
	$(BIN)/python -m pytest -n 2 --dist loadfile

## test-postgres: the project on a throwaway PostgreSQL server, compared with DuckDB
test-postgres: $(STAMP) system-packages
	$(BIN)/python -m pytest -m postgres

## test-spark: the project on a local Spark (dbt-spark session method), compared with DuckDB
test-spark: $(STAMP) system-packages
	$(BIN)/python -m pytest -m spark

lint: $(STAMP)
	$(BIN)/sqlfluff lint models macros analyses snapshots tests
	$(BIN)/ruff check retention_warehouse tests scripts
	$(BIN)/python scripts/yaml_style.py check

venv: $(STAMP)

# The venv is rebuilt whenever the lock or pyproject changes (the stamp name is their checksum).
$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@rm -f $(VENV)/.installed-*
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

system-packages:
	@bash scripts/ensure_system_packages.sh

# Re-resolve the lock from requirements.in in a throwaway venv.
lock:
	rm -rf /tmp/retention-lock-venv && $(PYTHON) -m venv /tmp/retention-lock-venv
	/tmp/retention-lock-venv/bin/pip install --quiet -r requirements.in
	{ echo '# Full transitive lock of requirements.in, produced by `make lock` (pip freeze of a fresh venv).'; \
	  /tmp/retention-lock-venv/bin/pip freeze; } > requirements.lock

clean:
	rm -rf target logs dbt_packages quality_results warehouse.duckdb* data

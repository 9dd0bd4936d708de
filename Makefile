# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install run test test-slow test-spark lint typecheck bench dagster clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/cdp run

# The default suite on $(TEST_WORKERS) pytest-xdist workers, one test module at a time per
# worker (loadscope), so a module-scoped fixture (a pipeline run) is built once; modules go
# out in collection order, which tests/conftest.py starts with the long ones.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder

# The slow tests `make test` leaves out (kill -9 at every fault point, 10-day incremental run,
# pipeline-level order independence): a few minutes on 2 cores.
test-slow: $(STAMP)
	$(PY) -m pytest -m slow

# Engine parity on Spark local[2] (pyspark extra + Java 17): pairs, clusters, ids, golden.
test-spark: $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,spark]'
	PYSPARK_PYTHON=$(CURDIR)/$(PY) $(PY) -m pytest tests/spark -m spark

lint: $(STAMP)
	$(VENV)/bin/ruff check cdp connectors pipelines dagster_project tests benchmarks
	$(VENV)/bin/mypy

typecheck: lint

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) -m benchmarks

# The Dagster UI on loopback, with run history kept in .dagster_home (telemetry off,
# one writer at a time in the cdp_writer pool).
dagster: $(STAMP)
	mkdir -p .dagster_home
	test -f .dagster_home/dagster.yaml || printf 'telemetry:\n  enabled: false\nconcurrency:\n  pools:\n    default_limit: 1\n' > .dagster_home/dagster.yaml
	DAGSTER_HOME=$(CURDIR)/.dagster_home $(VENV)/bin/dagster dev -m dagster_project -h 127.0.0.1

clean:
	rm -rf $(VENV) data/out .pytest_cache .mypy_cache .ruff_cache

# chat-telemetry: every target creates the virtualenv it needs and starts the embedded
# Postgres on demand (unless PG* variables point at your own server).
#   make demo    the main job: bootstrap, realistic workload, dbt build, summary, report
#   make test    ruff, sqlfluff, pytest and dbt build, all against a real Postgres
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt constraints.txt pyproject.toml python_writer/pyproject.toml | cksum | cut -d' ' -f1)
SPARK_STAMP := $(VENV)/.installed-spark-$(shell cat requirements-spark.txt constraints.txt | cksum | cut -d' ' -f1)
PY := $(BIN)/python
# Runs a command with the PG* variables of the project's database set.
WITH_DB := $(PY) -m chat_telemetry exec --
export DBT_PROFILES_DIR := $(CURDIR)
# Scratch database of `make test`'s dbt build on the embedded server (ignored with PG* set).
CHECK_DATABASE ?= chat_telemetry_check

DEMO_DAYS ?= 30
DEMO_REQUESTS_PER_DAY ?= 2000
DEMO_USERS ?= 300
DEMO_SEED ?= 7
BENCH_ROWS ?= 1000000
BENCH_DAYS ?= 30
BENCH_SPARK_ROWS ?= 200000

.PHONY: help venv venv-spark spark-build test-spark bench-spark db-up db-down db-url psql bootstrap lint format test test-slow pytest dbt-check demo \
        simulate dbt-build summary report metrics bench bench-otel bench-tiny prices-check clean

help:
	@echo "make demo      run the main job (embedded Postgres unless PG* is set)"
	@echo "make test      lint + pytest + dbt build against a real Postgres"
	@echo "make bench     writer and dbt benchmarks (BENCH_ROWS=$(BENCH_ROWS))"
	@echo "make bench-otel   the OpenTelemetry span processor's cost per span"
	@echo "make report    write the HTML dashboard from the marts"
	@echo "make metrics   the semantic layer's ratio metrics by week (mf query)"
	@echo "make prices-check   the price seed against the pinned genai-prices (a report)"
	@echo "make spark-build | test-spark | bench-spark   the same marts on Spark (Java 17)"
	@echo "make supabase-migrations   supabase/migrations/ from bootstrap_sql/"
	@echo "make db-up | db-down | db-url | psql | bootstrap | lint | format | clean"

$(STAMP):
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt \
	    -e "./python_writer[otel]" -e .
	@rm -f $(VENV)/.installed-*
	@touch $@

venv: $(STAMP)

# The Spark engine's extras (PySpark, dbt-spark), into the same virtualenv. Java 17 is the
# one thing it cannot install: README "Running on Spark" says how.
$(SPARK_STAMP): $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-spark.txt -c constraints.txt
	@rm -f $(VENV)/.installed-spark-*
	@touch $@

venv-spark: $(SPARK_STAMP)

db-up: $(STAMP)
	@$(PY) -m chat_telemetry db-up

db-down: $(STAMP)
	@$(PY) -m chat_telemetry db-down

db-url: $(STAMP)
	@$(PY) -m chat_telemetry db-url

psql: $(STAMP)
	@$(PY) -m chat_telemetry psql

bootstrap: $(STAMP)
	@$(PY) -m chat_telemetry bootstrap

# supabase/migrations/: byte-for-byte copies of bootstrap_sql/ (all but the compat file) under
# timestamped names; commit the result. tests/python/test_supabase.py fails when they drift.
.PHONY: supabase-migrations
supabase-migrations:
	@$(PYTHON) supabase/sync_migrations.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(WITH_DB) $(BIN)/sqlfluff lint models analyses tests/dbt

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(WITH_DB) $(BIN)/sqlfluff fix models analyses tests/dbt

pytest: $(STAMP)
	$(BIN)/pytest -m "not slow and not spark"

# The slow suite: the marts-over-time scenarios (a dozen dbt builds). .ci/run runs it after
# `make test`.
test-slow: $(STAMP)
	$(BIN)/pytest -m slow

# dbt build (models, seeds, data tests, unit tests) on a scratch database with a small
# realistic workload: a full build, then an incremental one over one more day of rows.
dbt-check: $(STAMP)
	CHAT_TELEMETRY_DATABASE=$(CHECK_DATABASE) $(PY) -m chat_telemetry bootstrap
	CHAT_TELEMETRY_DATABASE=$(CHECK_DATABASE) $(PY) -m chat_telemetry simulate --reset \
	    --days 4 --requests-per-day 150 --users 40 --seed 11 --end-offset-days 1 --quiet
	CHAT_TELEMETRY_DATABASE=$(CHECK_DATABASE) $(WITH_DB) $(BIN)/dbt build --full-refresh
	CHAT_TELEMETRY_DATABASE=$(CHECK_DATABASE) $(PY) -m chat_telemetry simulate \
	    --days 1 --requests-per-day 150 --users 40 --seed 12 --quiet
	CHAT_TELEMETRY_DATABASE=$(CHECK_DATABASE) $(WITH_DB) $(BIN)/dbt build

test: lint pytest dbt-check
	@echo "make test: all checks passed"

simulate: $(STAMP)
	$(PY) -m chat_telemetry simulate --reset --days $(DEMO_DAYS) \
	    --requests-per-day $(DEMO_REQUESTS_PER_DAY) --users $(DEMO_USERS) --seed $(DEMO_SEED)

dbt-build: $(STAMP)
	$(WITH_DB) $(BIN)/dbt build --full-refresh
	$(WITH_DB) $(BIN)/dbt docs generate --quiet

# The price seed against the pinned genai-prices: a report to review, never a failure.
prices-check: $(STAMP)
	$(PY) -m chat_telemetry prices check

summary: $(STAMP)
	@$(PY) -m chat_telemetry summary

report: $(STAMP)
	@$(PY) -m chat_telemetry report --output reports/dashboard.html

demo: $(STAMP)
	@$(PY) -m chat_telemetry bootstrap
	@$(MAKE) --no-print-directory simulate dbt-build report summary

clean:
	rm -rf target logs dbt_packages .pytest_cache .ruff_cache

# The semantic layer's metrics (README "Metrics that BI cannot average wrong"), by week unless
# GROUP_BY says otherwise, from the marts `make demo` built.
METRICS ?= error_rate,off_topic_rate,cache_hit_rate,cost_per_request_usd
GROUP_BY ?= metric_time__week
metrics: $(STAMP)
	@$(WITH_DB) $(BIN)/mf query --metrics $(METRICS) --group-by $(GROUP_BY) --order $(GROUP_BY)

# Writer, dbt and report benchmarks in a scratch database; BENCH_ROWS rows (default 1M).
bench: $(STAMP)
	$(PY) -m chat_telemetry.benchmark --rows $(BENCH_ROWS) --days $(BENCH_DAYS)

# What TelemetrySpanProcessor costs the threads that end spans (BENCHMARKS.md, "OpenTelemetry").
bench-otel: $(STAMP)
	$(PY) -m chat_telemetry.benchmark.otel

# Spark (README "Running on Spark"): land raw telemetry from the project's Postgres into
# .spark/warehouse and build the same marts with dbt-spark, in one local PySpark session.
spark-build: $(SPARK_STAMP)
	$(PY) -m chat_telemetry spark-build

# Full and incremental builds on Spark next to Postgres for the same rows (BENCHMARKS.md).
bench-spark: $(SPARK_STAMP)
	$(PY) -m chat_telemetry.benchmark.spark --rows $(BENCH_SPARK_ROWS) --days $(BENCH_DAYS)

# Every mart on Spark against Postgres, cell by cell (.ci/run runs it after `make test`).
test-spark: $(SPARK_STAMP)
	$(BIN)/pytest -m spark

# Alerts and scheduling (README "Alerts and scheduling", docs/operations.md#alerts).
.PHONY: alerts digest schedule-run

# New alerts of rpt_alerts (the last 3 days), each posted once to CHAT_TELEMETRY_WEBHOOK_URL
# when set; exits 1 on a new alert of severity error.
alerts: $(STAMP)
	@$(PY) -m chat_telemetry alerts

# Yesterday's spend, errors, p95 and alerts, printed and posted to CHAT_TELEMETRY_WEBHOOK_URL.
digest: $(STAMP)
	@$(PY) -m chat_telemetry digest

# The one command a scheduler calls: source freshness (reported, never fatal), dbt build, then
# the alerts, which run even after a failed build (the alerts of the last good build still
# count). Exit status 0 when all is well; non-zero (make's 2) when dbt build failed or a new
# alert of severity error was raised; which one is printed.
schedule-run: $(STAMP)
	@$(WITH_DB) $(BIN)/dbt source freshness \
	    || echo "schedule-run: dbt source freshness reports stale telemetry (not fatal)" >&2; \
	$(WITH_DB) $(BIN)/dbt build; build=$$?; \
	$(PY) -m chat_telemetry alerts; alerts=$$?; \
	if [ $$build -ne 0 ]; then echo "schedule-run: dbt build failed (exit $$build)" >&2; exit 1; fi; \
	if [ $$alerts -ne 0 ]; then echo "schedule-run: alerts exit $$alerts (1: new error alert)" >&2; fi; \
	exit $$alerts

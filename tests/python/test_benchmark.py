"""A tiny run of `make bench`, so that the benchmark cannot rot: it loads, builds, compares
every report's raw and mart answers (it fails if they differ) and writes its results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from chat_telemetry import database

# About 130 s of dbt builds: the slow suite (make test-slow, .ci/run), so that make test stays
# within a few minutes.
pytestmark = pytest.mark.slow


def test_a_tiny_benchmark_run_agrees_and_reports_every_key(server):
    output = Path(tempfile.mkdtemp()) / "results.json"
    environ = dict(os.environ)
    if server.is_embedded:
        for name in database.LIBPQ_VARIABLES:
            environ.pop(name, None)
    subprocess.run(
        [sys.executable, "-m", "chat_telemetry.benchmark", "--rows", "3000", "--repeats", "1",
         "--output", str(output), "--database", "pytest_bench"],
        cwd=database.PROJECT_ROOT, env=environ, check=True, timeout=600,
    )  # fmt: skip
    results = json.loads(output.read_text())
    assert results["rows"] >= 3000
    for key in ("persist_p50_us", "persist_p99_us", "rows_per_s", "per_row_insert_rows_per_s",
                "bare_copy_rows_per_s"):  # fmt: skip
        assert results["writer"][key] > 0, key
    for key in ("full_build_s", "incremental_build_s", "incremental_rows"):
        assert results["dbt"][key] > 0, key
    assert [point["rows"] for point in results["dbt"]["scaling"]] == sorted(
        point["rows"] for point in results["dbt"]["scaling"]
    )
    assert len(results["dbt"]["scaling"]) == 3
    # The seed-edit step ran, and its marts were compared with a full rebuild (it raises when
    # they differ); every model's time of the runs is reported.
    edit = results["dbt"]["seed_edit"]
    assert edit["matches_full_rebuild"] is True and edit["run_s"] > 0
    assert "fct_daily_token_cost" in edit["model_s"]
    assert "fct_daily_token_cost" in results["dbt"]["scaling"][-1]["no_new_rows_model_s"]
    assert {query["name"] for query in results["queries"]} == {
        "token_cost_by_day_and_model", "latency_percentiles_by_day_and_step",
        "error_breakdown_30d", "user_usage_30d", "top_sql_patterns", "off_topic_rate_by_day",
        "model_comparison_30d",
    }  # fmt: skip
    assert all(query["raw_ms"] > 0 and query["mart_ms"] > 0 for query in results["queries"])
    assert results["machine"]["cores"] >= 1

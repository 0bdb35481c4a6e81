"""The dbt part of the benchmark: a price edit from ten days back checked against a full
rebuild, and the report queries on raw rows versus on the marts (same answers, timed)."""

from __future__ import annotations

import csv
import shutil
import statistics
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

from chat_telemetry import database
from chat_telemetry.benchmark.common import model_seconds, normalise, timed_dbt
from chat_telemetry.benchmark.reports import REPORTS
from chat_telemetry.marts import internal_schema, marts_schema

# The seed-edit step: one model's price changes from ten days back (a cut of 20%).
EDITED_MODEL = "gpt-4.1-mini"
EDITED_DAYS_BACK = 10
COST_MARTS = ("fct_daily_token_cost", "fct_daily_user_usage")


def project_copy(destination: Path) -> Path:
    """A copy of the dbt project whose seed the benchmark edits (never the checkout's)."""
    root = database.PROJECT_ROOT
    for folder in ("models", "macros", "seeds", "tests", "analyses"):
        shutil.copytree(root / folder, destination / folder)
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(root / name, destination / name)
    return destination


def cut_price(seed: Path, model: str, from_day: date) -> None:
    """Close the model's open default-tier row on `from_day` and add one 20% cheaper."""
    with seed.open(newline="") as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    price_columns = [name for name in fields if name.endswith("_usd_per_1m")]
    current = [
        row
        for row in rows
        if row["model"] == model and row["service_tier"] == "default" and not row["valid_to"]
    ]
    if len(current) != 1:
        raise RuntimeError(f"{seed}: expected one open default row of {model}")
    current[0]["valid_to"] = from_day.isoformat()
    cheaper = dict(current[0], valid_from=from_day.isoformat(), valid_to="", source="bench cut")
    for name in price_columns:
        if cheaper[name]:
            cheaper[name] = str(Decimal(cheaper[name]) * Decimal("0.8"))
    with seed.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fields)
        writer.writeheader()
        writer.writerows([*rows, cheaper])


def read_cost_marts(conninfo: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the cost marts, in one order (a table's row order is not its content)."""
    with psycopg.connect(conninfo) as connection:
        return {
            mart: sorted(
                normalise(
                    connection.execute(f'select * from "{marts_schema()}".{mart}').fetchall()
                ),
                key=lambda row: tuple((item is None, str(item)) for item in row),
            )
            for mart in COST_MARTS
        }


def measure_seed_edit(
    connection: database.Connection, new_day: date, full_elapsed_s: float
) -> dict[str, Any]:
    """A price edit from ten days back, then the scheduled run, checked against a full
    rebuild with the same seed (the marts must be identical, row for row)."""
    conninfo = connection.conninfo()
    with tempfile.TemporaryDirectory() as folder:
        project = project_copy(Path(folder) / "project")
        cut_price(
            project / "seeds" / "token_prices.csv",
            EDITED_MODEL,
            new_day - timedelta(days=EDITED_DAYS_BACK),
        )
        seed_s, _ = timed_dbt(connection, "seed", project=project)
        run_s, run_elapsed = timed_dbt(connection, "run", project=project)
        per_model = model_seconds(project)
        scheduled = read_cost_marts(conninfo)
        timed_dbt(connection, "run", "--full-refresh", project=project)
        rebuilt = read_cost_marts(conninfo)
        for mart in COST_MARTS:
            if scheduled[mart] != rebuilt[mart]:
                extra = sorted(set(scheduled[mart]) - set(rebuilt[mart]), key=str)[:3]
                missing = sorted(set(rebuilt[mart]) - set(scheduled[mart]), key=str)[:3]
                raise AssertionError(
                    f"after the seed edit, {mart} differs from a full rebuild: "
                    f"{extra} instead of {missing}"
                )
    # Back to the checkout's seed and marts for what follows.
    timed_dbt(connection, "seed")
    timed_dbt(connection, "run")
    return {
        "model": EDITED_MODEL,
        "days_back": EDITED_DAYS_BACK,
        "seed_s": round(seed_s, 2),
        "run_s": round(run_s, 2),
        "run_dbt_elapsed_s": round(run_elapsed, 2),
        "share_of_full_dbt_elapsed": round(run_elapsed / full_elapsed_s, 3),
        "matches_full_rebuild": True,
        "model_s": per_model,
    }


def windowed_marts_window(conninfo: str) -> tuple[date, date]:
    """The window the windowed marts were last built for (first and last day).

    Their as_of_date defaults to the day the run started (one day for every model of a run),
    so a bench that runs across midnight UTC has marts one day later than a window computed
    when it began: the raw reports must read the window the marts were built for (a tiny run
    across midnight failed on exactly that). Both windowed marts are rebuilt by every run and
    must agree."""
    windows = set()
    with psycopg.connect(conninfo) as connection:
        for mart in ("rpt_user_usage_30d", "fct_model_comparison"):
            query = (
                f'select distinct window_start_date, window_end_date from "{marts_schema()}".{mart}'
            )
            windows.update(connection.execute(query.encode()).fetchall())
    if len(windows) != 1:
        raise AssertionError(
            f"the windowed marts hold {len(windows)} windows ({sorted(windows)}), not one: "
            "empty, or not built by the same run; run the benchmark again"
        )
    window: tuple[date, date] = windows.pop()
    return window


def measure_reports(
    conninfo: str, window_start: date, window_end: date, repeats: int
) -> list[dict[str, Any]]:
    results = []
    names = {
        "window_start": f"date '{window_start.isoformat()}'",
        "window_end": f"date '{window_end.isoformat()}'",
        "marts": marts_schema(),
        "internal": internal_schema(),
    }
    with psycopg.connect(conninfo, autocommit=True) as connection:
        for report in REPORTS:
            timings = {}
            answers = {}
            for kind, text in (("raw", report.raw_sql), ("mart", report.mart_sql)):
                query = text.format(**names)
                samples = []
                for _ in range(repeats):
                    started = time.perf_counter()
                    rows = connection.execute(query.encode()).fetchall()
                    samples.append((time.perf_counter() - started) * 1000)
                timings[kind] = statistics.median(samples)
                answers[kind] = normalise(rows)
            if answers["raw"] != answers["mart"]:
                mismatched = [
                    pair for pair in zip(answers["raw"], answers["mart"], strict=False)
                    if pair[0] != pair[1]
                ][:3]  # fmt: skip
                raise AssertionError(
                    f"report {report.name}: raw and mart answers differ "
                    f"({len(answers['raw'])} vs {len(answers['mart'])} rows; {mismatched})"
                )
            results.append(
                {
                    "name": report.name,
                    "raw_ms": round(timings["raw"], 2),
                    "mart_ms": round(timings["mart"], 2),
                    "speedup": round(timings["raw"] / max(timings["mart"], 1e-6), 1),
                    "rows": len(answers["mart"]),
                }
            )
    return results

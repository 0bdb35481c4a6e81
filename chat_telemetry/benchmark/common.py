"""What the Postgres and Spark benchmarks share: the machine, the scratch database, the
workload's shape, the new day with late rows, and dbt timed.

Public on purpose: `benchmark/run.py` and `benchmark/spark.py` both build on these, so that
their numbers come from the same database preparation and the same rows.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from telemetry_writer import TelemetryWriter

from chat_telemetry import bootstrap, database, dbt, settings
from chat_telemetry.marts import internal_schema, marts_schema
from chat_telemetry.workload.generator import WorkloadSettings
from chat_telemetry.workload.loader import analyze_telemetry, reset_demo_data, write_days

BENCH_DATABASE = "chat_telemetry_bench"
DAYS = 30
LATE_ROWS_SHARE = 0.02
# The benchmark's dbt artifacts, apart from those of `make` targets and of the tests.
TARGET_FOLDER = Path("target") / "bench"


def machine() -> dict[str, Any]:
    """The machine the numbers come from: results compare only on the same hardware."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory_gb = round(pages / 2**30, 1)
    except (ValueError, OSError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": memory_gb,
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def log(message: str) -> None:
    """A timestamped progress line (a 1M-row run takes a while)."""
    print(f"[bench {datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


def prepare_database(name: str = BENCH_DATABASE) -> database.Connection:
    """A scratch database: recreated on the embedded server; with PG* set, that database,
    emptied of telemetry and marts (never point the benchmark at production)."""
    environ = {k: v for k, v in os.environ.items() if k != settings.DATABASE.name}
    server = database.resolve(environ)
    if server.is_embedded:
        with psycopg.connect(server.conninfo(), autocommit=True) as admin:
            admin.execute(f'drop database if exists "{name}" with (force)')
            admin.execute(f'create database "{name}"')
        server = replace(server, database=name)
    bootstrap.apply(server.conninfo())
    reset_demo_data(server.conninfo())
    with psycopg.connect(server.conninfo(), autocommit=True) as connection:
        connection.execute("truncate public.chat_telemetry_log")
        for schema in (marts_schema(), internal_schema()):
            connection.execute(f'drop schema if exists "{schema}" cascade')
    return server


def server_version(conninfo: str) -> str:
    """PostgreSQL's version, for the results' machine section."""
    with psycopg.connect(conninfo) as connection:
        row = connection.execute("show server_version").fetchone()
        return str(row[0]) if row else "unknown"


def workload_settings(
    rows: int, seed: int, days: int, end_date: date, new_days: int = 1
) -> WorkloadSettings:
    """About `rows` rows over `days` days of history ending on `end_date`, plus `new_days`
    new days after it."""
    per_day = max(1, round(rows / days / 0.9))  # the weekly rhythm averages about 0.9
    return WorkloadSettings(
        days=days + new_days, requests_per_day=per_day, users=max(50, rows // 200), seed=seed,
        end_date=end_date + timedelta(days=new_days),
    )  # fmt: skip


def bench_writer(conninfo: str) -> TelemetryWriter:
    """The writer the bench loads days with: a queue large enough for a day at 1M rows."""
    return TelemetryWriter(
        conninfo, max_queue_size=200_000, max_queue_bytes=2 * 2**30, batch_size=5_000
    )


def write_new_day(conninfo: str, new_day: Any, writer: TelemetryWriter) -> tuple[int, int]:
    """One new day, with late rows inside the lookback (the day before, arriving now),
    written and the writer closed; (rows written, late rows)."""
    _, _, records = new_day
    late_count = max(1, round(len(records) * LATE_ROWS_SHARE))
    for record in records[:late_count]:
        record.created_at -= timedelta(days=1)
    added = write_days(conninfo, [new_day], writer)
    writer.close(60)
    analyze_telemetry(conninfo)
    return added, late_count


def settle_database(conninfo: str) -> None:
    """VACUUM ANALYZE the scratch database after a build that production never runs just
    before a scheduled one. A full build rewrites every table of a million rows; autovacuum
    then cleans and analyses them, and their first readers set hint bits, in the minute
    after, on the same two cores as the next timed run (a no-new-rows Postgres run right
    after a full build took 4.29-4.46 s, the same run after a VACUUM ANALYZE 4.00-4.06 s).
    `make bench` settles after each full build only: its later timed runs follow a scheduled
    run, whose leftovers (dead rows of the lookback days) production has too. `make
    bench-spark` settles after the Postgres builds it makes beside Spark, which a Spark
    deployment does not have (a Spark build had 3.9 s of stalls while autovacuum went
    through them)."""
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute("vacuum analyze")


def timed_dbt(
    connection: database.Connection, *arguments: str, project: Path = database.PROJECT_ROOT
) -> tuple[float, float]:
    """Run dbt; (wall-clock seconds, dbt's own elapsed seconds without start-up and parsing)."""
    target = project / TARGET_FOLDER
    started = time.perf_counter()
    result = dbt.run(connection, *arguments, project=project, target_path=target)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"dbt {' '.join(arguments)} failed:\n{result.stdout[-4000:]}")
    elapsed = json.loads((target / "run_results.json").read_text())["elapsed_time"]
    return seconds, float(elapsed)


def model_seconds(
    project: Path = database.PROJECT_ROOT, target_folder: Path = TARGET_FOLDER
) -> dict[str, float]:
    """Seconds per model (hooks included) of the last dbt call that wrote `target_folder`
    (`timed_dbt`'s by default), slowest first."""
    results = json.loads((project / target_folder / "run_results.json").read_text())
    times = {
        entry["unique_id"].rsplit(".", 1)[-1]: round(float(entry["execution_time"]), 3)
        for entry in results["results"]
        if entry["unique_id"].startswith("model.")
    }
    return dict(sorted(times.items(), key=lambda item: -item[1]))


def normalise(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows made comparable across engines and queries: floats to 6 decimals, numerics
    normalised (a table's numeric scale is not its content)."""

    def value(item: Any) -> Any:
        if isinstance(item, float):
            return round(Decimal(item), 6)
        if isinstance(item, Decimal):
            return item.normalize() if item == item else item
        return item

    return [tuple(value(item) for item in row) for row in rows]

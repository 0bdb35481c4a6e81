"""`make bench`: the writer, dbt builds as history grows, and reports on marts versus raw.

Everything runs in one scratch database (`chat_telemetry_bench` on the embedded server, or the
`PG*` database, which it empties), so numbers from one run belong together. Results go to
`bench/results.json` and a readable table on stdout.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from telemetry_writer import TelemetryRecord, TelemetryWriter
from telemetry_writer.record import snapshot
from telemetry_writer.repair import COPY_COLUMNS, TextLimits, repair

from chat_telemetry import bootstrap, database, settings
from chat_telemetry.benchmark.reports import REPORTS
from chat_telemetry.workload.generator import WorkloadGenerator, WorkloadSettings
from chat_telemetry.workload.loader import (
    analyze_telemetry,
    create_users,
    reset_demo_data,
    write_days,
)

BENCH_DATABASE = "chat_telemetry_bench"
RESULTS_PATH = database.PROJECT_ROOT / "bench" / "results.json"
DAYS = 30
LATE_ROWS_SHARE = 0.02


def machine() -> dict[str, Any]:
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


def _log(message: str) -> None:
    print(f"[bench {datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


# ------------------------------------------------------------------ database


def prepare_database(name: str = BENCH_DATABASE) -> database.Connection:
    """A scratch database: recreated on the embedded server; with PG* set, that database,
    emptied of telemetry and marts (never point the benchmark at production)."""
    environ = {k: v for k, v in os.environ.items() if k != "CHAT_TELEMETRY_DATABASE"}
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
        for schema in ("analytics", "analytics_internal"):
            connection.execute(f"drop schema if exists {schema} cascade")
    return server


def _server_version(conninfo: str) -> str:
    with psycopg.connect(conninfo) as connection:
        row = connection.execute("show server_version").fetchone()
        return str(row[0]) if row else "unknown"


def _repaired(record: TelemetryRecord, limits: TextLimits) -> tuple[Any, ...]:
    """The row the writer would COPY for this record (for the baselines)."""
    values = snapshot(record)
    assert values is not None
    return repair(values, limits, Counter())


# ------------------------------------------------------------------ writer


def _sample_records(generator: WorkloadGenerator, count: int) -> list[TelemetryRecord]:
    records: list[TelemetryRecord] = []
    for record in generator.iter_records():
        records.append(record)
        if len(records) >= count:
            break
    return records


def measure_writer(conninfo: str, settings: WorkloadSettings, rows: int) -> dict[str, Any]:
    """Caller cost, writer throughput, per-row INSERT and bare COPY, on the same rows."""
    generator = WorkloadGenerator(replace(settings, seed=settings.seed + 1000))
    create_users(conninfo, generator)
    records = _sample_records(generator, rows)
    # The workload may hold fewer records than asked for (a small sample of few days).
    rows = len(records)
    # 1. The caller's cost of persist, with a queue large enough that nothing is dropped.
    # Bounds large enough that nothing is dropped: this measures the caller and the writer.
    writer = TelemetryWriter(
        conninfo, max_queue_size=rows + 1, max_queue_bytes=rows * 10_000, batch_size=5_000
    )
    # The sample's conversations first (no records yet): foreign keys are checked for real.
    write_days(conninfo, [(settings.end_date, generator.conversations, [])], writer)
    costs_ns = []
    started = time.perf_counter()
    for record in records:
        before = time.perf_counter_ns()
        writer.persist(record)
        costs_ns.append(time.perf_counter_ns() - before)
    assert writer.flush(timeout=600), "writer did not drain"
    writer_seconds = time.perf_counter() - started
    stats = writer.stats()
    writer.close(5)
    assert stats["written"] == rows, stats
    costs_ns.sort()

    # 2. Bare COPY of the same rows (already repaired, one transaction): the ceiling.
    limits = TextLimits()
    prepared = [_repaired(record, limits) for record in records]
    columns = ", ".join(COPY_COLUMNS)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute("set role service_role")
        started = time.perf_counter()
        with (
            connection.transaction(),
            connection.cursor() as cursor,
            cursor.copy(f"copy public.chat_telemetry_log ({columns}) from stdin") as copy,
        ):
            for row in prepared:
                copy.write_row(row)
        copy_seconds = time.perf_counter() - started

        # 3. Per-row INSERT, one transaction per row, as a naive backend would do.
        sample = [_repaired(record, limits) for record in records[: min(rows, 3_000)]]
        placeholders = ", ".join(["%s"] * len(COPY_COLUMNS))
        statement = f"insert into public.chat_telemetry_log ({columns}) values ({placeholders})"
        started = time.perf_counter()
        for row in sample:
            connection.execute(statement, row)
        insert_seconds = time.perf_counter() - started
        connection.execute("reset role")
        connection.execute("truncate public.chat_telemetry_log")

    def percentile(fraction: float) -> float:
        return costs_ns[min(len(costs_ns) - 1, int(fraction * len(costs_ns)))] / 1000

    return {
        "rows": rows,
        "persist_p50_us": round(percentile(0.50), 2),
        "persist_p99_us": round(percentile(0.99), 2),
        "rows_per_s": round(rows / writer_seconds),
        "per_row_insert_rows_per_s": round(len(sample) / insert_seconds),
        "bare_copy_rows_per_s": round(rows / copy_seconds),
    }


def _resident_bytes() -> int | None:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def measure_writer_memory(count: int, answer_bytes: int = 1_000_000) -> dict[str, Any]:
    """An outage with 1 MB answers: the byte bound, not the record count, limits memory.

    The writer points at a server that does not exist, so every record stays in memory up to
    `max_queue_bytes` (64 MB, the default) and the rest is dropped as `queue_full`. Answers
    are cut to TextLimits at `persist`, so each record holds about 200 kB, not 1 MB.
    """
    bound = 64 * 2**20
    answer = "y" * answer_bytes
    writer_log = logging.getLogger("telemetry_writer")
    level = writer_log.level
    writer_log.setLevel(logging.CRITICAL)  # the outage is the point: no warnings needed
    try:
        writer = TelemetryWriter(
            "host=/nonexistent/telemetry-bench dbname=none",
            max_queue_size=count + 1,
            max_queue_bytes=bound,
            flush_interval_s=3600,
        )
        gc.collect()
        before = _resident_bytes()
        user_id = uuid.uuid4()
        started = time.perf_counter()
        for _ in range(count):
            writer.persist(TelemetryRecord(user_id=user_id, user_question="q", ai_response=answer))
        persist_seconds = time.perf_counter() - started
        stats = writer.stats()
        after = _resident_bytes()
        writer.close(0)
    finally:
        writer_log.setLevel(level)
    held = stats["queued"] + stats["pending"] + stats["in_flight"]
    return {
        "outage_records": count,
        "answer_bytes": answer_bytes,
        "max_queue_bytes": bound,
        "held_records": held,
        "queued_bytes": stats["queued_bytes"],
        "dropped_queue_full": stats["dropped"]["queue_full"],
        "resident_growth_mb": (
            None if before is None or after is None else round((after - before) / 2**20, 1)
        ),
        "persist_us_with_1mb_answer": round(persist_seconds / count * 1e6, 1),
    }


# ------------------------------------------------------------------ loading and dbt


def dbt(
    connection: database.Connection, *arguments: str, project: Path = database.PROJECT_ROOT
) -> tuple[float, float]:
    """Run dbt; (wall-clock seconds, dbt's own elapsed seconds without start-up and parsing)."""
    environ = dict(os.environ)
    environ.update(connection.env())
    environ["DBT_PROFILES_DIR"] = str(project)
    target = project / "target" / "bench"
    environ["DBT_TARGET_PATH"] = str(target)
    command = [str(Path(sys.executable).with_name("dbt")), *arguments]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=project, env=environ, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"dbt {' '.join(arguments)} failed:\n{result.stdout[-4000:]}")
    elapsed = json.loads((target / "run_results.json").read_text())["elapsed_time"]
    return seconds, float(elapsed)


def model_seconds(project: Path = database.PROJECT_ROOT) -> dict[str, float]:
    """Seconds per model (hooks included) of the last `dbt` call, slowest first."""
    results = json.loads((project / "target" / "bench" / "run_results.json").read_text())
    times = {
        entry["unique_id"].rsplit(".", 1)[-1]: round(float(entry["execution_time"]), 3)
        for entry in results["results"]
        if entry["unique_id"].startswith("model.")
    }
    return dict(sorted(times.items(), key=lambda item: -item[1]))


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
                _normalise(connection.execute(f"select * from analytics.{mart}").fetchall()),
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
        seed_s, _ = dbt(connection, "seed", project=project)
        run_s, run_elapsed = dbt(connection, "run", project=project)
        per_model = model_seconds(project)
        scheduled = read_cost_marts(conninfo)
        dbt(connection, "run", "--full-refresh", project=project)
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
    dbt(connection, "seed")
    dbt(connection, "run")
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


def _normalise(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    def value(item: Any) -> Any:
        if isinstance(item, float):
            return round(Decimal(item), 6)
        if isinstance(item, Decimal):
            return item.normalize() if item == item else item
        return item

    return [tuple(value(item) for item in row) for row in rows]


def measure_reports(
    conninfo: str, window_start: date, window_end: date, repeats: int
) -> list[dict[str, Any]]:
    results = []
    names = {
        "window_start": f"date '{window_start.isoformat()}'",
        "window_end": f"date '{window_end.isoformat()}'",
        "marts": "analytics",
        "internal": "analytics_internal",
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
                answers[kind] = _normalise(rows)
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


# ------------------------------------------------------------------ the run


def write_new_day(conninfo: str, new_day: Any, writer: TelemetryWriter) -> tuple[int, int]:
    """One new day (yesterday), with late rows inside the lookback (the day before, arriving
    now), written and the writer closed; (rows written, late rows)."""
    _, _, records = new_day
    late_count = max(1, round(len(records) * LATE_ROWS_SHARE))
    for record in records[:late_count]:
        record.created_at -= timedelta(days=1)
    added = write_days(conninfo, [new_day], writer)
    writer.close(60)
    analyze_telemetry(conninfo)
    return added, late_count


def _settings(rows: int, seed: int, days: int, end_date: date) -> WorkloadSettings:
    per_day = max(1, round(rows / days / 0.9))  # the weekly rhythm averages about 0.9
    return WorkloadSettings(
        days=days + 1, requests_per_day=per_day, users=max(50, rows // 200), seed=seed,
        end_date=end_date + timedelta(days=1),
    )  # fmt: skip


def _measure_writer_parts(conninfo: str, settings: WorkloadSettings, rows: int) -> dict[str, Any]:
    writer_rows = min(rows, 100_000)
    _log(f"writer: {writer_rows:,} rows")
    results = measure_writer(conninfo, settings, writer_rows)
    results["outage_memory"] = measure_writer_memory(min(rows, 10_000))
    return results


def run_writer_only(rows: int, seed: int, database_name: str = BENCH_DATABASE) -> dict[str, Any]:
    """Only the writer's part (`--writer-only`): a minute instead of the whole benchmark."""
    connection = prepare_database(database_name)
    conninfo = connection.conninfo()
    end_date = datetime.now(timezone.utc).date() - timedelta(days=1)
    return {
        "rows": min(rows, 100_000),
        "machine": {**machine(), "postgres": _server_version(conninfo)},
        "command": f"python -m chat_telemetry.benchmark --writer-only --rows {rows}",
        "writer": _measure_writer_parts(conninfo, _settings(rows, seed, DAYS, end_date), rows),
    }


def run(
    rows: int,
    seed: int,
    repeats: int,
    database_name: str = BENCH_DATABASE,
    days: int = DAYS,
) -> dict[str, Any]:
    total_started = time.perf_counter()
    connection = prepare_database(database_name)
    conninfo = connection.conninfo()
    # History ends the day before yesterday; the incremental step adds yesterday, a whole day
    # (today's later hours would be rows from the future, which no mart counts).
    end_date = datetime.now(timezone.utc).date() - timedelta(days=2)
    settings = _settings(rows, seed, days, end_date)
    _log(f"database: {connection.describe()} (PostgreSQL {_server_version(conninfo)})")
    writer_results = _measure_writer_parts(conninfo, settings, rows)

    generator = WorkloadGenerator(settings)
    create_users(conninfo, generator)
    all_days = list(generator.iter_days())
    history, new_day = all_days[:-1], all_days[-1]
    writer = TelemetryWriter(
        conninfo, max_queue_size=200_000, max_queue_bytes=2 * 2**30, batch_size=5_000
    )

    dbt(connection, "seed", "--full-refresh")
    scaling: list[dict[str, Any]] = []
    loaded = 0
    days_loaded = 0
    for share in (0.1, 0.3, 1.0):
        upto = max(1, round(len(history) * share))
        started = time.perf_counter()
        loaded += write_days(conninfo, history[days_loaded:upto], writer)
        days_loaded = upto
        analyze_telemetry(conninfo)
        _log(f"loaded {loaded:,} rows ({time.perf_counter() - started:.0f}s); builds")
        full_s, full_elapsed = dbt(connection, "run", "--full-refresh")
        # A scheduled run with no new rows: what the lookback costs at this history size.
        again_s, again_elapsed = dbt(connection, "run")
        no_new_rows_models = model_seconds()
        scaling.append(
            {
                "rows": loaded,
                "full_build_s": round(full_s, 2),
                "full_build_dbt_elapsed_s": round(full_elapsed, 2),
                "incremental_no_new_rows_s": round(again_s, 2),
                "incremental_no_new_rows_dbt_elapsed_s": round(again_elapsed, 2),
                "no_new_rows_model_s": no_new_rows_models,
            }
        )
    full_build_s = scaling[-1]["full_build_s"]
    full_elapsed_s = scaling[-1]["full_build_dbt_elapsed_s"]
    full_test_s, _ = dbt(connection, "test")

    added, late_count = write_new_day(conninfo, new_day, writer)
    _log(f"added {added:,} rows ({late_count:,} late); incremental build")
    incremental_build_s, incremental_elapsed_s = dbt(connection, "run")
    incremental_models = model_seconds()
    incremental_test_s, _ = dbt(connection, "test")
    _log(f"seed edit: {EDITED_MODEL} from {EDITED_DAYS_BACK} days back; scheduled run")
    seed_edit = measure_seed_edit(connection, end_date + timedelta(days=1), full_elapsed_s)

    _log("reports: raw versus marts")
    # The windowed marts end on today (their default as_of_date); the new day is yesterday.
    window_end = end_date + timedelta(days=2)
    queries = measure_reports(conninfo, window_end - timedelta(days=29), window_end, repeats)

    return {
        "rows": loaded + added,
        "machine": {**machine(), "postgres": _server_version(conninfo)},
        "days": days,
        "command": f"make bench BENCH_ROWS={rows} BENCH_DAYS={days}",
        "writer": writer_results,
        "dbt": {
            "full_build_s": full_build_s,
            "full_build_dbt_elapsed_s": full_elapsed_s,
            "full_test_s": round(full_test_s, 2),
            "incremental_build_s": round(incremental_build_s, 2),
            "incremental_build_dbt_elapsed_s": round(incremental_elapsed_s, 2),
            "incremental_test_s": round(incremental_test_s, 2),
            "incremental_rows": added,
            "incremental_late_rows": late_count,
            "incremental_share_of_full": round(incremental_build_s / full_build_s, 3),
            "incremental_share_of_full_dbt_elapsed": round(
                incremental_elapsed_s / full_elapsed_s, 3
            ),
            "incremental_model_s": incremental_models,
            "scaling": scaling,
            "seed_edit": seed_edit,
        },
        "queries": queries,
        "total_s": round(time.perf_counter() - total_started, 1),
    }


def print_table(results: dict[str, Any]) -> None:
    writer = results["writer"]
    dbt_results = results["dbt"]
    machine_info = results["machine"]
    print()
    print(
        f"chat-telemetry benchmark: {results['rows']:,} rows over {results['days']} days, "
        f"{results['total_s']}s"
    )
    print(
        f"machine: {machine_info['cpu']}, {machine_info['cores']} cores, "
        f"{machine_info['memory_gb']} GB, PostgreSQL {machine_info['postgres']}"
    )
    print()
    print_writer(writer)
    print()
    print("dbt (wall clock, with dbt's start-up; in brackets dbt's own elapsed time)")
    for point in dbt_results["scaling"]:
        print(
            f"  {point['rows']:>9,} rows: full build {point['full_build_s']}s "
            f"[{point['full_build_dbt_elapsed_s']}s], scheduled run with no new rows "
            f"{point['incremental_no_new_rows_s']}s "
            f"[{point['incremental_no_new_rows_dbt_elapsed_s']}s]"
        )
    print(f"  tests after the full build: {dbt_results['full_test_s']}s")
    print(
        f"  incremental build after +{dbt_results['incremental_rows']:,} rows "
        f"({dbt_results['incremental_late_rows']:,} late): {dbt_results['incremental_build_s']}s "
        f"[{dbt_results['incremental_build_dbt_elapsed_s']}s] = "
        f"{dbt_results['incremental_share_of_full']:.0%} of the full build "
        f"[{dbt_results['incremental_share_of_full_dbt_elapsed']:.0%}]"
    )
    print(f"  tests after the incremental build: {dbt_results['incremental_test_s']}s")
    edit = dbt_results["seed_edit"]
    print(
        f"  seed edit ({edit['model']} from {edit['days_back']} days back): dbt seed "
        f"{edit['seed_s']}s, scheduled run {edit['run_s']}s [{edit['run_dbt_elapsed_s']}s] = "
        f"{edit['share_of_full_dbt_elapsed']:.0%} of the full build [dbt time]; same marts as "
        "a full rebuild"
    )
    print(
        "  slowest models of the scheduled run after the new day (s): "
        + ", ".join(
            f"{name} {seconds}"
            for name, seconds in list(dbt_results["incremental_model_s"].items())[:6]
        )
    )
    print()
    print(f"{'report':40} {'raw ms':>10} {'mart ms':>10} {'speedup':>9}")
    for query in results["queries"]:
        print(
            f"  {query['name']:38} {query['raw_ms']:>10} {query['mart_ms']:>10} "
            f"{query['speedup']:>8}x"
        )


def print_writer(writer: dict[str, Any]) -> None:
    """The writer's lines of the table (also all that `--writer-only` prints)."""
    print("writer                               value")
    print(f"  persist p50 / p99 (caller)         {writer['persist_p50_us']} / "
          f"{writer['persist_p99_us']} us")  # fmt: skip
    print(f"  writer throughput                  {writer['rows_per_s']:,} rows/s")
    print(f"  per-row INSERT baseline            {writer['per_row_insert_rows_per_s']:,} rows/s")
    print(f"  bare COPY ceiling                  {writer['bare_copy_rows_per_s']:,} rows/s")
    print(f"  writer / per-row INSERT            "
          f"{writer['rows_per_s'] / writer['per_row_insert_rows_per_s']:.1f}x")  # fmt: skip
    print(f"  writer / bare COPY                 "
          f"{writer['rows_per_s'] / writer['bare_copy_rows_per_s']:.0%}")  # fmt: skip
    memory = writer.get("outage_memory")
    if memory:
        print(
            f"  outage, {memory['outage_records']:,} records with "
            f"{memory['answer_bytes'] / 1e6:.0f} MB answers: {memory['held_records']:,} held "
            f"in {memory['queued_bytes'] / 2**20:.1f} MB (bound "
            f"{memory['max_queue_bytes'] / 2**20:.0f} MB), resident memory "
            f"+{memory['resident_growth_mb']} MB, {memory['dropped_queue_full']:,} dropped"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chat_telemetry.benchmark")
    parser.add_argument("--rows", type=int, default=settings.BENCH_ROWS.integer())
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", type=Path, default=RESULTS_PATH)
    parser.add_argument("--days", type=int, default=settings.BENCH_DAYS.integer())
    parser.add_argument("--database", default=BENCH_DATABASE, help="embedded server only")
    parser.add_argument("--writer-only", action="store_true", help="only the writer's part")
    arguments = parser.parse_args(argv)
    if arguments.writer_only:
        results = run_writer_only(arguments.rows, arguments.seed, arguments.database)
    else:
        results = run(
            arguments.rows, arguments.seed, arguments.repeats, arguments.database, arguments.days
        )
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(results, indent=2, default=str) + "\n")
    if arguments.writer_only:
        print_writer(results["writer"])
    else:
        print_table(results)
    print(f"\nwrote {arguments.output}")
    return 0

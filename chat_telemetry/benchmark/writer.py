"""The writer's benchmark: what `persist` costs the caller, the writer's throughput next to
per-row INSERT and a bare COPY of the same rows, and memory during an outage."""

from __future__ import annotations

import gc
import logging
import os
import time
import uuid
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
from telemetry_writer import TelemetryRecord, TelemetryWriter
from telemetry_writer.record import snapshot
from telemetry_writer.repair import COPY_COLUMNS, TextLimits, repair

from chat_telemetry.benchmark.common import log
from chat_telemetry.workload.generator import WorkloadGenerator, WorkloadSettings
from chat_telemetry.workload.loader import create_users, write_days


def _repaired(record: TelemetryRecord, limits: TextLimits) -> tuple[Any, ...]:
    """The row the writer would COPY for this record (for the baselines)."""
    values = snapshot(record)
    assert values is not None
    return repair(values, limits, Counter())


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


def measure_writer_parts(conninfo: str, settings: WorkloadSettings, rows: int) -> dict[str, Any]:
    """The writer's section of the results: up to 100,000 rows, and the outage."""
    writer_rows = min(rows, 100_000)
    log(f"writer: {writer_rows:,} rows")
    results = measure_writer(conninfo, settings, writer_rows)
    results["outage_memory"] = measure_writer_memory(min(rows, 10_000))
    return results


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

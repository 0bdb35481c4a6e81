"""`make bench-spark`: the same rows built on Postgres and on Spark, full and incremental.

One scratch database (`chat_telemetry_bench_spark` on the embedded server) gets the realistic
workload through the writer; Postgres builds its marts with dbt-postgres, Spark lands the rows
(JDBC) into its own scratch warehouse and builds with dbt-spark in one local session: a first
full build that warms the JVM up (as a long-running cluster is warm), then `--warm-full-builds`
more, whose median is the full build the scheduled one is compared with. Then one new day with
late rows arrives and both run the plain scheduled build. Every step is timed;
results go to `bench/spark_results.json` and a table on stdout (BENCHMARKS.md keeps them).

Then the same comparison as a scheduled `python -m chat_telemetry spark-build` makes it, a
process (so a JVM) of its own for every run (spark_fresh_process.py: session, landing, seed,
then the models): a full one, a second new day written, and a scheduled one.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from chat_telemetry import database, retention, settings
from chat_telemetry.benchmark.common import (
    bench_writer,
    log,
    machine,
    model_seconds,
    prepare_database,
    server_version,
    settle_database,
    timed_dbt,
    workload_settings,
    write_new_day,
)
from chat_telemetry.workload.generator import WorkloadGenerator
from chat_telemetry.workload.loader import analyze_telemetry, create_users, write_days

BENCH_DATABASE = "chat_telemetry_bench_spark"
# Spark's run results of its own (per-model seconds), apart from the Postgres builds'.
SPARK_TARGET_FOLDER = Path("target") / "bench-spark"
RESULTS_PATH = database.PROJECT_ROOT / "bench" / "spark_results.json"
# Warm full builds of one JVM at 1M rows took from 64 to 77 s between runs of the same code
# (2026-12-06): the share is taken of their median, not of one of them.
WARM_FULL_BUILDS = 3


def timed(action: Any, *arguments: Any, **options: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    value = action(*arguments, **options)
    return time.perf_counter() - started, value


def run(
    rows: int,
    days: int,
    seed: int,
    database_name: str = BENCH_DATABASE,
    warm_full_builds: int = WARM_FULL_BUILDS,
    scheduled_builds_before: int = 0,
) -> dict[str, Any]:
    from chat_telemetry.spark import build, landing, session

    if warm_full_builds < 1:
        raise ValueError(f"warm_full_builds must be at least 1, not {warm_full_builds}")
    connection = prepare_database(database_name)
    conninfo = connection.conninfo()
    # History up to three days ago, then two new days (the day before yesterday, yesterday).
    end_date = datetime.now(timezone.utc).date() - timedelta(days=3)
    generator = WorkloadGenerator(workload_settings(rows, seed, days, end_date, new_days=2))
    create_users(conninfo, generator)
    all_days = list(generator.iter_days())
    history, (new_day, second_new_day) = all_days[:-2], all_days[-2:]
    writer = bench_writer(conninfo)
    loaded = write_days(conninfo, history, writer)
    # dbt runs in this process on Spark: let go of the generated workload first. Held, its
    # records and the generator's corpora are 3 million objects that each of Python's full
    # collections walks (3 s a collection against 0.7 s without them), and dbt triggers
    # several a run: stalls of seconds inside timed builds, which a scheduled dbt process
    # does not have.
    del all_days, history, generator
    gc.collect()
    analyze_telemetry(conninfo)
    log(f"loaded {loaded:,} rows over {days} days; Postgres full build")

    timed_dbt(connection, "seed", "--full-refresh")
    postgres_full = timed_dbt(connection, "run", "--full-refresh")
    settle_database(conninfo)

    log("Spark: session, landing, full build")
    jvm_s, spark = timed(session.get_session)
    source = landing.jdbc_source(connection)
    lookback = retention.lookback_days()
    land_full_s, _ = timed(landing.land, spark, source, lookback, full=True)
    build.dbt(["seed", "--full-refresh"])
    target_path = ["--target-path", str(database.PROJECT_ROOT / SPARK_TARGET_FOLDER)]
    # The first build of a JVM also pays for loading and JIT-compiling Spark's code paths; the
    # scheduled build below runs in a JVM that has built before. Like is compared with like:
    # the share is taken of the full builds that follow it, as a long-running cluster would
    # run them, and the first one is reported beside it.
    first_full_s, first_full_elapsed = timed(build.dbt, ["run", "--full-refresh", *target_path])
    warm_builds = []
    for _ in range(warm_full_builds):
        warm_s, warm_elapsed = timed(build.dbt, ["run", "--full-refresh", *target_path])
        warm_builds.append((warm_s, warm_elapsed, model_seconds(target_folder=SPARK_TARGET_FOLDER)))
    # The median build by wall clock (the lower middle one of an even count), with its own
    # dbt time and seconds per model.
    by_wall_clock = sorted(warm_builds, key=lambda warm_build: warm_build[0])
    spark_full_s, spark_full_elapsed, spark_full_models = by_wall_clock[(len(warm_builds) - 1) // 2]
    # Scheduled builds with no new rows before the new day: a JVM that has run the schedule
    # before, as a long-running cluster's has (the day before's dates, not the new day's).
    scheduled_before = [
        timed(build.dbt, ["run", *target_path])[0] for _ in range(scheduled_builds_before)
    ]

    added, late = write_new_day(conninfo, new_day, writer)
    log(f"added {added:,} rows ({late:,} late); incremental builds")
    postgres_incremental = timed_dbt(connection, "run")
    settle_database(conninfo)
    land_incremental_s, landed = timed(landing.land, spark, source, lookback)
    spark_incremental_s, spark_incremental_elapsed = timed(build.dbt, ["run", *target_path])
    spark_incremental_models = model_seconds(target_folder=SPARK_TARGET_FOLDER)
    session.stop_jvm(spark)

    log("Spark as spark-build runs, a fresh JVM each: full build, second new day, scheduled")
    fresh_full = in_fresh_process(connection, "--full-refresh")
    # write_new_day closed the first writer: a second one for the second day.
    second_added, second_late = write_new_day(conninfo, second_new_day, bench_writer(conninfo))
    fresh_incremental = in_fresh_process(connection)

    command = f"make bench-spark BENCH_SPARK_ROWS={rows} BENCH_DAYS={days}"
    if warm_full_builds != WARM_FULL_BUILDS or scheduled_builds_before:
        command = f"python -m chat_telemetry.benchmark.spark --rows {rows} --days {days}"
        command += f" --warm-full-builds {warm_full_builds}"
        if scheduled_builds_before:
            command += f" --scheduled-builds-before {scheduled_builds_before}"

    def share(part: float, whole: float) -> float:
        return round(part / whole, 3) if whole else 0.0

    return {
        "rows": loaded + added,
        "days": days,
        "incremental_rows": added,
        "incremental_late_rows": late,
        "command": command,
        "machine": {**machine(), "postgres": server_version(conninfo)},
        "postgres": {
            "full_build_s": round(postgres_full[0], 2),
            "full_build_dbt_elapsed_s": round(postgres_full[1], 2),
            "incremental_build_s": round(postgres_incremental[0], 2),
            "incremental_build_dbt_elapsed_s": round(postgres_incremental[1], 2),
            "incremental_share_of_full": share(postgres_incremental[0], postgres_full[0]),
        },
        "spark": {
            "session_start_s": round(jvm_s, 2),
            "landing_full_s": round(land_full_s, 2),
            "first_full_build_s": round(first_full_s, 2),
            "first_full_build_dbt_elapsed_s": round(first_full_elapsed or 0.0, 2),
            "full_build_s": round(spark_full_s, 2),
            "full_build_dbt_elapsed_s": round(spark_full_elapsed or 0.0, 2),
            "warm_full_builds_s": [round(build_s, 2) for build_s, _, _ in warm_builds],
            "scheduled_builds_before_new_day_s": [
                round(build_s, 2) for build_s in scheduled_before
            ],
            "landing_incremental_s": round(land_incremental_s, 2),
            "landing_incremental_rows": landed.rows_landed,
            "incremental_build_s": round(spark_incremental_s, 2),
            "incremental_build_dbt_elapsed_s": round(spark_incremental_elapsed or 0.0, 2),
            "incremental_share_of_full": share(spark_incremental_s, spark_full_s),
            "incremental_share_of_first_full": share(spark_incremental_s, first_full_s),
            "full_build_model_s": spark_full_models,
            "incremental_build_model_s": spark_incremental_models,
        },
        "spark_fresh_jvm": {
            "full": rounded(fresh_full),
            "incremental": rounded(fresh_incremental),
            "incremental_rows": second_added,
            "incremental_late_rows": second_late,
            "incremental_share_of_full": share(fresh_incremental["build_s"], fresh_full["build_s"]),
            "process_share_of_full": share(fresh_incremental["process_s"], fresh_full["process_s"]),
            "incremental_model_s": model_seconds(target_folder=SPARK_TARGET_FOLDER),
        },
    }


def rounded(timings: dict[str, Any]) -> dict[str, Any]:
    """A fresh process's timings, seconds to two places (counts as they are)."""
    return {
        key: round(value, 2) if isinstance(value, float) else value
        for key, value in timings.items()
    }


def in_fresh_process(connection: database.Connection, *arguments: str) -> dict[str, Any]:
    """A spark-build-like run (spark_fresh_process.py) in a new Python process, so a new
    JVM: the seconds of each part it reports. The scratch database is passed on as the
    parent found it (PG*, or the embedded server's CHAT_TELEMETRY_DATABASE), the warehouse
    as CHAT_TELEMETRY_SPARK_HOME."""
    environ = dict(os.environ)
    if connection.is_embedded:
        environ[settings.DATABASE.name] = connection.database
    done = subprocess.run(
        [sys.executable, "-m", "chat_telemetry.benchmark.spark_fresh_process", *arguments],
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"spark_fresh_process {' '.join(arguments)} failed:\n{done.stderr[-4000:]}"
        )
    timings: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return timings


def print_table(results: dict[str, Any]) -> None:
    postgres, spark = results["postgres"], results["spark"]
    before = spark["scheduled_builds_before_new_day_s"]
    before_lines = (
        [
            (
                "scheduled builds before the new day (no new rows)",
                "",
                " / ".join(f"{build_s:.1f}" for build_s in before),
            )
        ]
        if before
        else []
    )
    print(f"\n{results['rows']:,} rows over {results['days']} days ({results['command']})")
    print(f"{'step':<44}{'Postgres':>12}{'Spark':>12}")
    lines = [
        ("JVM and session start", "", f"{spark['session_start_s']:.1f} s"),
        ("landing, every day (JDBC)", "", f"{spark['landing_full_s']:.1f} s"),
        ("first full build of the JVM (Spark)", "", f"{spark['first_full_build_s']:.1f} s"),
        (
            "full build: dbt run --full-refresh",
            f"{postgres['full_build_s']:.1f} s",
            f"{spark['full_build_s']:.1f} s",
        ),
        ("  of which dbt's own time", f"{postgres['full_build_dbt_elapsed_s']:.1f} s",
         f"{spark['full_build_dbt_elapsed_s']:.1f} s"),
        (
            "  Spark's warm builds (the median is above)",
            "",
            " / ".join(f"{build_s:.1f}" for build_s in spark["warm_full_builds_s"]),
        ),
        *before_lines,
        (
            f"landing, new days (+{results['incremental_rows']:,} rows)",
            "",
            f"{spark['landing_incremental_s']:.1f} s",
        ),
        (
            "incremental build: dbt run",
            f"{postgres['incremental_build_s']:.1f} s",
            f"{spark['incremental_build_s']:.1f} s",
        ),
        ("  of which dbt's own time", f"{postgres['incremental_build_dbt_elapsed_s']:.1f} s",
         f"{spark['incremental_build_dbt_elapsed_s']:.1f} s"),
    ]  # fmt: skip
    for label, on_postgres, on_spark in lines:
        print(f"{label:<44}{on_postgres:>12}{on_spark:>12}")
    fresh = results["spark_fresh_jvm"]
    print("Spark as every spark-build runs: a fresh process and JVM (session, landing, seed, run)")
    for label, run_timings in (
        ("  full: --full-refresh", fresh["full"]),
        (f"  scheduled, a second new day (+{fresh['incremental_rows']:,})", fresh["incremental"]),
    ):
        print(
            f"{label:<44}dbt run {run_timings['build_s']:.1f} s; whole process"
            f" {run_timings['process_s']:.1f} s (session {run_timings['session_start_s']:.1f},"
            f" landing {run_timings['landing_s']:.1f}, seed {run_timings['seed_s']:.1f})"
        )
    print(
        f"scheduled build / full build: Postgres {postgres['incremental_share_of_full']:.0%},"
        f" Spark {spark['incremental_share_of_full']:.0%} (of the JVM's first full build:"
        f" {spark['incremental_share_of_first_full']:.0%}); Spark as spark-build runs:"
        f" {fresh['incremental_share_of_full']:.0%} (whole process:"
        f" {fresh['process_share_of_full']:.0%})"
    )


def count_of_runs(text: str) -> int:
    """An argparse type: a whole number of at least 0 (a clear error otherwise)."""
    count = int(text)
    if count < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, not {count}")
    return count


def positive_count(text: str) -> int:
    """An argparse type: a whole number of at least 1 (a clear error otherwise)."""
    count = int(text)
    if count < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {count}")
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database", default=BENCH_DATABASE, help="scratch database (recreated)")
    parser.add_argument("--output", type=Path, default=RESULTS_PATH)
    parser.add_argument(
        "--warm-full-builds",
        type=positive_count,
        default=WARM_FULL_BUILDS,
        help="full builds after the JVM's first; the share is taken of their median",
    )
    parser.add_argument(
        "--scheduled-builds-before",
        type=count_of_runs,
        default=0,
        help="scheduled builds with no new rows before the new day's (a JVM that ran the schedule)",
    )
    arguments = parser.parse_args(argv)
    # A warehouse of its own: the benchmark never touches .spark/ of `make spark-build`.
    scratch = tempfile.mkdtemp(prefix="chat-telemetry-bench-")
    os.environ[settings.SPARK_HOME.name] = scratch
    try:
        results = run(
            arguments.rows,
            arguments.days,
            arguments.seed,
            arguments.database,
            arguments.warm_full_builds,
            arguments.scheduled_builds_before,
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    output: Path = arguments.output
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print_table(results)
    print(f"\nresults: {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

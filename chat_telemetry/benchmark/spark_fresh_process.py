"""One run of `make bench-spark`'s fresh-JVM comparison, in a process of its own.

Run by `chat_telemetry.benchmark.spark`, not by hand. A scheduled `python -m chat_telemetry
spark-build` starts a new process on every run, and dbt-spark's `session` method runs Spark
inside it: each run pays for a JVM that has compiled nothing yet, the full build and the
scheduled one alike. This process does what spark-build does, in the same order and the same
JVM (landing, `dbt seed`, then the models), and times each part; the models run with `dbt
run` rather than `dbt build`, so that the figure compares with the bench's other builds. The
parent stops its own JVM first (the Derby metastore takes one JVM at a time) and passes the
scratch database (PG*, or the embedded server's CHAT_TELEMETRY_DATABASE) and warehouse
(CHAT_TELEMETRY_SPARK_HOME) in the environment. Prints one JSON line: the seconds of each part.

    python -m chat_telemetry.benchmark.spark_fresh_process [--full-refresh]
"""

from __future__ import annotations

import json
import sys
import time

from chat_telemetry.benchmark.spark import SPARK_TARGET_FOLDER
from chat_telemetry.database import PROJECT_ROOT


def main(argv: list[str]) -> int:
    from chat_telemetry import database, retention
    from chat_telemetry.spark import build, landing, session

    if argv not in ([], ["--full-refresh"]):
        print(__doc__, file=sys.stderr)
        return 2
    full_refresh = argv == ["--full-refresh"]
    process_started = time.perf_counter()
    spark = session.get_session()
    session_start_s = time.perf_counter() - process_started

    started = time.perf_counter()
    source = landing.jdbc_source(database.resolve())
    landed = landing.land(spark, source, retention.lookback_days(), full=full_refresh)
    landing_s = time.perf_counter() - started

    started = time.perf_counter()
    build.dbt(["seed", *(["--full-refresh"] if full_refresh else [])])
    seed_s = time.perf_counter() - started

    target_path = ["--target-path", str(PROJECT_ROOT / SPARK_TARGET_FOLDER)]
    started = time.perf_counter()
    elapsed = build.dbt(["run", *(["--full-refresh"] if full_refresh else []), *target_path])
    build_s = time.perf_counter() - started
    session.stop_jvm(spark)
    print(
        json.dumps(
            {
                "session_start_s": session_start_s,
                "landing_s": landing_s,
                "rows_landed": landed.rows_landed,
                "seed_s": seed_s,
                "build_s": build_s,
                "dbt_elapsed_s": elapsed,
                "process_s": time.perf_counter() - process_started,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

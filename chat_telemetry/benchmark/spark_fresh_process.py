"""One step of `make bench-spark` in a process of its own, so in a JVM of its own.

Run by `chat_telemetry.benchmark.spark`, not by hand. A scheduled `python -m chat_telemetry
spark-build` starts a new process on every run, and dbt-spark's `session` method runs Spark
inside it: each run pays for a JVM that has compiled nothing yet, the full build and the
scheduled one alike. The parent stops its own JVM first (the Derby metastore takes one JVM at
a time) and passes the scratch database (PG*) and warehouse (CHAT_TELEMETRY_SPARK_HOME) in the
environment. Prints one JSON line: the seconds of each part.

    python -m chat_telemetry.benchmark.spark_fresh_process land
    python -m chat_telemetry.benchmark.spark_fresh_process dbt run [--full-refresh] ...
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

    if not argv or argv[0] not in ("land", "dbt"):
        print(__doc__, file=sys.stderr)
        return 2
    started = time.perf_counter()
    spark = session.get_session()
    timings: dict[str, float | int | None] = {"session_start_s": time.perf_counter() - started}
    if argv[0] == "land":
        started = time.perf_counter()
        source = landing.jdbc_source(database.resolve())
        landed = landing.land(spark, source, retention.lookback_days())
        timings.update(landing_s=time.perf_counter() - started, rows_landed=landed.rows_landed)
    else:
        target_path = ["--target-path", str(PROJECT_ROOT / SPARK_TARGET_FOLDER)]
        started = time.perf_counter()
        elapsed = build.dbt([*argv[1:], *target_path])
        timings.update(build_s=time.perf_counter() - started, dbt_elapsed_s=elapsed)
    spark.stop()
    print(json.dumps(timings))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

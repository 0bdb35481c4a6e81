"""Run dbt against the local Spark session, in this process (dbt's programmatic `dbtRunner`).

One process, one JVM: the session landing created is the one dbt-spark's `session` method
gets back from `getOrCreate()`, so the Derby metastore (one JVM at a time) is never contended
and the JVM starts once for landing, seeds, models and tests.
"""

from __future__ import annotations

from collections.abc import Sequence

from chat_telemetry.database import PROJECT_ROOT

SPARK_TARGET = "spark"


class DbtFailed(RuntimeError):
    """A dbt command failed on Spark; dbt printed why."""


def dbt(arguments: Sequence[str], target: str = SPARK_TARGET) -> None:
    """`dbt <arguments> --target spark` in this process; raises DbtFailed on failure."""
    from dbt.cli.main import dbtRunner

    command = [
        *arguments,
        "--target",
        target,
        "--project-dir",
        str(PROJECT_ROOT),
        "--profiles-dir",
        str(PROJECT_ROOT),
    ]
    result = dbtRunner().invoke(command)
    if not result.success:
        raise DbtFailed(f"dbt {' '.join(arguments)} --target {target} failed") from (
            result.exception
        )

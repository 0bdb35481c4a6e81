"""Run dbt against the local Spark session, in this process (dbt's programmatic `dbtRunner`).

One process, one JVM: the session landing created is the one dbt-spark's `session` method
gets back from `getOrCreate()`, so the Derby metastore (one JVM at a time) is never contended
and the JVM starts once for landing, seeds, models and tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chat_telemetry.database import PROJECT_ROOT

SPARK_TARGET = "spark"


class DbtFailed(RuntimeError):
    """A dbt command failed on Spark; dbt printed why."""


def dbt(
    arguments: Sequence[str], target: str = SPARK_TARGET, project_dir: Path = PROJECT_ROOT
) -> float | None:
    """`dbt <arguments> --target spark` in this process; raises DbtFailed on failure.

    Returns dbt's own elapsed seconds (without start-up and parsing) when it reports them.
    """
    from dbt.cli.main import dbtRunner

    command = [
        *arguments,
        "--target",
        target,
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir),
    ]
    errors: list[str] = []

    def keep_errors(event: Any) -> None:
        if event.info.level == "error" and event.info.msg:
            errors.append(str(event.info.msg))

    result = dbtRunner(callbacks=[keep_errors]).invoke(command)
    if not result.success:
        reasons = "\n".join(errors[-5:]) or str(result.exception or "")
        raise DbtFailed(f"dbt {' '.join(arguments)} --target {target} failed: {reasons}") from (
            result.exception
        )
    elapsed = getattr(result.result, "elapsed_time", None)
    return float(elapsed) if isinstance(elapsed, int | float) else None

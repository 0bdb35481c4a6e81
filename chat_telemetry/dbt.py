"""Run dbt (the CLI next to this Python) against one of the project's databases.

Why one module: the benchmark, the tests and `python -m chat_telemetry exec` each built dbt's
environment on their own (the `PG*` variables of the database, where profiles.yml is, where
the artifacts go). They now ask `environment()` for it, and `run()` runs dbt with it. dbt on
Spark runs in this process instead (chat_telemetry/spark/build.py): one JVM for landing and
dbt.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from chat_telemetry import settings
from chat_telemetry.database import PROJECT_ROOT, Connection

TARGET_PATH = "DBT_TARGET_PATH"
LOG_PATH = "DBT_LOG_PATH"


def executable() -> str:
    """The dbt of this virtualenv (never another one on the PATH)."""
    return str(Path(sys.executable).with_name("dbt"))


def environment(
    connection: Connection,
    *,
    profiles_dir: Path | None = None,
    target_path: Path | None = None,
    log_path: Path | None = None,
    unset: Iterable[str] = (),
) -> dict[str, str]:
    """This process's environment with the database's `PG*` variables and dbt's folders.

    `profiles_dir`: the project whose profiles.yml dbt reads; None keeps the caller's
    `DBT_PROFILES_DIR` and falls back to the checkout. `target_path`, `log_path`: where dbt
    writes its artifacts and logs, so that runs of one kind (tests, benchmark) never
    overwrite those of another. `unset`: variables dbt must not see.
    """
    environ = dict(os.environ)
    environ.update(connection.env())
    if profiles_dir is None:
        environ.setdefault(settings.DBT_PROFILES_DIR.name, str(PROJECT_ROOT))
    else:
        environ[settings.DBT_PROFILES_DIR.name] = str(profiles_dir)
    if target_path is not None:
        environ[TARGET_PATH] = str(target_path)
    if log_path is not None:
        environ[LOG_PATH] = str(log_path)
    for name in unset:
        environ.pop(name, None)
    return environ


def run(
    connection: Connection,
    *arguments: str,
    project: Path = PROJECT_ROOT,
    target_path: Path | None = None,
    log_path: Path | None = None,
    unset: Iterable[str] = (),
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """`dbt <arguments>` in `project` against `connection`, output captured; never raises on
    dbt's failure (callers decide what a failure means: a test failure, a benchmark error)."""
    environ = environment(
        connection,
        profiles_dir=project,
        target_path=target_path,
        log_path=log_path,
        unset=unset,
    )
    return subprocess.run(
        [executable(), *arguments],
        cwd=project,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
    )

"""Apply `bootstrap_sql/` to a database, in lexical file order, each file in one transaction.

The files are plain SQL that a Supabase migration can use as is; this runner adds only the
BI role's name (as the session setting `chat_telemetry.bi_role`) and a report of what it did.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psycopg

from chat_telemetry import settings
from chat_telemetry.database import PROJECT_ROOT

BOOTSTRAP_DIR = PROJECT_ROOT / "bootstrap_sql"
DEFAULT_BI_ROLE = settings.BI_ROLE.default


@dataclass(frozen=True)
class AppliedFile:
    name: str
    statements_ms: float


def bootstrap_files(folder: Path = BOOTSTRAP_DIR) -> list[Path]:
    """The `.sql` files of the folder in the order they are applied."""
    return sorted(folder.glob("*.sql"), key=lambda path: path.name)


def bi_role_name() -> str:
    """The BI role's name: `CHAT_TELEMETRY_BI_ROLE`, else `bi_reader`."""
    return settings.BI_ROLE.get()


def apply(conninfo: str, folder: Path = BOOTSTRAP_DIR) -> list[AppliedFile]:
    """Apply every bootstrap file; a failing file rolls back alone and raises with its name."""
    import time

    applied: list[AppliedFile] = []
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(
            "select pg_catalog.set_config('chat_telemetry.bi_role', %s, false)", (bi_role_name(),)
        )
        for path in bootstrap_files(folder):
            started = time.perf_counter()
            try:
                with connection.transaction():
                    connection.execute(path.read_text(encoding="utf-8").encode())
            except psycopg.Error as error:
                raise RuntimeError(f"bootstrap file {path.name} failed: {error}") from error
            applied.append(AppliedFile(path.name, (time.perf_counter() - started) * 1000))
    return applied

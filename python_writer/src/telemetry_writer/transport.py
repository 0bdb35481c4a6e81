"""The writer's connection and the one transaction shape it uses, safe behind any pooler.

A transaction pooler (PgBouncer in transaction mode, Supabase's port 6543, Supavisor) hands
each transaction whichever server connection is free, so the writer keeps no session state:
no `SET ROLE`, no prepared statements (`prepare_threshold=None`). Each batch is

    begin; set local role service_role; set local statement_timeout = ...   (one round trip)
    copy ... from stdin
    commit

and `SET LOCAL` ends with the transaction on whatever connection ran it.

Every wait on the socket is bounded by `io_timeout_s`: a connection that a NAT or a pooler
dropped silently would otherwise hang the next COPY for many minutes. TCP keepalives and
`tcp_user_timeout` catch the same on the kernel's side for TCP connections.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql

from telemetry_writer.errors import connect_failure

_Result = TypeVar("_Result")


class _BoundedConnection(psycopg.Connection[Any]):
    """A psycopg connection whose every wait on the server ends after `io_timeout_s`.

    On expiry the protocol state is unknown, so the connection is closed (the error is an
    OperationalError without SQLSTATE: a CONNECTION failure).
    """

    io_timeout_s: float | None = None

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        try:
            return super().wait(gen, interval, self.io_timeout_s if timeout is None else timeout)
        except pg_errors._WaitTimeout:
            self.pgconn.finish()
            raise


@dataclass(frozen=True)
class ConnectionSettings:
    conninfo: str
    role: str | None
    connect_timeout_s: float
    io_timeout_s: float
    statement_timeout_s: float

    def connect(self) -> psycopg.Connection[Any]:
        """A new autocommit connection with keepalives and timeouts; raises ConnectFailed."""
        try:
            connection = _BoundedConnection.connect(
                self.conninfo,
                autocommit=True,
                prepare_threshold=None,
                connect_timeout=max(2, round(self.connect_timeout_s)),
                application_name="telemetry_writer",
                client_encoding="UTF8",
                keepalives=1,
                keepalives_idle=max(1, round(self.io_timeout_s)),
                keepalives_interval=max(1, round(self.io_timeout_s / 3)),
                keepalives_count=3,
                tcp_user_timeout=max(1000, round(self.io_timeout_s * 1000)),
            )
        except psycopg.Error as error:
            raise connect_failure(error) from error
        connection.io_timeout_s = self.io_timeout_s
        return connection

    def begin(self) -> sql.Composed:
        """The statement that opens each transaction and sets what it needs, locally."""
        parts: list[sql.Composable] = [sql.SQL("begin")]
        if self.role:
            parts.append(sql.SQL("set local role {}").format(sql.Identifier(self.role)))
        milliseconds = max(1, round(self.statement_timeout_s * 1000))
        parts.append(sql.SQL(f"set local statement_timeout = {int(milliseconds)}"))
        return sql.SQL("; ").join(parts)


class Phase:
    """Where in the transaction a failure happened: it decides what the failure means."""

    SETUP = "setup"  # begin and set local: nothing sent yet, errors are about the setup
    COPY = "copy"  # rows sent: server errors are about the rows
    COMMIT = "commit"  # commit sent: if its answer is lost, the outcome is unknown


class BatchFailed(Exception):
    def __init__(self, phase: str, error: BaseException) -> None:
        super().__init__(phase)
        self.phase = phase
        self.error = error


def copy_rows(
    connection: psycopg.Connection[Any],
    begin: sql.Composed,
    copy_statement: sql.Composed,
    rows: Iterable[tuple[Any, ...]],
) -> None:
    """One transaction: begin and set locals, COPY the rows, commit. Raises BatchFailed."""
    phase = Phase.SETUP
    try:
        with connection.cursor() as cursor:
            cursor.execute(begin)
            phase = Phase.COPY
            with cursor.copy(copy_statement) as copy:
                for row in rows:
                    copy.write_row(row)
            phase = Phase.COMMIT
            cursor.execute(b"commit")
    except BaseException as error:
        rollback_quietly(connection)
        raise BatchFailed(phase, error) from error


def existing_log_ids(
    connection: psycopg.Connection[Any],
    begin: sql.Composed,
    table: sql.Identifier,
    log_ids: Sequence[uuid.UUID],
) -> dict[uuid.UUID, tuple[Any, Any]]:
    """(user_id, created_at) of the rows that hold these log ids: one query for a batch."""
    query = sql.SQL("select log_id, user_id, created_at from {} where log_id = any(%s)").format(
        table
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(begin)
            cursor.execute(query, (list(log_ids),))
            found = {row[0]: (row[1], row[2]) for row in cursor.fetchall()}
            cursor.execute(b"commit")
            return found
    except BaseException:
        rollback_quietly(connection)
        raise


def rollback_quietly(connection: psycopg.Connection[Any]) -> None:
    """End a failed transaction so the pooler gets a clean connection back; close on doubt."""
    try:
        if connection.closed or connection.broken:
            return
        if connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            connection.execute(b"rollback")
    except BaseException:
        close_quietly(connection)


def close_quietly(connection: psycopg.Connection[Any] | None) -> None:
    if connection is None:
        return
    with contextlib.suppress(BaseException):
        connection.close()

"""What a database error means for the batch that met it, and what the writer does about it.

Each failure falls in one class, and each class has one behaviour:

- CONNECTION: the path to the server failed (refused, reset, timed out, server restarting).
  Retry with capped backoff, keep the records.
- RESOURCE: the server is busy or the batch lost a race (53xxx, 40001, 40P01, 55P03, 57014,
  57P0x). Retried like CONNECTION: the same rows will pass later.
- CONFIGURATION: the writer is set up wrong (authentication 28xxx, missing database 3D000,
  missing table or column, missing privilege, unknown role, bad SQL). Nothing will pass until
  an operator acts: log at ERROR with the SQLSTATE and the server's message, back off to
  minutes (retrying every few seconds is what trips a pooler's authentication circuit breaker),
  keep the records, resume by itself once fixed.
- REJECTED: anything else the server says about the batch (22xxx data, 23xxx integrity,
  P0001 raised by a trigger, 54000 limits, ...). The rows are the cause: split the batch to
  isolate them and drop only them.

Connection failures carry no SQLSTATE in libpq (the server's FATAL arrives as text), so the
SQLSTATE of the common configuration failures is inferred from the message.
"""

from __future__ import annotations

import enum
import re

import psycopg


class FailureClass(enum.Enum):
    CONNECTION = "connection"
    RESOURCE = "resource"
    CONFIGURATION = "configuration"
    REJECTED = "rejected"


_RESOURCE_CLASSES = ("53", "57", "58")
_RESOURCE_CODES = frozenset({"40001", "40P01", "55P03", "55006", "55000"})
_CONFIGURATION_CLASSES = ("28", "3D", "3F", "42", "0A", "0L", "0P")
_CONFIGURATION_CODES = frozenset({"2BP01", "25006"})
_CONNECTION_CLASSES = ("08",)

# libpq reports a refused login as text only; these are the server's (and PgBouncer's,
# and Supavisor's) English messages for the usual setup mistakes.
_CONNECT_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"password authentication failed|SASL authentication failed"), "28P01"),
    (re.compile(r"role \"[^\"]*\" does not exist|no such user|Tenant or user not found"), "28000"),
    (re.compile(r"no pg_hba\.conf entry|pg_hba\.conf rejects"), "28000"),
    (re.compile(r"permission denied for database|not permitted to log in"), "28000"),
    (re.compile(r"database \"[^\"]*\" does not exist|no such database"), "3D000"),
)


class ConnectFailed(Exception):
    """A connection attempt failed; `sqlstate` is the server's or inferred from its text."""

    def __init__(self, sqlstate: str | None, message: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate
        self.message = message


def connect_failure(error: psycopg.Error) -> ConnectFailed:
    """Wrap a failed `connect` with the SQLSTATE it stands for, when one can be told."""
    message = _first_line(str(error))
    sqlstate = error.sqlstate
    if sqlstate is None:
        for pattern, state in _CONNECT_MESSAGES:
            if pattern.search(message):
                sqlstate = state
                break
    return ConnectFailed(sqlstate, message)


def classify_connect(failure: ConnectFailed) -> FailureClass:
    if failure.sqlstate is None:
        return FailureClass.CONNECTION
    return classify_sqlstate(failure.sqlstate, default=FailureClass.CONNECTION)


def classify_sqlstate(sqlstate: str, *, default: FailureClass) -> FailureClass:
    """The class of a server error; `default` for codes that name no cause of their own."""
    if sqlstate.startswith(_CONNECTION_CLASSES):
        return FailureClass.CONNECTION
    if sqlstate.startswith(_RESOURCE_CLASSES) or sqlstate in _RESOURCE_CODES:
        return FailureClass.RESOURCE
    if sqlstate.startswith(_CONFIGURATION_CLASSES) or sqlstate in _CONFIGURATION_CODES:
        return FailureClass.CONFIGURATION
    return default


def classify_batch_error(error: BaseException, *, connection_broken: bool) -> FailureClass:
    """The class of an error raised while a batch was copied (before its COMMIT was sent)."""
    if connection_broken:
        return FailureClass.CONNECTION
    if not isinstance(error, psycopg.Error) or error.sqlstate is None:
        # The connection is fine and the server said nothing: the client could not send a
        # row (a value that cannot be encoded or adapted). Split like a server rejection.
        return FailureClass.REJECTED
    return classify_sqlstate(error.sqlstate, default=FailureClass.REJECTED)


def server_message(error: BaseException) -> str:
    """The server's primary message, for CONFIGURATION errors only: these name roles,
    tables and columns, never row values (REJECTED errors can quote a row: never logged)."""
    if isinstance(error, ConnectFailed):
        return error.message[:300]
    if isinstance(error, psycopg.Error):
        primary = error.diag.message_primary if error.diag else None
        return _first_line(primary or str(error))[:300]
    return type(error).__name__


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " ".join(lines[:2]) if lines else ""

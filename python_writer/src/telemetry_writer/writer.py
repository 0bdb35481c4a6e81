"""TelemetryWriter: a bounded queue drained by one daemon thread that writes batches with COPY.

The design follows well-kept telemetry clients: the caller only appends to a bounded queue
(never waits on the network, never sees an exception), one background thread closes batches
by size or interval, transient database errors are retried with capped exponential backoff
while the records stay in memory (up to the queue bound), a batch the database rejects is
split so that only the offending rows are lost, and every drop is counted by reason.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import random
import threading
import time
import weakref
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from telemetry_writer.ratelimit import RateLimitedLog
from telemetry_writer.record import snapshot
from telemetry_writer.repair import COPY_COLUMNS, InvalidRecord, TextLimits, new_log_id, repair
from telemetry_writer.stats import DROP_REASONS, WriterStats

_log = logging.getLogger("telemetry_writer")

# SQLSTATE classes and codes that mean "try again later", not "this row is wrong".
_TRANSIENT_CLASSES = ("08", "53", "57", "58")
_TRANSIENT_CODES = frozenset({"40001", "40P01", "55P03", "42501", "42P01", "3D000", "28000"})
_REJECTED_CLASSES = ("22", "23")
_CONVERSATION_FK = "conversation_id"
_PRIMARY_KEY_VIOLATION = "23505"
_FOREIGN_KEY_VIOLATION = "23503"

# Connections inherited through fork() belong to the parent: closing one in the child would end
# the parent's session, so the child keeps them referenced and never touches them.
_inherited_after_fork: list[Any] = []
_live_writers: weakref.WeakSet[TelemetryWriter] = weakref.WeakSet()


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with full jitter, for transient errors only."""

    initial_s: float = 0.1
    maximum_s: float = 10.0
    multiplier: float = 2.0

    def delay(self, attempt: int) -> float:
        ceiling = min(self.maximum_s, self.initial_s * (self.multiplier**attempt))
        return random.uniform(ceiling / 2, ceiling)


class _TransientError(Exception):
    """The database is unreachable or not ready: keep the rows and try again."""


def _is_transient(error: psycopg.Error) -> bool:
    state = error.sqlstate
    if state is None:
        # No SQLSTATE: the connection itself failed (refused, reset, closed).
        return isinstance(error, (psycopg.OperationalError, psycopg.InterfaceError))
    return state.startswith(_TRANSIENT_CLASSES) or state in _TRANSIENT_CODES


def default_conninfo() -> str:
    """`TELEMETRY_DATABASE_URL`, else empty: libpq then reads the standard `PG*` variables."""
    return os.environ.get("TELEMETRY_DATABASE_URL", "")


class TelemetryWriter:
    """Writes telemetry records in the background; `persist` never raises and never blocks.

    Options:
        conninfo: libpq connection string or URL; default `TELEMETRY_DATABASE_URL`, else `PG*`.
        role: the role to `SET ROLE` to after connecting (default `service_role`, the least
            privilege that passes row-level security); None keeps the login role.
        max_queue_size: records held in memory at most (during an outage too); beyond it new
            records are dropped and counted as `queue_full`.
        batch_size / flush_interval_s: a batch is written when it has `batch_size` records or
            its first record has waited `flush_interval_s`.
        retry: backoff for transient errors.
        text_limits: longest text kept per field.
        connect_timeout_s: how long one connection attempt may take.
    """

    def __init__(
        self,
        conninfo: str | None = None,
        *,
        role: str | None = "service_role",
        table: str = "public.chat_telemetry_log",
        max_queue_size: int = 10_000,
        batch_size: int = 500,
        flush_interval_s: float = 1.0,
        retry: RetryPolicy | None = None,
        text_limits: TextLimits | None = None,
        connect_timeout_s: float = 5.0,
    ) -> None:
        self._conninfo = default_conninfo() if conninfo is None else conninfo
        self._role = role
        schema, _, name = table.rpartition(".")
        self._table = sql.Identifier(schema or "public", name)
        self._copy_statement = sql.SQL("copy {} ({}) from stdin").format(
            self._table,
            sql.SQL(", ").join(sql.Identifier(column) for column in COPY_COLUMNS),
        )
        self._max_queue_size = max(1, int(max_queue_size))
        self._batch_size = max(1, int(batch_size))
        self._flush_interval_s = max(0.001, float(flush_interval_s))
        self._retry = retry or RetryPolicy()
        self._text_limits = text_limits or TextLimits()
        self._connect_timeout_s = max(1, round(connect_timeout_s))
        self._reset_process_state()
        _live_writers.add(self)

    # ----------------------------------------------------------------- caller side

    def persist(self, record: Any) -> None:
        """Queue one record for writing. Never raises, never waits on the database."""
        try:
            if self._closed:
                self._stats.drop("shut_down")
                return
            values = snapshot(record)
            if values is None:
                self._stats.drop("invalid")
                self._messages.warning("invalid", "dropped a record that is not a TelemetryRecord")
                return
            if self._worker is None:
                self._start_worker()
            try:
                self._queue.put_nowait(values)
            except queue.Full:
                self._stats.drop("queue_full")
                self._messages.warning("queue_full", "queue full: dropped a record")
                return
            self._stats.accept()
        except Exception:  # the caller's request must never fail because of telemetry
            with contextlib.suppress(Exception):
                self._stats.drop("invalid")

    def flush(self, timeout: float | None = 5.0) -> bool:
        """Wait until every record persisted before this call is written or dropped.

        Returns False if that did not happen within `timeout` seconds (the records stay
        queued and are written later). Never raises.
        """
        try:
            target = self._stats.accepted_count()
            self._flush_requested.set()
            return self._stats.wait_settled(target, timeout)
        except Exception:
            return False

    def close(self, timeout: float | None = 5.0) -> bool:
        """Stop accepting records, write what is queued within `timeout`, stop the thread.

        What could not be written in time is dropped and counted as `shut_down`. Returns
        True when nothing was dropped that way. Idempotent; never raises.
        """
        try:
            self._closed = True
            flushed = self.flush(timeout)
            self._stopping.set()
            worker = self._worker
            if worker is not None and worker is not threading.current_thread():
                worker.join(timeout=1.0 if flushed else 2.0)
            dropped = self._drop_queued("shut_down")
            return flushed and dropped == 0
        except Exception:
            return False

    def stats(self) -> dict[str, Any]:
        """Counters: enqueued, written, retried batches, repaired, dropped by reason."""
        return self._stats.as_dict(queued=self._queue.qsize())

    # ----------------------------------------------------------------- process state

    def _reset_process_state(self) -> None:
        """Everything that must be new in each process (at start, and in a fork's child)."""
        self._queue: queue.Queue[tuple[Any, ...]] = queue.Queue(maxsize=self._max_queue_size)
        self._stats = WriterStats()
        self._messages = RateLimitedLog(_log)
        self._flush_requested = threading.Event()
        self._stopping = threading.Event()
        self._start_lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._connection: psycopg.Connection[Any] | None = None
        self._pending: deque[list[tuple[Any, ...]]] = deque()
        self._closed = False

    def _after_fork_in_child(self) -> None:
        if self._connection is not None:
            _inherited_after_fork.append(self._connection)
        closed = self._closed
        self._reset_process_state()
        self._closed = closed

    def _start_worker(self) -> None:
        with self._start_lock:
            if self._worker is not None:
                return
            worker = threading.Thread(target=self._run, name="telemetry-writer", daemon=True)
            worker.start()
            self._worker = worker

    # ----------------------------------------------------------------- worker side

    def _run(self) -> None:
        while True:
            try:
                batch = self._collect_batch()
                if batch is None:
                    return
                self._write_batch(batch)
            except Exception:
                # A bug here must not kill the thread silently and strand the queue.
                self._messages.exception("worker", "unexpected error in the writer thread")
                time.sleep(0.1)

    def _collect_batch(self) -> list[tuple[Any, ...]] | None:
        """Up to `batch_size` records: closed early by size, by a flush, or by the interval."""
        batch: list[tuple[Any, ...]] = []
        while not batch:
            if self._stopping.is_set():
                return None
            try:
                batch.append(self._queue.get(timeout=0.05))
            except queue.Empty:
                continue
        deadline = time.monotonic() + self._flush_interval_s
        while len(batch) < self._batch_size:
            remaining = deadline - time.monotonic()
            hurry = remaining <= 0 or self._stopping.is_set() or self._flush_requested.is_set()
            try:
                if hurry:
                    batch.append(self._queue.get_nowait())
                else:
                    batch.append(self._queue.get(timeout=min(remaining, 0.05)))
            except queue.Empty:
                if hurry:
                    break
        if self._queue.empty():
            self._flush_requested.clear()
        return batch

    def _write_batch(self, batch: list[tuple[Any, ...]]) -> None:
        """Repair each record as COPY streams it, so that this thread repairs the next rows
        while the server inserts the previous ones; on any failure fall back to the
        retrying, splitting path with the rows repaired so far and the rest."""
        rows: list[tuple[Any, ...]] = []
        stream = self._repair_batch(batch, rows)
        try:
            if not self._pending:
                self._copy(stream)
                self._stats.written(len(rows))
                return
        except (psycopg.Error, OSError, _TransientError):
            pass
        for _ in stream:  # finish repairing what the failed attempt did not reach
            pass
        if rows:
            self._pending.append(rows)
        self._write_pending()

    def _repair_batch(
        self, batch: list[tuple[Any, ...]], rows: list[tuple[Any, ...]]
    ) -> Iterator[tuple[Any, ...]]:
        """Yield each record's COPY row, also kept in `rows` for a retry; count the rest."""
        repairs: Counter[str] = Counter()
        for values in batch:
            record_repairs: Counter[str] = Counter()
            try:
                row = repair(values, self._text_limits, record_repairs)
            except InvalidRecord:
                self._stats.drop("invalid", settled=True)
                self._messages.warning("invalid", "dropped a record without user_id or question")
                continue
            except Exception:
                self._stats.drop("invalid", settled=True)
                self._messages.exception("repair", "dropped a record that could not be repaired")
                continue
            if record_repairs:
                repairs.update(record_repairs)
                self._stats.repaired(record_repairs)
            rows.append(row)
            yield row
        if repairs:
            self._messages.info("repairs", "repaired records: " + ", ".join(sorted(repairs)))

    def _write_pending(self) -> None:
        """Write `self._pending`, retrying transient errors until written or shut down."""
        attempt = 0
        while self._pending:
            if self._stopping.is_set():
                self._drop_pending("shut_down")
                return
            try:
                self._drain_pending()
                return
            except _TransientError as error:
                self._close_connection()
                self._stats.retried_batch()
                delay = self._retry.delay(attempt)
                attempt += 1
                self._messages.warning(
                    "transient", f"database unavailable ({error}); retrying in {delay:.1f}s"
                )
                self._stopping.wait(delay)

    def _drain_pending(self) -> None:
        """Copy each pending chunk; a rejected chunk is split until the bad row is alone."""
        while self._pending:
            chunk = self._pending[0]
            try:
                self._copy(chunk)
            except psycopg.Error as error:
                if _is_transient(error) or self._connection_broken():
                    raise _TransientError(type(error).__name__) from error
                if error.sqlstate is None or not error.sqlstate.startswith(_REJECTED_CLASSES):
                    raise _TransientError(type(error).__name__) from error
                self._pending.popleft()
                if len(chunk) > 1:
                    middle = len(chunk) // 2
                    self._pending.appendleft(chunk[middle:])
                    self._pending.appendleft(chunk[:middle])
                else:
                    self._handle_rejected_row(chunk[0], error)
                continue
            except OSError as error:
                raise _TransientError(type(error).__name__) from error
            self._pending.popleft()
            self._stats.written(len(chunk))

    def _handle_rejected_row(self, row: tuple[Any, ...], error: psycopg.Error) -> None:
        constraint = (error.diag.constraint_name or "") if error.diag else ""
        if error.sqlstate == _PRIMARY_KEY_VIOLATION and constraint.endswith("_pkey"):
            if self._already_written(row):
                # Our own row is there: an earlier commit whose answer was lost.
                self._stats.written(1)
            else:
                # Another row holds this log_id (vanishingly rare): draw a new one.
                self._pending.appendleft([(new_log_id(), *row[1:])])
            return
        conversation_at = COPY_COLUMNS.index("conversation_id")
        if (
            error.sqlstate == _FOREIGN_KEY_VIOLATION
            and _CONVERSATION_FK in constraint
            and row[conversation_at] is not None
        ):
            # The conversation was deleted meanwhile: keep the request as `on delete set
            # null` would have done had the row arrived first.
            repaired = (*row[:conversation_at], None, *row[conversation_at + 1 :])
            self._stats.repaired(Counter({"conversation_missing_nulled": 1}))
            self._pending.appendleft([repaired])
            return
        self._stats.drop("rejected", settled=True)
        self._messages.warning(
            f"rejected:{error.sqlstate}:{constraint}",
            f"database rejected a row (SQLSTATE {error.sqlstate}, constraint {constraint or '-'})",
        )

    def _already_written(self, row: tuple[Any, ...]) -> bool:
        """True when the row with this log_id is this very record (same user and time)."""
        user_at = COPY_COLUMNS.index("user_id")
        created_at = COPY_COLUMNS.index("created_at")
        found = (
            self._connect()
            .execute(
                sql.SQL("select user_id, created_at from {} where log_id = %s").format(self._table),
                (row[0],),
            )
            .fetchone()
        )
        return found is not None and (found[0], found[1]) == (row[user_at], row[created_at])

    def _copy(self, rows: Iterable[tuple[Any, ...]]) -> None:
        connection = self._connect()
        with (
            connection.transaction(),
            connection.cursor() as cursor,
            cursor.copy(self._copy_statement) as copy,
        ):
            for row in rows:
                copy.write_row(row)

    def _connect(self) -> psycopg.Connection[Any]:
        if self._connection is not None and not self._connection.closed:
            return self._connection
        try:
            connection = psycopg.connect(
                self._conninfo,
                autocommit=True,
                connect_timeout=self._connect_timeout_s,
                application_name="telemetry_writer",
            )
            if self._role:
                connection.execute(sql.SQL("set role {}").format(sql.Identifier(self._role)))
        except psycopg.Error as error:
            if error.sqlstate and not _is_transient(error):
                self._messages.error(
                    "connect", f"cannot connect as configured (SQLSTATE {error.sqlstate})"
                )
            raise _TransientError(type(error).__name__) from error
        self._connection = connection
        return connection

    def _connection_broken(self) -> bool:
        connection = self._connection
        return connection is None or connection.closed or connection.broken

    def _close_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()

    def _drop_pending(self, reason: str) -> None:
        dropped = sum(len(chunk) for chunk in self._pending)
        self._pending.clear()
        if dropped:
            self._stats.drop(reason, settled=True, count=dropped)

    def _drop_queued(self, reason: str) -> int:
        dropped = 0
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
            dropped += 1
        if dropped:
            self._stats.drop(reason, settled=True, count=dropped)
            self._messages.warning("shut_down", f"closed with {dropped} records unwritten")
        return dropped


def _reinitialise_writers_in_child() -> None:
    for writer in list(_live_writers):
        writer._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reinitialise_writers_in_child)

__all__ = ["DROP_REASONS", "RetryPolicy", "TelemetryWriter"]

"""TelemetryWriter: a bounded queue drained by one daemon thread that writes batches with COPY.

The design follows well-kept telemetry clients (sentry's worker, OpenTelemetry's
BatchSpanProcessor): the caller only appends to a queue bounded in records and in bytes (never
waits on the network, never sees an exception); one background thread closes batches by size
or interval and writes each in one pooler-safe transaction (see `transport`); a failure is
classified (see `errors`) and each class has its behaviour; every record ends written or
dropped with a reason, and the books balance at every moment (see `stats`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
import weakref
from collections import Counter, deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from telemetry_writer.config import RetryPolicy, WriterConfig, database_configured
from telemetry_writer.config import from_environment as _config_from_environment
from telemetry_writer.errors import (
    ConnectFailed,
    FailureClass,
    classify_batch_error,
    classify_connect,
    classify_sqlstate,
    server_message,
)
from telemetry_writer.intake import IntakePlan, QueueItem, admit
from telemetry_writer.ratelimit import RateLimitedLog
from telemetry_writer.record import snapshot
from telemetry_writer.repair import COPY_COLUMNS, InvalidRecord, TextLimits, new_log_id, repair
from telemetry_writer.stats import DROP_REASONS, SPAN_DROP_REASONS, Ledger
from telemetry_writer.transport import (
    BatchFailed,
    ConnectionSettings,
    Phase,
    close_quietly,
    copy_rows,
    existing_log_ids,
)

_log = logging.getLogger("telemetry_writer")

_PRIMARY_KEY_VIOLATION = "23505"
_FOREIGN_KEY_VIOLATION = "23503"
_CONVERSATION_FK = "conversation_id"
_LOG_ID_AT = COPY_COLUMNS.index("log_id")
_USER_AT = COPY_COLUMNS.index("user_id")
_CREATED_AT = COPY_COLUMNS.index("created_at")
_CONVERSATION_AT = COPY_COLUMNS.index("conversation_id")
# Any stands in for "not given": None is a meaningful value for `role`.
_UNSET: Any = object()

# Connections inherited through fork() belong to the parent: closing one in the child would end
# the parent's session, so the child keeps them referenced and never touches them.
_inherited_after_fork: list[Any] = []
live_writers: weakref.WeakSet[TelemetryWriter] = weakref.WeakSet()


@dataclass
class _Chunk:
    """Rows the thread holds. `unknown_commit`: their COMMIT was sent and its answer lost,
    so whether they are in the table must be asked before anything is sent again."""

    rows: list[tuple[Any, ...]]
    unknown_commit: bool = False


class _Retry(Exception):
    """Keep the held rows and try again after the backoff of `failure_class`."""

    def __init__(self, failure_class: FailureClass, error: BaseException) -> None:
        super().__init__(failure_class.value)
        self.failure_class = failure_class
        self.error = error


def _sqlstate(error: BaseException) -> str | None:
    return (
        getattr(error, "sqlstate", None)
        if isinstance(error, (psycopg.Error, ConnectFailed))
        else None
    )


class TelemetryWriter:
    """Writes telemetry records in the background; `persist` never raises and never blocks.

    Every option can also come from a `TELEMETRY_WRITER_*` variable (see `config` and the
    README); an argument given here wins. `conninfo` defaults to `TELEMETRY_DATABASE_URL`, else
    libpq's `PG*` variables; with none of them (or `TELEMETRY_WRITER_DISABLED=1`) the writer
    is a no-op that counts what it skipped as `disabled`.
    """

    def __init__(
        self,
        conninfo: str | None = None,
        *,
        role: str | None = _UNSET,
        table: str = _UNSET,
        max_queue_size: int = _UNSET,
        max_queue_bytes: int = _UNSET,
        batch_size: int = _UNSET,
        flush_interval_s: float = _UNSET,
        retry: RetryPolicy = _UNSET,
        config_retry: RetryPolicy = _UNSET,
        text_limits: TextLimits | None = None,
        connect_timeout_s: float = _UNSET,
        io_timeout_s: float = _UNSET,
        statement_timeout_s: float = _UNSET,
        exit_timeout_s: float = _UNSET,
        log_interval_s: float = _UNSET,
        disabled: bool = _UNSET,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        given = {
            name: value
            for name, value in locals().items()
            if name not in ("self", "text_limits", "environ", "__class__")
            and value is not _UNSET
            and not (name == "conninfo" and value is None)
        }
        config = _config_from_environment(environ, **given)
        self.config = config
        self._disabled = config.disabled
        if not self._disabled and not database_configured(config, environ):
            self._disabled = True
            _log.warning(
                "telemetry_writer: no database configured (TELEMETRY_DATABASE_URL or PG*): "
                "records are counted as dropped (disabled), not written"
            )
        self._settings = ConnectionSettings(
            conninfo=config.conninfo or "",
            role=config.role,
            connect_timeout_s=config.connect_timeout_s,
            io_timeout_s=max(0.1, config.io_timeout_s),
            statement_timeout_s=max(0.001, config.statement_timeout_s),
        )
        self._begin = self._settings.begin()
        schema, _, name = config.table.rpartition(".")
        self._table = sql.Identifier(schema or "public", name)
        self._copy_statement = sql.SQL("copy {} ({}) from stdin").format(
            self._table,
            sql.SQL(", ").join(sql.Identifier(column) for column in COPY_COLUMNS),
        )
        self._batch_size = max(1, int(config.batch_size))
        self._flush_interval_s = max(0.001, float(config.flush_interval_s))
        self._text_limits = text_limits or TextLimits()
        self._intake_plan = IntakePlan.of(self._text_limits)
        self.exit_timeout_s = max(0.0, float(config.exit_timeout_s))
        self._reset_process_state()
        live_writers.add(self)

    # ----------------------------------------------------------------- caller side

    def persist(self, record: Any) -> None:
        """Queue one record for writing. Never raises, never waits on the database."""
        counted = False  # whatever fails, the record is counted exactly once
        try:
            if self._closed or self._disabled:
                counted = True
                self._ledger.refuse("disabled" if self._disabled else "shut_down")
                return
            values = snapshot(record)
            if values is None:
                counted = True
                self._ledger.refuse("invalid")
                self._messages.warning("invalid", "dropped a record that is not a TelemetryRecord")
                return
            item = admit(values, self._intake_plan)
            if not self._worker_running:
                self._start_worker()
            counted = True
            if not self._ledger.offer(item, self._batch_size):
                self._messages.warning("queue_full", "queue full: dropped a record")
        except Exception:  # the caller's request must never fail because of telemetry
            if not counted:
                with contextlib.suppress(Exception):
                    self._ledger.refuse("invalid")

    def drop(self, reason: str) -> None:
        """Count a record that a source of records gave up before it could persist it
        (`telemetry_writer.otel`: `otel_bound`, `otel_timeout`, `shut_down`), so that it is
        in `received` and `dropped[reason]` like any record dropped at `persist`. Never raises;
        a reason not in DROP_REASONS is counted as `internal_error`."""
        with contextlib.suppress(Exception):
            self._ledger.refuse(reason if reason in DROP_REASONS else "internal_error")

    def drop_spans(self, reason: str, count: int = 1) -> None:
        """Count spans that `telemetry_writer.otel` read no data from (`SPAN_DROP_REASONS`):
        not records, so apart from `dropped`. Never raises."""
        with contextlib.suppress(Exception):
            if count > 0 and reason in SPAN_DROP_REASONS:
                self._ledger.spans_dropped(reason, count)

    def flush(self, timeout: float | None = 5.0) -> bool:
        """Wait until every record persisted before this call is written or dropped.

        Returns False if that did not happen within `timeout` seconds (the records stay held
        and are written later). Never raises.
        """
        try:
            ledger = self._ledger
            if not self._worker_running and not self._disabled and (ledger.queue or ledger.held):
                self._start_worker()  # the thread died: start a new one for what it left
            with ledger.lock:
                target = ledger.accepted
                if ledger.queue:
                    ledger.flush_requested = True
                    ledger.changed.notify_all()
            return ledger.wait_settled(target, timeout)
        except Exception:
            return False

    def close(self, timeout: float | None = 5.0) -> bool:
        """Stop accepting records, write what is held within `timeout`, stop the thread.

        Returns within `timeout` (plus a few milliseconds). What could not be written by then
        is dropped and counted as `shut_down`; returns True when nothing was dropped that way.
        Idempotent; never raises.
        """
        try:
            started = time.monotonic()
            self._closed = True
            with self._ledger.lock:
                if self._retry_class is not FailureClass.CONFIGURATION:
                    self._retry_at = 0.0  # one last attempt now rather than after the backoff
                self._ledger.changed.notify_all()
            flushed = self.flush(timeout)
            with self._ledger.lock:
                self._stopping = True
                self._ledger.changed.notify_all()
            worker = self._worker
            if worker is not None and worker is not threading.current_thread():
                remaining = None if timeout is None else timeout - (time.monotonic() - started)
                worker.join(max(0.05, remaining) if remaining is not None else None)
            unwritten = self._ledger.abandon()
            if unwritten:
                self._messages.warning("shut_down", f"closed with {unwritten} records unwritten")
            if worker is None or not worker.is_alive():
                self._close_connection()
            return flushed and unwritten == 0
        except Exception:
            return False

    async def aflush(self, timeout: float | None = 5.0) -> bool:
        """`flush` for asyncio code: waits in a thread, not on the event loop."""
        return await asyncio.get_running_loop().run_in_executor(None, self.flush, timeout)

    async def aclose(self, timeout: float | None = 5.0) -> bool:
        """`close` for asyncio code: waits in a thread, not on the event loop."""
        return await asyncio.get_running_loop().run_in_executor(None, self.close, timeout)

    def stats(self) -> dict[str, Any]:
        """Counters; `received == written + sum(dropped) + queued + pending + in_flight`."""
        return self._ledger.as_dict()

    @property
    def closed(self) -> bool:
        return self._closed

    # ----------------------------------------------------------------- process state

    def _reset_process_state(self) -> None:
        """Everything that must be new in each process (at start, and in a fork's child)."""
        config = self.config
        self._ledger = Ledger(
            max_queue_size=max(1, int(config.max_queue_size)),
            max_queue_bytes=max(1, int(config.max_queue_bytes)),
        )
        self._messages = RateLimitedLog(_log, config.log_interval_s)
        self._stopping = False
        self._start_lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._worker_running = False  # cleared by the thread as it ends, however it ends
        self._connection: psycopg.Connection[Any] | None = None
        self._work: deque[_Chunk] = deque()
        self._retry_at = 0.0
        self._retry_class: FailureClass | None = None
        self._attempts = 0
        self._closed = False

    def _after_fork_in_child(self) -> None:
        if self._connection is not None:
            _inherited_after_fork.append(self._connection)
        closed = self._closed
        self._reset_process_state()
        self._closed = closed

    def _start_worker(self) -> None:
        with self._start_lock:
            if self._worker is not None and self._worker.is_alive():
                return
            if self._worker is not None:
                self._messages.error("restart", "the writer thread had died: started a new one")
            worker = threading.Thread(target=self._run, name="telemetry-writer", daemon=True)
            self._worker_running = True
            worker.start()
            self._worker = worker

    # ----------------------------------------------------------------- worker side

    def _run(self) -> None:
        try:
            while True:
                try:
                    if self._work:
                        if not self._wait_for_retry():
                            return
                        self._ledger.set_pending(False)
                        self._drain()
                    else:
                        items = self._next_batch()
                        if items is None:
                            return
                        self._write_new(items)
                except _Retry as retry:
                    self._schedule_retry(retry)
                except Exception:
                    # A bug here must neither kill the thread nor lose rows silently.
                    self._messages.exception("worker", "unexpected error in the writer thread")
                    self._drop_work("internal_error")
        finally:
            self._worker_running = False
            if self._stopping:
                self._close_connection()

    def _next_batch(self) -> list[QueueItem] | None:
        """Up to `batch_size` records: closed by size, by a flush, by close, or by the interval
        after its first record."""
        ledger = self._ledger
        with ledger.lock:
            while True:
                if self._stopping:
                    return None
                queued = len(ledger.queue)
                if not queued:
                    ledger.flush_requested = False
                    ledger.changed.wait(1.0)
                    continue
                now = time.monotonic()
                due = ledger.first_queued_at + self._flush_interval_s
                if (
                    queued >= self._batch_size
                    or ledger.flush_requested
                    or self._closed
                    or now >= due
                ):
                    items = ledger.take(self._batch_size)
                    if not ledger.queue:
                        ledger.flush_requested = False
                    return items
                ledger.changed.wait(due - now)

    def _wait_for_retry(self) -> bool:
        """Sleep until the retry is due (a timer: no new record is needed). False on stop."""
        ledger = self._ledger
        with ledger.lock:
            while not self._stopping:
                remaining = self._retry_at - time.monotonic()
                if remaining <= 0:
                    return True
                ledger.changed.wait(remaining)
            return False

    def _write_new(self, items: list[QueueItem]) -> None:
        """Repair each record as COPY streams it, so that this thread repairs the next rows
        while the server inserts the previous ones; on failure, keep the rows as a chunk."""
        rows: list[tuple[Any, ...]] = []
        stream = self._repair_stream(items, rows)
        chunk = _Chunk(rows)
        self._work.append(chunk)  # held from the start: a catch-all can still count it
        try:
            copy_rows(self._open_connection(), self._begin, self._copy_statement, stream)
        except (BatchFailed, _Retry) as failure:
            for _ in stream:  # finish repairing what the failed attempt did not reach
                pass
            if not rows:
                self._work.popleft()
            if isinstance(failure, _Retry):
                raise
            if rows:
                self._on_batch_failed(chunk, failure)
            self._drain()
            return
        self._work.popleft()
        self._succeeded(len(rows))

    def _repair_stream(
        self, items: list[QueueItem], rows: list[tuple[Any, ...]]
    ) -> Iterator[tuple[Any, ...]]:
        """Yield each record's COPY row, also kept in `rows` for a retry; count the rest."""
        ledger = self._ledger
        limits = self._text_limits
        for values, _, early_repairs, follow_ups in items:
            record_repairs: Counter[str] = early_repairs if early_repairs is not None else Counter()
            try:
                row = repair(values, limits, record_repairs, follow_ups)
            except InvalidRecord:
                ledger.drop("invalid")
                self._messages.warning("invalid", "dropped a record without user_id or question")
                continue
            except Exception:
                ledger.drop("invalid")
                self._messages.exception("repair", "dropped a record that could not be repaired")
                continue
            if record_repairs:
                ledger.repaired(record_repairs)
            rows.append(row)
            yield row

    def _drain(self) -> None:
        """Write the held chunks; a rejected chunk is split until the bad rows are alone."""
        while self._work:
            chunk = self._work[0]
            if chunk.unknown_commit:
                self._resolve_unknown_commit(chunk)
                continue
            try:
                copy_rows(self._open_connection(), self._begin, self._copy_statement, chunk.rows)
            except BatchFailed as failure:
                self._on_batch_failed(chunk, failure)
                continue
            self._work.popleft()
            self._succeeded(len(chunk.rows))

    def _on_batch_failed(self, chunk: _Chunk, failure: BatchFailed) -> None:
        """Decide from the error and the phase: retry later, ask, split, or drop one row."""
        error = failure.error
        broken = self._connection_broken()
        state = _sqlstate(error)
        if failure.phase == Phase.COMMIT and (broken or state is None):
            chunk.unknown_commit = True
            self._ledger.unknown_commit()
            raise _Retry(FailureClass.CONNECTION, error)
        if failure.phase == Phase.SETUP:
            if broken or state is None:
                raise _Retry(FailureClass.CONNECTION, error)
            raise _Retry(classify_sqlstate(state, default=FailureClass.CONFIGURATION), error)
        failure_class = classify_batch_error(error, connection_broken=broken)
        if failure_class is not FailureClass.REJECTED:
            raise _Retry(failure_class, error)
        constraint = ""
        if isinstance(error, psycopg.Error) and error.diag:
            constraint = error.diag.constraint_name or ""
        if state == _PRIMARY_KEY_VIOLATION and constraint.endswith("_pkey"):
            # A log id already taken: ours from a lost commit, or (vanishingly rare) another's.
            chunk.unknown_commit = True
            return
        if len(chunk.rows) > 1:
            self._work.popleft()
            middle = len(chunk.rows) // 2
            self._work.appendleft(_Chunk(chunk.rows[middle:]))
            self._work.appendleft(_Chunk(chunk.rows[:middle]))
            return
        self._reject_row(chunk, error, state, constraint)

    def _reject_row(
        self, chunk: _Chunk, error: BaseException, state: str | None, constraint: str
    ) -> None:
        row = chunk.rows[0]
        if (
            state == _FOREIGN_KEY_VIOLATION
            and _CONVERSATION_FK in constraint
            and row[_CONVERSATION_AT] is not None
        ):
            # The conversation was deleted meanwhile: keep the request as `on delete set
            # null` would have done had the row arrived first.
            chunk.rows = [(*row[:_CONVERSATION_AT], None, *row[_CONVERSATION_AT + 1 :])]
            self._ledger.repair_counted(Counter({"conversation_missing_nulled": 1}))
            return
        self._work.popleft()
        if state is None:
            # Not the server: the row could not be sent (an encoding error, a bug).
            self._ledger.drop("invalid")
            self._messages.warning(
                f"unsendable:{type(error).__name__}",
                f"dropped a row that could not be sent ({type(error).__name__})",
            )
            return
        self._ledger.drop("rejected", sqlstate=state)
        self._messages.warning(
            f"rejected:{state}:{constraint}",
            f"database rejected a row (SQLSTATE {state}, constraint {constraint or '-'})",
        )

    def _resolve_unknown_commit(self, chunk: _Chunk) -> None:
        """One query says which of the chunk's log ids are in the table: those are written
        (our rows, from the commit whose answer was lost), the others are sent again."""
        connection = self._open_connection()
        try:
            found = existing_log_ids(
                connection, self._begin, self._table, [row[_LOG_ID_AT] for row in chunk.rows]
            )
        except Exception as error:
            broken = self._connection_broken()
            state = _sqlstate(error)
            if broken or state is None:
                raise _Retry(FailureClass.CONNECTION, error) from error
            raise _Retry(
                classify_sqlstate(state, default=FailureClass.CONNECTION), error
            ) from error
        ours = 0
        rest: list[tuple[Any, ...]] = []
        for row in chunk.rows:
            holder = found.get(row[_LOG_ID_AT])
            if holder is None:
                rest.append(row)
            elif holder == (row[_USER_AT], row[_CREATED_AT]):
                ours += 1
            else:
                rest.append((new_log_id(), *row[1:]))  # another row holds this id: redraw
        chunk.rows = rest
        chunk.unknown_commit = False
        if not rest:
            self._work.popleft()
        if ours:
            self._ledger.written(ours)

    def _succeeded(self, count: int) -> None:
        self._ledger.written(count)
        if self._retry_class is not None and not self._work:
            _log.info(
                "telemetry database writes resumed after %d failed attempts (%s)",
                self._attempts,
                self._retry_class.value,
            )
            self._retry_class = None
            self._attempts = 0
            self._ledger.set_pending(False)

    def _schedule_retry(self, retry: _Retry) -> None:
        failure_class = retry.failure_class
        if failure_class is not FailureClass.RESOURCE or self._connection_broken():
            self._close_connection()
        if failure_class is not self._retry_class:
            self._attempts = 0
        self._retry_class = failure_class
        config = self.config
        policy = (
            config.config_retry if failure_class is FailureClass.CONFIGURATION else config.retry
        )
        delay = policy.delay(self._attempts)
        self._attempts += 1
        with self._ledger.lock:
            self._retry_at = time.monotonic() + delay
        state = _sqlstate(retry.error)
        held = sum(len(chunk.rows) for chunk in self._work)
        self._ledger.set_pending(True)
        cause = f"SQLSTATE {state}" if state else type(retry.error).__name__
        text = (
            f"{cause}: {server_message(retry.error)}; keeping {held} records "
            f"(and the queue), retrying in {delay:.1f}s"
        )
        if failure_class is FailureClass.CONFIGURATION:
            self._messages.error(
                f"configuration:{state}", f"telemetry database misconfigured ({text})"
            )
        else:
            self._messages.warning(
                f"{failure_class.value}:{state}",
                f"telemetry database unavailable ({failure_class.value}, {text})",
            )
        # Counted after it is logged: whoever sees the retry in stats() finds its log line.
        self._ledger.retried({"class": failure_class.value, "sqlstate": state, "at": time.time()})

    def _drop_work(self, reason: str) -> None:
        """Count everything the thread holds as dropped for `reason`: whatever state a bug
        left the chunks in, the books still balance and `flush` can return True again."""
        self._work.clear()
        self._close_connection()
        self._ledger.drop_held(reason)

    # ----------------------------------------------------------------- connection

    def _open_connection(self) -> psycopg.Connection[Any]:
        connection = self._connection
        if connection is not None and not connection.closed and not connection.broken:
            return connection
        self._close_connection()
        try:
            self._connection = self._settings.connect()
        except ConnectFailed as failure:
            raise _Retry(classify_connect(failure), failure) from failure
        return self._connection

    def _connection_broken(self) -> bool:
        connection = self._connection
        return connection is None or connection.closed or connection.broken

    def _close_connection(self) -> None:
        connection, self._connection = self._connection, None
        close_quietly(connection)


def _reinitialise_writers_in_child() -> None:
    for writer in list(live_writers):
        writer._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reinitialise_writers_in_child)

__all__ = ["DROP_REASONS", "RetryPolicy", "TelemetryWriter", "WriterConfig"]

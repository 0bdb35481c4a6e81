"""The queue and the ledger of every record, under one lock, so that the books always balance.

Every record passed to `persist` is counted exactly once in `received`, and at any moment

    received == written + sum(dropped.values()) + queued + pending + in_flight

- `queued`: accepted, waiting in the queue;
- `in_flight`: taken by the writer thread, being written;
- `pending`: taken by the writer thread, waiting for a retry after a failure;
- `written`: committed rows;
- `dropped[reason]`: settled without a row, for one of `DROP_REASONS`.

`enqueued` is the number accepted into the queue (`received` minus the drops at `persist`:
`queue_full`, `shut_down`, `disabled`, and records that are not records at all).

Accepted records get consecutive sequence numbers, and the writer thread takes them in order
and settles one batch before it takes the next, so "everything persisted before this flush is
settled" is exact: the queue holds nothing up to the flush's number and the batch the thread
holds (if any) starts after it.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from typing import Any

from telemetry_writer.intake import QueueItem

# Why a record was not written.
DROP_REASONS = (
    "queue_full",  # at persist: max_queue_size or max_queue_bytes reached
    "invalid",  # no valid user_id or question, not a record, or a value that cannot be sent
    "rejected",  # the database refused the row itself (see rejected_by_sqlstate)
    "shut_down",  # persisted after close, or still unwritten when close's timeout ran out
    "disabled",  # the writer is disabled (TELEMETRY_WRITER_DISABLED, or no database set)
    "internal_error",  # a bug in the writer thread: counted, logged with its type
    # Requests that telemetry_writer.otel gave up before they became records (see its README
    # section): their spans went past its count or byte bound, or their request span had not
    # ended within its timeout. Counted here so the books of a traced backend balance too.
    "otel_bound",
    "otel_timeout",
)
# Spans that telemetry_writer.otel read no data from. They are not records (a request whose
# late span was ignored is still written), so they are counted apart from `dropped`:
# `late` (ended after their request span), `bound` (released with a request dropped as
# `otel_bound`), `untracked_request` (a span with `chat_telemetry.user_id` that ended
# without the processor holding it: the attribute was set after the span started, or the
# request had already been dropped).
SPAN_DROP_REASONS = ("late", "bound", "untracked_request")


class Ledger:
    def __init__(self, *, max_queue_size: int, max_queue_bytes: int) -> None:
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.max_queue_size = max_queue_size
        self.max_queue_bytes = max_queue_bytes
        self.queue: deque[QueueItem] = deque()
        self.queued_bytes = 0
        self.first_queued_at = 0.0
        self.flush_requested = False
        self.received = 0
        self.accepted = 0  # also the sequence number of the last accepted record
        self.taken = 0  # sequence number of the last record taken by the writer thread
        self.held = 0  # records the writer thread holds (pending or in flight)
        self.held_bytes = 0
        self.held_from = 0  # sequence number of the first record of the held batch
        self.held_pending = False
        self.abandoned = False  # close() gave up: later results of the thread are not counted
        self.written_count = 0
        self.dropped: Counter[str] = Counter({reason: 0 for reason in DROP_REASONS})
        self.rejected_by_sqlstate: Counter[str] = Counter()
        self.dropped_spans: Counter[str] = Counter({reason: 0 for reason in SPAN_DROP_REASONS})
        self.repairs: Counter[str] = Counter()
        self.repaired_records = 0
        self.retried_batches = 0
        self.unknown_commits = 0
        self.last_failure: dict[str, Any] | None = None

    # ------------------------------------------------------------- caller side

    def offer(self, item: QueueItem, batch_size: int) -> bool:
        """Append to the queue if both bounds allow it; count the record either way."""
        with self.lock:
            self.received += 1
            size = item[1]
            length = len(self.queue)
            if (
                length >= self.max_queue_size
                or (self.queued_bytes + size > self.max_queue_bytes and length)
                or self.abandoned
            ):
                self.dropped["shut_down" if self.abandoned else "queue_full"] += 1
                return False
            self.queue.append(item)
            self.queued_bytes += size
            self.accepted += 1
            if length == 0:
                self.first_queued_at = time.monotonic()
                self.changed.notify_all()
            elif length + 1 == batch_size:
                self.changed.notify_all()
            return True

    def refuse(self, reason: str) -> None:
        """A record dropped at persist, before it reached the queue."""
        with self.lock:
            self.received += 1
            self.dropped[reason] += 1

    def spans_dropped(self, reason: str, count: int) -> None:
        with self.lock:
            self.dropped_spans[reason] += count

    # ------------------------------------------------------------- writer thread side

    def take(self, count: int) -> list[QueueItem]:
        """Up to `count` records off the queue; the caller holds the lock (see `changed`)."""
        if count >= len(self.queue):
            items = list(self.queue)
            self.queue.clear()
        else:
            items = [self.queue.popleft() for _ in range(count)]
        size = sum(item[1] for item in items)
        self.queued_bytes -= size
        self.held_from = self.taken + 1
        self.taken += len(items)
        self.held += len(items)
        self.held_bytes += size
        self.held_pending = False
        if self.queue:
            self.first_queued_at = time.monotonic()
        return items

    def written(self, count: int) -> None:
        self._settle(count, None)

    def drop(self, reason: str, count: int = 1, sqlstate: str | None = None) -> None:
        """Records the writer thread held and settles without a row."""
        self._settle(count, reason, sqlstate)

    def _settle(self, count: int, reason: str | None, sqlstate: str | None = None) -> None:
        if count <= 0:
            return
        with self.lock:
            if self.abandoned:
                return
            self.held -= count
            if reason is None:
                self.written_count += count
            else:
                self.dropped[reason] += count
                if sqlstate is not None:
                    self.rejected_by_sqlstate[sqlstate] += count
            if self.held <= 0:
                self.held = 0
                self.held_bytes = 0
                self.held_pending = False
            self.changed.notify_all()

    def drop_held(self, reason: str) -> None:
        """Everything the writer thread holds, dropped for `reason` (its catch-all)."""
        with self.lock:
            count = self.held
        self._settle(count, reason)

    def set_pending(self, pending: bool) -> None:
        with self.lock:
            self.held_pending = pending and self.held > 0

    def repaired(self, repairs: Counter[str]) -> None:
        with self.lock:
            self.repaired_records += 1
            self.repairs.update(repairs)

    def repair_counted(self, repairs: Counter[str]) -> None:
        """Repairs of one record that did not make it (no record counted as repaired)."""
        with self.lock:
            self.repairs.update(repairs)

    def retried(self, failure: dict[str, Any]) -> None:
        with self.lock:
            self.retried_batches += 1
            self.last_failure = failure

    def unknown_commit(self) -> None:
        with self.lock:
            self.unknown_commits += 1

    # ------------------------------------------------------------- flush and close

    def settled_through(self, sequence: int) -> bool:
        """True when every record accepted up to `sequence` is written or dropped."""
        if self.taken < sequence:
            return False
        return self.held == 0 or self.held_from > sequence

    def wait_settled(self, sequence: int, timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        with self.lock:
            while not self.settled_through(sequence):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self.changed.wait(remaining)
            return True

    def abandon(self) -> int:
        """Count everything still queued or held as `shut_down`; later results are ignored."""
        with self.lock:
            if self.abandoned:
                return 0
            self.abandoned = True
            unwritten = len(self.queue) + self.held
            self.dropped["shut_down"] += unwritten
            self.queue.clear()
            self.queued_bytes = 0
            self.held = 0
            self.held_bytes = 0
            self.changed.notify_all()
            return unwritten

    # ------------------------------------------------------------- reading

    def as_dict(self) -> dict[str, Any]:
        with self.lock:
            pending = self.held if self.held_pending else 0
            return {
                "received": self.received,
                "enqueued": self.accepted,
                "written": self.written_count,
                "dropped": dict(self.dropped),
                "rejected_by_sqlstate": dict(self.rejected_by_sqlstate),
                "dropped_spans": dict(self.dropped_spans),
                "queued": len(self.queue),
                "queued_bytes": self.queued_bytes,
                "pending": pending,
                "in_flight": self.held - pending,
                "held_bytes": self.held_bytes,
                "retried_batches": self.retried_batches,
                "unknown_commits": self.unknown_commits,
                "repaired": self.repaired_records,
                "repairs": dict(self.repairs),
                "last_failure": None if self.last_failure is None else dict(self.last_failure),
            }

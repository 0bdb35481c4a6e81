"""Thread-safe counters of what the writer did, and the wait that `flush` needs."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

# Why a record was not written. `queue_full` and `shut_down` at persist time are records that
# were never accepted; the others were accepted and then settled without a row.
DROP_REASONS = ("queue_full", "invalid", "rejected", "shut_down")


class WriterStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._settled_changed = threading.Condition(self._lock)
        self._accepted = 0
        self._settled = 0
        self._written = 0
        self._retried_batches = 0
        self._dropped: Counter[str] = Counter({reason: 0 for reason in DROP_REASONS})
        self._repairs: Counter[str] = Counter()
        self._repaired_records = 0

    def accept(self) -> None:
        with self._lock:
            self._accepted += 1

    def accepted_count(self) -> int:
        with self._lock:
            return self._accepted

    def written(self, count: int) -> None:
        with self._lock:
            self._written += count
            self._settled += count
            self._settled_changed.notify_all()

    def drop(self, reason: str, *, settled: bool = False, count: int = 1) -> None:
        with self._lock:
            self._dropped[reason] += count
            if settled:
                self._settled += count
                self._settled_changed.notify_all()

    def repaired(self, repairs: Counter[str]) -> None:
        with self._lock:
            self._repaired_records += 1
            self._repairs.update(repairs)

    def retried_batch(self) -> None:
        with self._lock:
            self._retried_batches += 1

    def wait_settled(self, target: int, timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        with self._lock:
            while self._settled < target:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._settled_changed.wait(remaining)
            return True

    def as_dict(self, *, queued: int) -> dict[str, Any]:
        with self._lock:
            return {
                "enqueued": self._accepted,
                "written": self._written,
                "queued": queued,
                "retried_batches": self._retried_batches,
                "repaired": self._repaired_records,
                "repairs": dict(self._repairs),
                "dropped": dict(self._dropped),
            }

"""Step durations in milliseconds, measured with a monotonic clock."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from telemetry_writer.record import ErrorType, FailedStep, TelemetryRecord

_log = logging.getLogger("telemetry_writer")
_unknown_steps_lock = threading.Lock()
_unknown_steps = 0

STEP_COLUMNS = {
    "nl_to_sql": "nl_to_sql_duration_ms",
    "sql_execution": "sql_execution_duration_ms",
    "response_generation": "response_generation_duration_ms",
}
# The user-facing step that a failure in each timed step belongs to (column failed_step).
STEP_FAILED_STEP: dict[str, FailedStep] = {
    "nl_to_sql": "understanding",
    "sql_execution": "looking_up",
    "response_generation": "response",
}
# The error_type a failure in each timed step stands for (column error_type).
STEP_ERROR_TYPE: dict[str, ErrorType] = {
    "nl_to_sql": "sql_generation",
    "sql_execution": "sql_execution",
    "response_generation": "response_generation",
}


def unknown_step_count() -> int:
    """How many times `StepTimer.step` got a name it does not know, in this process."""
    return _unknown_steps


def _count_unknown_step(name: str) -> None:
    global _unknown_steps
    with _unknown_steps_lock:
        _unknown_steps += 1
        first = _unknown_steps == 1
    if first:
        _log.warning("StepTimer.step: unknown step name ignored (not timed); see STEP_COLUMNS")


class StepTimer:
    """Times the steps of one chat request.

        timer = StepTimer()                 # the request starts now (for ttfb_ms)
        with timer.step("nl_to_sql"): ...
        with timer.step("sql_execution"): ...
        with timer.step("response_generation"):
            ...; timer.mark_first_byte()    # first byte streamed to the user
        timer.apply_to(record)

    A step that raises is still timed, and `failed_step` then names it as the table does.
    An unknown step name is counted (`unknown_steps`, `unknown_step_count()`) and its block
    runs untimed: a telemetry typo must never fail the request.
    """

    def __init__(self) -> None:
        self._started_ns = time.monotonic_ns()
        self._durations_ms: dict[str, int] = {}
        self._ttfb_ms: int | None = None
        self.failed_step: FailedStep | None = None
        self.current_step: str | None = None
        self.failed_in: str | None = None  # the timed step that raised, if any
        self.unknown_steps = 0

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        if name not in STEP_COLUMNS:
            self.unknown_steps += 1
            _count_unknown_step(name)
            yield
            return
        started = time.monotonic_ns()
        outer, self.current_step = self.current_step, name
        try:
            yield
        except BaseException:
            if self.failed_in is None:  # the innermost step that raised is the one that failed
                self.failed_step = STEP_FAILED_STEP[name]
                self.failed_in = name
            raise
        finally:
            self.current_step = outer
            elapsed = (time.monotonic_ns() - started) // 1_000_000
            self._durations_ms[name] = self._durations_ms.get(name, 0) + elapsed

    def mark_first_byte(self) -> None:
        """Record time to first byte once; later calls keep the first."""
        if self._ttfb_ms is None:
            self._ttfb_ms = (time.monotonic_ns() - self._started_ns) // 1_000_000

    def durations_ms(self) -> dict[str, int]:
        """Column name to milliseconds, for the steps that ran (and ttfb if marked)."""
        columns = {STEP_COLUMNS[name]: value for name, value in self._durations_ms.items()}
        if self._ttfb_ms is not None:
            columns["ttfb_ms"] = self._ttfb_ms
        return columns

    def apply_to(self, record: TelemetryRecord) -> None:
        for column, value in self.durations_ms().items():
            setattr(record, column, value)
        if self.failed_step is not None and record.failed_step is None:
            record.failed_step = self.failed_step

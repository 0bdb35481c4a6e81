"""Step durations in milliseconds, measured with a monotonic clock."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from telemetry_writer.record import TelemetryRecord

STEP_COLUMNS = {
    "nl_to_sql": "nl_to_sql_duration_ms",
    "sql_execution": "sql_execution_duration_ms",
    "response_generation": "response_generation_duration_ms",
}
# The user-facing step that a failure in each timed step belongs to (column failed_step).
STEP_FAILED_STEP = {
    "nl_to_sql": "understanding",
    "sql_execution": "looking_up",
    "response_generation": "response",
}


class StepTimer:
    """Times the steps of one chat request.

        timer = StepTimer()                 # the request starts now (for ttfb_ms)
        with timer.step("nl_to_sql"): ...
        with timer.step("sql_execution"): ...
        with timer.step("response_generation"):
            ...; timer.mark_first_byte()    # first byte streamed to the user
        timer.apply_to(record)

    A step that raises is still timed, and `failed_step` then names it as the table does.
    """

    def __init__(self) -> None:
        self._started_ns = time.monotonic_ns()
        self._durations_ms: dict[str, int] = {}
        self._ttfb_ms: int | None = None
        self.failed_step: str | None = None

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        if name not in STEP_COLUMNS:
            raise ValueError(f"unknown step {name!r}; expected one of {sorted(STEP_COLUMNS)}")
        started = time.monotonic_ns()
        try:
            yield
        except BaseException:
            self.failed_step = STEP_FAILED_STEP[name]
            raise
        finally:
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

"""`track_request`: one chat request, timed and persisted on exit, also when it raises.

    with track_request(user_id=user.id, question=question) as request:
        with request.step("nl_to_sql"):
            completion = client.responses.create(...)
        request.record.set_sql_usage(completion.usage)
        ...

Failed requests are the most useful rows, and the ones a hand-written `persist` at the end
of the handler misses: here the record is persisted in `finally`, with `error_type`,
`error_message` and `failed_step` filled from the exception and the step that was running
(unless the handler set them itself). The exception is re-raised untouched.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from telemetry_writer.record import ErrorType, TelemetryRecord
from telemetry_writer.timing import STEP_ERROR_TYPE, StepTimer

if TYPE_CHECKING:
    from telemetry_writer.writer import TelemetryWriter

_ERROR_MESSAGE_LIMIT = 2_000


class TrackedRequest:
    """The record being filled and the timer of its steps."""

    def __init__(self, record: TelemetryRecord, timer: StepTimer) -> None:
        self.record = record
        self.timer = timer

    def step(self, name: str) -> contextlib.AbstractContextManager[None]:
        return self.timer.step(name)

    def mark_first_byte(self) -> None:
        self.timer.mark_first_byte()


@contextmanager
def track_request(
    *,
    user_id: Any,
    question: str,
    writer: TelemetryWriter | None = None,
    **fields: Any,
) -> Iterator[TrackedRequest]:
    """Time the request's steps and persist its record when the block ends, however it ends.

    `fields` are any other TelemetryRecord fields (conversation_id, sql_model, ...). `writer`
    defaults to the default writer (`persist_telemetry`). Persisting never raises.
    """
    timer = StepTimer()
    record = TelemetryRecord(user_id=user_id, user_question=question, **fields)
    request = TrackedRequest(record, timer)
    try:
        yield request
    except BaseException as error:
        _describe_failure(record, timer, error)
        raise
    finally:
        with contextlib.suppress(Exception):
            timer.apply_to(record)
        _persist(record, writer)


def _describe_failure(record: TelemetryRecord, timer: StepTimer, error: BaseException) -> None:
    if isinstance(error, GeneratorExit):
        return
    with contextlib.suppress(Exception):
        if record.error_type is None:
            failed: ErrorType = "unexpected"
            if timer.failed_in is not None:
                failed = STEP_ERROR_TYPE[timer.failed_in]
            record.error_type = failed
        if record.error_message is None:
            text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            record.error_message = text[:_ERROR_MESSAGE_LIMIT]


def _persist(record: TelemetryRecord, writer: TelemetryWriter | None) -> None:
    if writer is not None:
        writer.persist(record)
        return
    from telemetry_writer.default import persist_telemetry

    persist_telemetry(record)

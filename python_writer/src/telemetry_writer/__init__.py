"""telemetry_writer: write one row of chat telemetry per request, without ever getting in the way.

    import telemetry_writer
    telemetry_writer.init()          # optional: options, else TELEMETRY_WRITER_* variables

    with telemetry_writer.track_request(user_id=user.id, question=question) as request:
        with request.step("nl_to_sql"):
            ...

or, by hand: `persist_telemetry(TelemetryRecord(user_id=..., user_question=...))`, which
returns at once and never raises.
"""

from telemetry_writer.config import RetryPolicy, WriterConfig
from telemetry_writer.default import (
    flush,
    get_default_writer,
    init,
    persist_telemetry,
    shutdown,
)
from telemetry_writer.record import (
    ERROR_TYPES,
    FAILED_STEPS,
    ErrorType,
    FailedStep,
    TelemetryRecord,
)
from telemetry_writer.repair import TextLimits
from telemetry_writer.request import TrackedRequest, track_request
from telemetry_writer.stats import DROP_REASONS, SPAN_DROP_REASONS
from telemetry_writer.timing import StepTimer
from telemetry_writer.usage import TokenUsage
from telemetry_writer.writer import TelemetryWriter

__all__ = [
    "DROP_REASONS",
    "ERROR_TYPES",
    "FAILED_STEPS",
    "SPAN_DROP_REASONS",
    "ErrorType",
    "FailedStep",
    "RetryPolicy",
    "StepTimer",
    "TelemetryRecord",
    "TelemetryWriter",
    "TextLimits",
    "TokenUsage",
    "TrackedRequest",
    "WriterConfig",
    "flush",
    "get_default_writer",
    "init",
    "persist_telemetry",
    "shutdown",
    "track_request",
]

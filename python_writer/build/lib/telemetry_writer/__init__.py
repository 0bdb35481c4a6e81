"""telemetry_writer: write one row of chat telemetry per request, without ever getting in the way.

from telemetry_writer import TelemetryRecord, StepTimer, persist_telemetry

record = TelemetryRecord(user_id=user.id, user_question=question)
...
persist_telemetry(record)   # returns at once; never raises
"""

from telemetry_writer.default import get_default_writer, persist_telemetry
from telemetry_writer.record import ERROR_TYPES, FAILED_STEPS, TelemetryRecord
from telemetry_writer.repair import TextLimits
from telemetry_writer.stats import DROP_REASONS
from telemetry_writer.timing import StepTimer
from telemetry_writer.usage import TokenUsage
from telemetry_writer.writer import RetryPolicy, TelemetryWriter

__all__ = [
    "DROP_REASONS",
    "ERROR_TYPES",
    "FAILED_STEPS",
    "RetryPolicy",
    "StepTimer",
    "TelemetryRecord",
    "TelemetryWriter",
    "TextLimits",
    "TokenUsage",
    "get_default_writer",
    "persist_telemetry",
]

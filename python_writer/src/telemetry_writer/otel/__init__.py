"""OpenTelemetry in: a backend traced with GenAI spans writes its telemetry rows with no
other code than one span processor (`pip install "telemetry-writer[otel]"`).

    from opentelemetry.sdk.trace import TracerProvider
    from telemetry_writer.otel import TelemetrySpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(TelemetrySpanProcessor(writer))  # writer=None: the default

The convention it reads (the request span, step spans, model-call spans) is in the writer's
README, "OpenTelemetry". This subpackage is the only part of telemetry_writer that imports
OpenTelemetry: the core writer works without it installed.
"""

from __future__ import annotations

try:
    from opentelemetry.sdk.trace import SpanProcessor as _SpanProcessor  # noqa: F401
except ImportError as error:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        'telemetry_writer.otel needs the OpenTelemetry SDK: pip install "telemetry-writer[otel]"'
    ) from error

from telemetry_writer.otel.fold import fold
from telemetry_writer.otel.processor import TelemetrySpanProcessor

__all__ = ["TelemetrySpanProcessor", "fold"]

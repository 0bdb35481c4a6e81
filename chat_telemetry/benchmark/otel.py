"""What TelemetrySpanProcessor costs the thread that ends a span: `make bench-otel`.

A traced backend pays for the processor in its own threads, in `on_start` and `on_end` (the
SDK calls them synchronously). This runs real SDK spans through a TracerProvider whose only
processor is a timing shim around TelemetrySpanProcessor, and reports the median cost per
call, less the shim's own cost (measured around a processor that does nothing), for:

- a span of no request (a health check, an HTTP client span): passed over;
- a span of a request that ends before it (a step, a model call): held;
- the request span's end: the fold of its spans into one record and `persist`.

The writer behind the processor has nowhere to write (its thread fails to connect and backs
off), so what is measured is the caller's side only, as for `persist` in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.trace import Tracer
from telemetry_writer import TelemetryWriter
from telemetry_writer.otel import TelemetrySpanProcessor

_NOWHERE = "host=/nonexistent/socket/dir dbname=none connect_timeout=2"
_CALL: dict[str, str | int] = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4.1-mini",
    "gen_ai.response.model": "gpt-4.1-mini-2025-04-14",
    "gen_ai.response.id": "chatcmpl-BfJ3kq0ZtW8Xh2cN6yVd1mR4sLpQa",
    "gen_ai.usage.input_tokens": 1873,
    "gen_ai.usage.output_tokens": 41,
    "gen_ai.usage.cache_read.input_tokens": 1664,
    "openai.response.service_tier": "default",
    "server.address": "api.openai.com",
}


class _Timed(SpanProcessor):
    """Forwards to `inner` and adds up the nanoseconds of each call, by kind of span."""

    def __init__(self, inner: SpanProcessor) -> None:
        self.inner = inner
        self.ns: dict[str, list[int]] = {}
        self.kind = "other"

    def _add(self, key: str, elapsed: int) -> None:
        self.ns.setdefault(key, []).append(elapsed)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        started = time.perf_counter_ns()
        self.inner.on_start(span, parent_context)
        self._add(f"{self.kind}.on_start", time.perf_counter_ns() - started)

    def on_end(self, span: ReadableSpan) -> None:
        started = time.perf_counter_ns()
        self.inner.on_end(span)
        self._add(f"{self.kind}.on_end", time.perf_counter_ns() - started)


def _one_request(tracer: Tracer, timed: _Timed) -> None:
    """A request as the README's example traces it: three steps, two model calls, and a
    span of no request (a health check) for comparison."""
    timed.kind = "no_request"
    tracer.start_span("GET /health").end()
    timed.kind = "request"
    attributes = {
        "chat_telemetry.user_id": str(uuid.uuid4()),
        "chat_telemetry.user_question": "How many orders per day this week?",
    }
    with tracer.start_as_current_span("chat request", attributes=attributes) as request:
        timed.kind = "in_request"
        for step in ("nl_to_sql", "sql_execution", "response_generation"):
            with tracer.start_as_current_span(step, attributes={"chat_telemetry.step": step}):
                if step != "sql_execution":
                    tracer.start_span("chat gpt-4.1-mini", attributes=_CALL).end()
        request.set_attribute("chat_telemetry.generated_sql", "select 1")
        timed.kind = "request"


def _measure(inner: SpanProcessor, requests: int) -> dict[str, float]:
    provider = TracerProvider()
    timed = _Timed(inner)
    provider.add_span_processor(timed)
    tracer = provider.get_tracer("bench")
    for _ in range(requests):
        _one_request(tracer, timed)
    # No provider.shutdown(): it would flush a writer that has nowhere to write.
    return {key: float(statistics.median(values)) for key, values in timed.ns.items()}


def run(requests: int, rounds: int) -> dict[str, Any]:
    writer = TelemetryWriter(_NOWHERE, max_queue_size=10**7, max_queue_bytes=2**34)
    results: dict[str, list[float]] = {}
    for _ in range(rounds):
        baseline = _measure(SpanProcessor(), requests)
        measured = _measure(TelemetrySpanProcessor(writer), requests)
        for key, value in measured.items():
            results.setdefault(key, []).append(max(0.0, value - baseline[key]))
    writer.close(0)
    return {
        "requests_per_round": requests,
        "rounds": rounds,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "ns_per_call_median": {key: statistics.median(v) for key, v in sorted(results.items())},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--output", type=Path, default=Path("bench/otel.json"))
    args = parser.parse_args(argv)
    result = run(args.requests, args.rounds)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    labels = {
        "no_request.on_start": "span of no request, on_start",
        "no_request.on_end": "span of no request, on_end",
        "in_request.on_start": "span of a request (step, model call), on_start",
        "in_request.on_end": "span of a request (step, model call), on_end",
        "request.on_start": "request span, on_start",
        "request.on_end": "request span, on_end (fold 5 spans + persist)",
    }
    print(f"TelemetrySpanProcessor, caller's side, median of {args.rounds} rounds")
    print(f"({args.requests} requests each, the timing shim's own cost subtracted)")
    for key, label in labels.items():
        value = result["ns_per_call_median"].get(key)
        if value is not None:
            print(f"  {label:<52} {value / 1000:8.2f} µs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""One request span and the spans below it, folded into one TelemetryRecord.

A pure function of ended spans (no processor state, no I/O), so it is tested and reasoned
about on its own; the processor calls it in the thread that ended the request span. The
rules are the README's "OpenTelemetry" section; where a rule mirrors `track_request` (step
durations, the step -> error mapping, how an error message is cut), it uses the same tables
so the two ways of writing a row cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from telemetry_writer.otel import conventions as names
from telemetry_writer.record import RECORD_FIELDS, TelemetryRecord
from telemetry_writer.request import _ERROR_MESSAGE_LIMIT
from telemetry_writer.timing import STEP_COLUMNS, STEP_ERROR_TYPE, STEP_FAILED_STEP

# The record fields a request span may set as `chat_telemetry.<field>`: every one but those
# the span itself gives (its start is created_at) and user_id, which marks the span.
_SPAN_FIELDS = tuple(
    (names.PREFIX + field, field) for field in RECORD_FIELDS if field != "created_at"
)
# Model-call columns per step: (model, input, output, cached, cache write, service tier).
_STEP_CALL_COLUMNS = {
    "nl_to_sql": (
        "sql_model",
        "sql_input_tokens",
        "sql_output_tokens",
        "sql_cached_tokens",
        "sql_cache_write_tokens",
        "sql_service_tier",
    ),
    "response_generation": (
        "response_model",
        "response_input_tokens",
        "response_output_tokens",
        "response_cached_tokens",
        "response_cache_write_tokens",
        "response_service_tier",
    ),
}


@dataclass(frozen=True)
class _Call:
    """What one model call reported; None where the instrumentation reported nothing."""

    end_time: int
    model: str | None
    input_tokens: int | None
    output_tokens: int | None
    cached_tokens: int | None
    cache_write_tokens: int | None
    service_tier: str | None
    response_id: str | None

    @property
    def has_usage(self) -> bool:
        return self.input_tokens is not None or self.output_tokens is not None


def fold(request_span: ReadableSpan, spans: Iterable[ReadableSpan]) -> TelemetryRecord:
    """The record of `request_span`, from it and `spans` (its descendants that ended before
    it). Values the spans carry are taken as they are: the writer repairs what it must."""
    # Plain dicts, read once: an SDK span's attributes are a Python mapping behind a proxy, and
    # a fold reads some 70 of them (this halves the fold's time).
    attributes = dict(request_span.attributes or {})
    below = {span.context.span_id: span for span in spans if span.context is not None}
    attrs = {span_id: dict(span.attributes or {}) for span_id, span in below.items()}
    steps = _step_of_each(request_span, below, attrs)
    values: dict[str, Any] = {
        "user_id": attributes.get(names.USER_ID),
        "user_question": attributes.get(names.PREFIX + "user_question"),
        "created_at": _utc(request_span.start_time),
    }
    conversation = attributes.get(names.CONVERSATION_ID)
    if conversation is not None:
        values["conversation_id"] = conversation
    values.update(_durations(below, attrs))
    ttfb = _first_byte_ms(request_span)
    if ttfb is not None:
        values["ttfb_ms"] = ttfb
    values.update(_model_calls(below, attrs, steps))
    values.update(_failure(request_span, below, attrs, attributes))
    for attribute, field in _SPAN_FIELDS:  # what the request span says itself wins
        value = attributes.get(attribute)
        if value is not None:
            values[field] = list(value) if isinstance(value, tuple) else value
    return TelemetryRecord(**values)


def _utc(nanoseconds: int | None) -> datetime:
    if nanoseconds is None:
        return datetime.now(timezone.utc)
    return datetime.fromtimestamp(nanoseconds / 1e9, tz=timezone.utc)


def _step_of_each(
    request_span: ReadableSpan,
    below: Mapping[int, ReadableSpan],
    attrs: Mapping[int, Mapping[str, Any]],
) -> dict[int, str]:
    """Span id -> the step it is in: its own `chat_telemetry.step`, else its nearest step
    ancestor's (below the request span). Spans in no step are left out."""
    request_id = request_span.context.span_id if request_span.context else None
    memo: dict[int, str | None] = {}

    def step_of(span_id: int) -> str | None:
        path: list[int] = []
        found: str | None = None
        current: int | None = span_id
        while current is not None and current != request_id and current in below:
            if current in memo:
                found = memo[current]
                break
            path.append(current)
            step = _step_name(attrs[current])
            if step is not None:
                found = step
                break
            parent = below[current].parent
            current = parent.span_id if parent is not None else None
        for visited in path:
            memo[visited] = found
        return found

    steps = {span_id: step_of(span_id) for span_id in below}
    return {span_id: step for span_id, step in steps.items() if step is not None}


def _step_name(attributes: Mapping[str, Any]) -> str | None:
    step = attributes.get(names.STEP)
    return step if isinstance(step, str) and step in STEP_COLUMNS else None


def _duration_ms(span: ReadableSpan) -> int:
    if span.start_time is None or span.end_time is None:
        return 0
    return max(0, span.end_time - span.start_time) // 1_000_000


def _durations(
    below: Mapping[int, ReadableSpan], attrs: Mapping[int, Mapping[str, Any]]
) -> dict[str, int]:
    """`*_duration_ms`: the step spans' durations, added per step (as StepTimer adds a step
    that runs twice)."""
    columns: dict[str, int] = {}
    for span_id, span in below.items():
        step = _step_name(attrs[span_id])
        if step is not None:
            column = STEP_COLUMNS[step]
            columns[column] = columns.get(column, 0) + _duration_ms(span)
    return columns


def _first_byte_ms(request_span: ReadableSpan) -> int | None:
    if request_span.start_time is None:
        return None
    for event in request_span.events:
        if event.name == names.FIRST_BYTE_EVENT:
            return max(0, event.timestamp - request_span.start_time) // 1_000_000
    return None


def _first(attributes: Mapping[str, Any], keys: Sequence[str]) -> Any:
    for key in keys:
        value = attributes.get(key)
        if value is not None:
            return value
    return None


def _count(attributes: Mapping[str, Any], keys: Sequence[str]) -> int | None:
    value = _first(attributes, keys)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _model_call(span: ReadableSpan, attributes: Mapping[str, Any]) -> _Call | None:
    """The call a span reports, if it is a chat model call (GenAI or OpenInference LLM)."""
    model = _text(_first(attributes, names.MODEL))
    if model is None:  # most spans of a step (the step itself, tools, HTTP): cheapest first
        return None
    if attributes.get(names.OPERATION_NAME) in names.NOT_MODEL_CALLS:
        return None
    if attributes.get(names.OPENINFERENCE_SPAN_KIND) not in (None, "LLM"):
        return None
    return _Call(
        end_time=span.end_time or 0,
        model=model,
        input_tokens=_count(attributes, names.INPUT_TOKENS),
        output_tokens=_count(attributes, names.OUTPUT_TOKENS),
        cached_tokens=_count(attributes, names.CACHED_TOKENS),
        cache_write_tokens=_count(attributes, names.CACHE_WRITE_TOKENS),
        service_tier=_text(_first(attributes, names.SERVICE_TIER)),
        response_id=_text(attributes.get(names.RESPONSE_ID)),
    )


def _sum(values: Sequence[int | None]) -> int | None:
    """Known only when every call that reported usage reported this count: a count one call
    did not report is unknown (NULL), never 0."""
    if not values or any(value is None for value in values):
        return None
    return sum(value for value in values if value is not None)


def _model_calls(
    below: Mapping[int, ReadableSpan],
    attrs: Mapping[int, Mapping[str, Any]],
    steps: Mapping[int, str],
) -> dict[str, Any]:
    """Models, tokens, tiers and the response id of the model calls in the two model steps.
    Several calls in one step (a retry) add their tokens; the model, the tier and the
    response id are the last call's. A call that reported no usage (one that failed) adds
    nothing and leaves no count unknown."""
    calls: dict[str, list[_Call]] = {step: [] for step in _STEP_CALL_COLUMNS}
    for span_id, span in below.items():
        step = steps.get(span_id)
        if step not in calls:
            continue
        call = _model_call(span, attrs[span_id])
        if call is not None:
            calls[step].append(call)
    values: dict[str, Any] = {}
    for step, step_calls in calls.items():
        if not step_calls:
            continue
        step_calls.sort(key=lambda call: call.end_time)
        last = step_calls[-1]
        billed = [call for call in step_calls if call.has_usage]
        model, inputs, outputs, cached, cache_writes, tier = _STEP_CALL_COLUMNS[step]
        values[model] = last.model
        values[tier] = last.service_tier
        if billed:
            values[inputs] = _sum([call.input_tokens for call in billed])
            values[outputs] = _sum([call.output_tokens for call in billed])
            values[cached] = _sum([call.cached_tokens for call in billed])
            values[cache_writes] = _sum([call.cache_write_tokens for call in billed])
        if step == "response_generation" and last.response_id is not None:
            values["response_id"] = last.response_id
    return values


def _failure(
    request_span: ReadableSpan,
    below: Mapping[int, ReadableSpan],
    attrs: Mapping[int, Mapping[str, Any]],
    attributes: Mapping[str, Any],
) -> dict[str, Any]:
    """error_type, failed_step and error_message of a request span with status ERROR, from
    the step span that failed first (the innermost, as an exception ends it first), mapped
    as `track_request` maps a step that raised."""
    if request_span.status.status_code is not StatusCode.ERROR:
        return {}
    failed = [
        (span.end_time or 0, step, span)
        for span_id, span in below.items()
        if (step := _step_name(attrs[span_id])) is not None
        and span.status.status_code is StatusCode.ERROR
    ]
    failed.sort(key=lambda found: found[0])
    _, step, failed_span = failed[0] if failed else (0, None, None)
    values: dict[str, Any] = {}
    if attributes.get(names.PREFIX + "error_type") is None:
        values["error_type"] = STEP_ERROR_TYPE[step] if step is not None else "unexpected"
    if step is not None:
        values["failed_step"] = STEP_FAILED_STEP[step]
    message = _error_text(request_span)
    if message is None and failed_span is not None:
        message = _error_text(failed_span)
    if message is not None:
        values["error_message"] = message[:_ERROR_MESSAGE_LIMIT]
    return values


def _error_text(span: ReadableSpan) -> str | None:
    """The status description (the SDK writes `Type: message` there when a span ends on an
    exception), else the last exception event's type and message."""
    if span.status.description:
        return span.status.description
    for event in reversed(span.events):
        if event.name != "exception" or not event.attributes:
            continue
        kind = event.attributes.get("exception.type")
        message = event.attributes.get("exception.message")
        if kind and message:
            return f"{kind}: {message}"
        if kind or message:
            return str(kind or message)
    return None

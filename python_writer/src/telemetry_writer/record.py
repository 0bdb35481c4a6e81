"""The record the chat backend fills in: one per chat request, one row of telemetry."""

from __future__ import annotations

import operator
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from typing import Any, Literal, get_args

from telemetry_writer.usage import TokenUsage

# The values the table's check constraints allow. Anything else is repaired by the writer
# (see the README), so a type checker flags a typo while the running app loses nothing.
ErrorType = Literal[
    "sql_generation", "sql_validation", "sql_execution", "response_generation", "unexpected"
]
FailedStep = Literal["understanding", "looking_up", "response"]
ERROR_TYPES: frozenset[str] = frozenset(get_args(ErrorType))
FAILED_STEPS: frozenset[str] = frozenset(get_args(FailedStep))


def _now_utc() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(kw_only=True)
class TelemetryRecord:
    """The columns of `public.chat_telemetry_log` except `log_id` and `sql_fingerprint`.

    `created_at` defaults to the moment the record is made: the time of the chat request, which
    is what reports need, even when the row reaches the database later (after an outage).
    Values are repaired by the writer where they can be (see the README); only a record with
    no valid `user_id` or no question is dropped. Fields are keyword-only: with 30 columns,
    a positional argument in the wrong place would be a silent data error.
    """

    user_id: uuid.UUID | str
    user_question: str
    conversation_id: uuid.UUID | str | None = None
    response_id: str | None = None
    created_at: datetime = field(default_factory=_now_utc)
    ai_response: str | None = None
    generated_sql: str | None = None
    result_row_count: int | None = None
    follow_up_suggestions: list[str] | None = None
    error_type: ErrorType | None = None
    error_message: str | None = None
    failed_step: FailedStep | None = None
    is_off_topic: bool = False
    sql_model: str | None = None
    response_model: str | None = None
    nl_to_sql_duration_ms: int | None = None
    sql_execution_duration_ms: int | None = None
    response_generation_duration_ms: int | None = None
    ttfb_ms: int | None = None
    sql_input_tokens: int | None = None
    sql_output_tokens: int | None = None
    sql_cached_tokens: int | None = None
    response_input_tokens: int | None = None
    response_output_tokens: int | None = None
    response_cached_tokens: int | None = None
    # Billing modes (columns 28-31): the tier that served the call, as the response reported it
    # (`default`, `flex`, `priority`, `fast`, ...; None is read as `default`), and the input
    # tokens written to the prompt cache (part of the input tokens, like cached ones).
    sql_service_tier: str | None = None
    response_service_tier: str | None = None
    sql_cache_write_tokens: int | None = None
    response_cache_write_tokens: int | None = None

    def set_sql_usage(self, usage: Any, service_tier: Any = None) -> None:
        """Fill the NL-to-SQL step's tokens from an OpenAI usage object or dict, and the tier
        that served it from the response's `service_tier` (the served tier, not the one asked
        for: pass `response.service_tier`)."""
        tokens = TokenUsage.from_openai(usage)
        self.sql_input_tokens = tokens.input_tokens
        self.sql_output_tokens = tokens.output_tokens
        self.sql_cached_tokens = tokens.cached_tokens
        self.sql_cache_write_tokens = tokens.cache_write_tokens
        self.sql_service_tier = _tier_text(service_tier)

    def set_response_usage(self, usage: Any, service_tier: Any = None) -> None:
        """Fill the response step's tokens from an OpenAI usage object or dict, and the tier
        that served it from the response's `service_tier`."""
        tokens = TokenUsage.from_openai(usage)
        self.response_input_tokens = tokens.input_tokens
        self.response_output_tokens = tokens.output_tokens
        self.response_cached_tokens = tokens.cached_tokens
        self.response_cache_write_tokens = tokens.cache_write_tokens
        self.response_service_tier = _tier_text(service_tier)


def _tier_text(service_tier: Any) -> str | None:
    """The tier as text: SDKs hand it over as a str, a str enum or None."""
    if service_tier is None:
        return None
    value = getattr(service_tier, "value", service_tier)
    return value if isinstance(value, str) else str(value)


RECORD_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(TelemetryRecord))
# One C-level call that reads every field in order: the cheapest snapshot there is.
_read_fields = operator.attrgetter(*RECORD_FIELDS)


def snapshot(record: Any) -> tuple[Any, ...] | None:
    """The record's values in `RECORD_FIELDS` order, taken in the caller's thread.

    A tuple is cheap to take and cannot change under the writer's thread if the caller keeps
    using its record. A mapping with the same keys is accepted too. Anything else gives None.
    """
    if isinstance(record, TelemetryRecord):
        return _read_fields(record)
    if isinstance(record, Mapping):
        values = tuple(record.get(name) for name in RECORD_FIELDS)
        if "created_at" not in record:
            values = (*values[:4], _now_utc(), *values[5:])
        return values
    return None

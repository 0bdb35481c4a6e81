"""Turn a record snapshot into a row the table accepts, repairing what can be repaired.

Every repair is counted by reason, so that a dashboard can show how dirty the input is. Only
two things make a record unusable: no valid `user_id` UUID and no question. Everything else
has a documented repair, so a valid request is never lost to one odd field.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import lru_cache
from typing import Any

from telemetry_writer.record import ERROR_TYPES, FAILED_STEPS, RECORD_FIELDS

INT32_MAX = 2_147_483_647
_SURROGATES = re.compile("[\ud800-\udfff]")
_INDEX = {name: position for position, name in enumerate(RECORD_FIELDS)}
_USER_ID = _INDEX["user_id"]
_QUESTION = _INDEX["user_question"]
_CONVERSATION_ID = _INDEX["conversation_id"]
_CREATED_AT = _INDEX["created_at"]
_FOLLOW_UPS = _INDEX["follow_up_suggestions"]
_OFF_TOPIC = _INDEX["is_off_topic"]
_ERROR_TYPE = _INDEX["error_type"]
_ERROR_MESSAGE = _INDEX["error_message"]
_FAILED_STEP = _INDEX["failed_step"]
_CACHED_PAIRS = (
    (_INDEX["sql_input_tokens"], _INDEX["sql_cached_tokens"], _INDEX["sql_cache_write_tokens"]),
    (
        _INDEX["response_input_tokens"],
        _INDEX["response_cached_tokens"],
        _INDEX["response_cache_write_tokens"],
    ),
)

# The row written by COPY: a client-made log_id (so a retried batch whose commit was lost is
# recognised instead of duplicated), then the record's fields. sql_fingerprint is the trigger's.
COPY_COLUMNS: tuple[str, ...] = ("log_id", *RECORD_FIELDS)

TEXT_FIELDS = (
    "user_question",
    "response_id",
    "ai_response",
    "generated_sql",
    "error_message",
    "sql_model",
    "response_model",
    "sql_service_tier",
    "response_service_tier",
)
COUNT_FIELDS = (
    "result_row_count",
    "nl_to_sql_duration_ms",
    "sql_execution_duration_ms",
    "response_generation_duration_ms",
    "ttfb_ms",
    "sql_input_tokens",
    "sql_output_tokens",
    "sql_cached_tokens",
    "response_input_tokens",
    "response_output_tokens",
    "response_cached_tokens",
    "sql_cache_write_tokens",
    "response_cache_write_tokens",
)


@dataclass(frozen=True)
class TextLimits:
    """Longest text kept per field, in characters; longer text is cut and marked."""

    user_question: int = 20_000
    ai_response: int = 100_000
    generated_sql: int = 100_000
    error_message: int = 10_000
    response_id: int = 256
    sql_model: int = 200
    response_model: int = 200
    sql_service_tier: int = 64
    response_service_tier: int = 64
    follow_up_suggestion: int = 2_000
    follow_up_suggestions_count: int = 50

    def for_field(self, name: str) -> int:
        return int(getattr(self, name))


TRUNCATION_MARKER = "…[truncated {dropped} chars]"


class InvalidRecord(Exception):
    """The record cannot be repaired: it is dropped and counted as `invalid`."""


def _clean_text(value: str, repairs: Counter[str]) -> str:
    if "\x00" in value:
        value = value.replace("\x00", "")
        repairs["nul_bytes_removed"] += 1
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = _SURROGATES.sub("\ufffd", value)
        repairs["lone_surrogates_replaced"] += 1
    return value


def truncate(value: str, limit: int, repairs: Counter[str]) -> str:
    """`value` cut to `limit` characters, ending in a marker that says how much was cut."""
    if len(value) <= limit:
        return value
    marker = TRUNCATION_MARKER.format(dropped=len(value) - limit)
    repairs["text_truncated"] += 1
    return value[: max(limit - len(marker), 0)] + marker


def _as_text(value: Any, repairs: Counter[str]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        repairs["text_coerced"] += 1
        try:
            value = str(value)
        except Exception:
            value = object.__repr__(value)
    return _clean_text(value, repairs)


def _as_count(value: Any, repairs: Counter[str]) -> int | None:
    """A non-negative 32-bit integer, else None (counted)."""
    if value is None:
        return None
    number: int | None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and math.isfinite(value):
        number = round(value)
        repairs["number_rounded"] += 1
    else:
        number = None
    if number is None:
        repairs["not_a_number_nulled"] += 1
        return None
    if number < 0:
        repairs["negative_nulled"] += 1
        return None
    if number > INT32_MAX:
        repairs["out_of_range_nulled"] += 1
        return None
    return number


def _as_uuid(value: Any) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            return None
    return None


def _as_created_at(value: Any, repairs: Counter[str]) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            repairs["naive_time_as_utc"] += 1
            return value.replace(tzinfo=timezone.utc)
        return value
    if isinstance(value, str):
        try:
            return _as_created_at(datetime.fromisoformat(value), repairs)
        except ValueError:
            pass
    if isinstance(value, date):
        repairs["naive_time_as_utc"] += 1
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    repairs["created_at_replaced"] += 1
    return datetime.now(timezone.utc)


def _as_follow_ups(value: Any, limits: TextLimits, repairs: Counter[str]) -> str | None:
    """A JSON array of strings (as JSON text), whatever shape the suggestions came in."""
    if value is None:
        return None
    if (
        type(value) is list
        and len(value) <= limits.follow_up_suggestions_count
        and all(
            type(item) is str
            and item.isascii()
            and "\x00" not in item
            and len(item) <= limits.follow_up_suggestion
            for item in value
        )
    ):
        return json.dumps(value)
    items: list[Any]
    coerced = False
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        items = parsed if isinstance(parsed, list) else [value]
        coerced = True
    elif isinstance(value, (list, tuple)):
        items = list(value)
    elif isinstance(value, dict):
        items = list(value.values())
        coerced = True
    else:
        items = [value]
        coerced = True
    strings: list[str] = []
    for item in items[: limits.follow_up_suggestions_count]:
        if item is None:
            coerced = True
            continue
        if not isinstance(item, str):
            coerced = True
            try:
                item = json.dumps(item, default=str, ensure_ascii=False)
            except (TypeError, ValueError):
                item = str(item)
        item = _clean_text(item, repairs)
        strings.append(truncate(item, limits.follow_up_suggestion, repairs))
    if len(items) > limits.follow_up_suggestions_count:
        repairs["text_truncated"] += 1
    if coerced:
        repairs["follow_ups_coerced"] += 1
    return json.dumps(strings, ensure_ascii=False)


@lru_cache(maxsize=16)
def _field_plan(limits: TextLimits) -> tuple[tuple[tuple[int, int], ...], tuple[int, ...]]:
    """Positions (and text limits) of the fields, computed once per TextLimits."""
    texts = tuple((_INDEX[name], limits.for_field(name)) for name in TEXT_FIELDS)
    counts = tuple(_INDEX[name] for name in COUNT_FIELDS)
    return texts, counts


# A private generator seeded from os.urandom: an application that seeds the global `random`
# (tests, simulations) must never make two processes, or two runs, draw the same log ids.
_log_id_random = random.Random()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_log_id_random.seed)


def new_log_id() -> uuid.UUID:
    """A version-4 UUID from 122 random bits: as unique as uuid4(), without a system call."""
    return uuid.UUID(int=_log_id_random.getrandbits(128), version=4)


_SNAPSHOT_FOLLOW_UPS: Any = object()


def repair(
    values: tuple[Any, ...],
    limits: TextLimits,
    repairs: Counter[str],
    follow_ups: Any = _SNAPSHOT_FOLLOW_UPS,
) -> tuple[Any, ...]:
    """The COPY row for one record snapshot; raises InvalidRecord when it cannot be kept.

    `follow_ups`, when given, replaces the snapshot's suggestions (the copy `persist` took).
    Clean values take a fast path (a type check and a scan for NUL or non-ASCII); only dirty
    ones go through the helpers that repair and count.
    """
    user_id = _as_uuid(values[_USER_ID])
    if user_id is None:
        raise InvalidRecord("user_id is not a UUID")
    row = list(values)
    row[_USER_ID] = user_id
    question = _as_text(values[_QUESTION], repairs)
    if not question:
        raise InvalidRecord("user_question is missing")
    row[_QUESTION] = question

    text_plan, count_plan = _field_plan(limits)
    for position, limit in text_plan:
        value = row[position]
        if value is None:
            continue
        if not (type(value) is str and value.isascii() and "\x00" not in value):
            value = _as_text(value, repairs)
        row[position] = value if len(value) <= limit else truncate(value, limit, repairs)
    for position in count_plan:
        value = row[position]
        if value is not None and not (type(value) is int and 0 <= value <= INT32_MAX):
            row[position] = _as_count(value, repairs)

    raw_conversation = row[_CONVERSATION_ID]
    if raw_conversation is not None and type(raw_conversation) is not uuid.UUID:
        row[_CONVERSATION_ID] = _as_uuid(raw_conversation)
        if row[_CONVERSATION_ID] is None:
            repairs["conversation_id_nulled"] += 1

    created_at = row[_CREATED_AT]
    if not (type(created_at) is datetime and created_at.tzinfo is not None):
        row[_CREATED_AT] = _as_created_at(created_at, repairs)

    if follow_ups is _SNAPSHOT_FOLLOW_UPS:
        follow_ups = row[_FOLLOW_UPS]
    row[_FOLLOW_UPS] = _as_follow_ups(follow_ups, limits, repairs)

    off_topic = row[_OFF_TOPIC]
    if type(off_topic) is not bool:
        repairs["boolean_coerced"] += 1
        row[_OFF_TOPIC] = off_topic is not None and bool(_truthy(off_topic))

    for input_at, cached_at, write_at in _CACHED_PAIRS:
        input_tokens, cached, written = row[input_at], row[cached_at], row[write_at]
        if input_tokens is not None and cached is not None and cached > input_tokens:
            row[cached_at] = cached = input_tokens
            repairs["cached_tokens_clamped"] += 1
        # Cache writes are input tokens too, and not cached ones: at most input - cached.
        if input_tokens is not None and written is not None:
            room = input_tokens - (cached or 0)
            if written > room:
                row[write_at] = room
                repairs["cache_write_tokens_clamped"] += 1

    error_type = row[_ERROR_TYPE]
    if error_type is not None and not (isinstance(error_type, str) and error_type in ERROR_TYPES):
        original = truncate(_as_text(error_type, repairs) or "", 200, repairs)
        message = row[_ERROR_MESSAGE]
        note = f"[original error_type: {original}]"
        message = note if not message else f"{note} {message}"
        row[_ERROR_MESSAGE] = truncate(message, limits.error_message, repairs)
        row[_ERROR_TYPE] = "unexpected"
        repairs["error_type_unknown"] += 1

    failed_step = row[_FAILED_STEP]
    if failed_step is not None and not (
        isinstance(failed_step, str) and failed_step in FAILED_STEPS
    ):
        row[_FAILED_STEP] = None
        repairs["failed_step_unknown"] += 1

    return (new_log_id(), *row)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "t", "yes", "y", "on"}
    try:
        return bool(value)
    except Exception:
        return False

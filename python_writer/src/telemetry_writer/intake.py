"""What `persist` does in the caller's thread: take a snapshot that memory bounds can trust.

Three things must happen before a record enters the queue, and cheaply (the caller's p99
budget is a few microseconds):

- text beyond `TextLimits` is cut now, so that a 1 MB answer does not sit in memory during an
  outage only to be cut later;
- the follow-up list is copied, so a caller who mutates it after `persist` cannot change the
  stored row;
- the record's size is estimated, for `max_queue_bytes`.

Clean, short values take the fast path: a type check and `len` per text field.
"""

from __future__ import annotations

import sys
from collections import Counter
from functools import lru_cache
from typing import Any

from telemetry_writer.record import RECORD_FIELDS
from telemetry_writer.repair import TEXT_FIELDS, TextLimits, truncate

# A snapshot tuple of 26 fields with its UUIDs, datetime and small ints, and the repaired
# row the worker builds from it, measured with sys.getsizeof on CPython 3.11: about 1.3 kB.
RECORD_OVERHEAD_BYTES = 1_500
# Strings up to this length are counted as one byte a character (the common ASCII case);
# longer ones by their real size, which is up to four bytes a character.
_EXACT_SIZE_FROM = 256
_FOLLOW_UPS = RECORD_FIELDS.index("follow_up_suggestions")


@lru_cache(maxsize=16)
def _text_plan(limits: TextLimits) -> tuple[tuple[int, int], ...]:
    return tuple((RECORD_FIELDS.index(name), limits.for_field(name)) for name in TEXT_FIELDS)


def admit(
    values: tuple[Any, ...], limits: TextLimits
) -> tuple[tuple[Any, ...], int, Counter[str] | None]:
    """(values with long text cut and lists copied, estimated bytes, repairs made here)."""
    size = RECORD_OVERHEAD_BYTES
    changed: list[Any] | None = None
    repairs: Counter[str] | None = None
    for position, limit in _text_plan(limits):
        value = values[position]
        if type(value) is not str:
            if value is not None:
                size += 64  # repaired into text later; never large enough to matter
            continue
        length = len(value)
        if length > limit:
            if changed is None:
                changed = list(values)
            if repairs is None:
                repairs = Counter()
            value = truncate(value, limit, repairs)
            changed[position] = value
            length = len(value)
        size += length if length < _EXACT_SIZE_FROM else sys.getsizeof(value)
    follow_ups = values[_FOLLOW_UPS]
    if follow_ups is not None and not isinstance(follow_ups, (str, int, float, bool)):
        if repairs is None:
            repairs = Counter()
        copied, follow_size = _copy_follow_ups(follow_ups, limits, repairs)
        if changed is None:
            changed = list(values)
        changed[_FOLLOW_UPS] = copied
        size += follow_size
    elif type(follow_ups) is str:
        size += len(follow_ups)
    if repairs is not None and not repairs:
        repairs = None
    return (values if changed is None else tuple(changed)), size, repairs


def _copy_follow_ups(value: Any, limits: TextLimits, repairs: Counter[str]) -> tuple[Any, int]:
    """A shallow copy of the suggestions (strings are immutable; lists and dicts are not),
    with long items cut now; one item over the count limit is kept so that the worker's
    repair still sees, cuts and counts the overflow."""
    keep = limits.follow_up_suggestions_count + 1
    try:
        if isinstance(value, dict):
            copied: Any = dict(list(value.items())[:keep])
            items = list(copied.values())
        elif isinstance(value, (list, tuple)):
            copied = items = list(value[:keep])
        else:
            return value, 64
    except Exception:
        return value, 64
    size = 56 + 8 * len(items)
    for position, item in enumerate(items):
        if type(item) is str:
            if len(item) > limits.follow_up_suggestion:
                item = truncate(item, limits.follow_up_suggestion, repairs)
                if copied is items:
                    items[position] = item
            size += len(item)
        else:
            size += 64
    return copied, size

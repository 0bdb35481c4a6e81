"""What `persist` does in the caller's thread: take a snapshot that memory bounds can trust.

Three things must happen before a record enters the queue, and cheaply (the caller's p99
budget is a few microseconds):

- text beyond `TextLimits` is cut now, so that a 1 MB answer does not sit in memory during an
  outage only to be cut later;
- the follow-up suggestions are copied, so a caller who mutates the list after `persist`
  cannot change the stored row;
- the record's size is estimated, for `max_queue_bytes`.

The common record takes a fast path of C-level calls: its text fields are joined (one copy of
a few kB) to learn their total length and real size (`sys.getsizeof` counts 1, 2 or 4 bytes
a character); when that total is within the smallest long limit, nothing needs a closer look.
Anything else (long text, values that are not text) takes the field-by-field path.
"""

from __future__ import annotations

import operator
import sys
from collections import Counter
from dataclasses import dataclass
from typing import Any

from telemetry_writer.record import RECORD_FIELDS
from telemetry_writer.repair import TEXT_FIELDS, TextLimits, truncate

# The snapshot tuple (30 slots, its UUIDs, datetime, ints) and the repaired row the writer
# thread builds from it, measured with sys.getsizeof on CPython 3.11: about 1.3 kB.
RECORD_OVERHEAD_BYTES = 1_500
_FOLLOW_UPS = RECORD_FIELDS.index("follow_up_suggestions")
# Item of the queue: (snapshot, estimated bytes, repairs made at persist, follow-ups to use).
QueueItem = tuple[tuple[Any, ...], int, "Counter[str] | None", Any]
_EMPTY_SIZE = sys.getsizeof("")
_LONG_FROM = 1_000


@dataclass(frozen=True)
class IntakePlan:
    """What `admit` needs from the limits, computed once per writer."""

    limits: TextLimits
    get_texts: Any  # a C-level getter of every text field, as a tuple
    fast_path_chars: int  # all text up to this many characters: nothing can need a cut
    per_field: tuple[tuple[int, int], ...]

    @classmethod
    def of(cls, limits: TextLimits) -> IntakePlan:
        per_field = tuple(
            (RECORD_FIELDS.index(name), limits.for_field(name)) for name in TEXT_FIELDS
        )
        long_limits = [limit for _, limit in per_field if limit >= _LONG_FROM]
        return cls(
            limits,
            operator.itemgetter(*(position for position, _ in per_field)),
            min(long_limits, default=_LONG_FROM),
            per_field,
        )


def admit(values: tuple[Any, ...], plan: IntakePlan) -> QueueItem:
    """The queue item for a snapshot: long text cut, follow-ups copied, bytes estimated.

    Fast path: all text together within the smallest long limit (question, answer, SQL,
    error: 10k characters). The short fields (response id, model names) are then counted at
    their real size and cut to their own limits by the writer thread, as any repair.
    """
    repairs: Counter[str] | None = None
    try:
        joined: str | None = "".join(filter(None, plan.get_texts(values)))
    except TypeError:  # a field holds something other than text: look at each
        joined = None
    if joined is not None and len(joined) <= plan.fast_path_chars:
        size = RECORD_OVERHEAD_BYTES + sys.getsizeof(joined)
    else:
        values, size, repairs = _admit_text_slowly(values, plan.per_field)
    follow_ups = values[_FOLLOW_UPS]
    if follow_ups is None:
        return values, size, repairs, None
    limits = plan.limits
    if type(follow_ups) is list and len(follow_ups) <= limits.follow_up_suggestions_count:
        try:
            items = "".join(follow_ups)
            if len(items) <= limits.follow_up_suggestion:  # so is every item
                size += 56 + 8 * len(follow_ups) + sys.getsizeof(items)
                return values, size, repairs, follow_ups[:]
        except TypeError:
            pass
    follow_ups, follow_size, repairs = _copy_follow_ups(follow_ups, limits, repairs)
    return values, size + follow_size, repairs, follow_ups


def _admit_text_slowly(
    values: tuple[Any, ...], per_field: tuple[tuple[int, int], ...]
) -> tuple[tuple[Any, ...], int, Counter[str] | None]:
    size = RECORD_OVERHEAD_BYTES
    changed: list[Any] | None = None
    repairs: Counter[str] | None = None
    for position, limit in per_field:
        value = values[position]
        if value is None:
            continue
        if type(value) is not str:
            # Made text now, not in the writer thread: a list or an object whose text is
            # 1 MB must count at its real size and be cut before it is queued.
            if changed is None:
                changed = list(values)
            if repairs is None:
                repairs = Counter()
            value = changed[position] = _as_text(value)
            repairs["text_coerced"] += 1
        if len(value) > limit:
            if changed is None:
                changed = list(values)
            if repairs is None:
                repairs = Counter()
            value = changed[position] = truncate(value, limit, repairs)
        size += sys.getsizeof(value) - _EMPTY_SIZE
    return (values if changed is None else tuple(changed)), size, repairs


def _as_text(value: Any) -> str:
    try:
        return str(value)
    except Exception:
        return object.__repr__(value)


def _copy_follow_ups(
    value: Any, limits: TextLimits, repairs: Counter[str] | None
) -> tuple[Any, int, Counter[str] | None]:
    """A shallow copy of the suggestions (strings are immutable; lists and dicts are not),
    with long items cut now, its size, and the repairs so far. One item over the count limit
    is kept so that the writer thread's repair still sees and counts the overflow."""
    item_limit = limits.follow_up_suggestion
    if type(value) is str:  # JSON text or one suggestion: parsed by the writer thread
        total_limit = item_limit * limits.follow_up_suggestions_count
        if len(value) > total_limit:
            repairs = repairs if repairs is not None else Counter()
            value = truncate(value, total_limit, repairs)
        return value, sys.getsizeof(value), repairs
    keep = limits.follow_up_suggestions_count + 1
    if type(value) is list:  # the usual shape: a slice is already a copy
        items: list[Any] = value[:keep]
        try:
            joined = "".join(items)
            if len(joined) <= item_limit:
                return items, 56 + 8 * len(items) + sys.getsizeof(joined) - _EMPTY_SIZE, repairs
        except TypeError:
            pass
        return _copy_items(items, item_limit, repairs)
    try:
        if isinstance(value, dict):
            copied = dict(list(value.items())[:keep])  # odd shape: made text by the thread
            return copied, 64 * len(copied), repairs
        if not isinstance(value, (list, tuple)):
            return value, 64, repairs  # a number or an odd object: made into text later
        items = list(value[:keep])
    except Exception:
        return value, 64, repairs
    return _copy_items(items, item_limit, repairs)


def _copy_items(
    items: list[Any], item_limit: int, repairs: Counter[str] | None
) -> tuple[Any, int, Counter[str] | None]:
    size = 56 + 8 * len(items)
    for position, item in enumerate(items):
        if type(item) is str:
            if len(item) > item_limit:
                repairs = repairs if repairs is not None else Counter()
                item = items[position] = truncate(item, item_limit, repairs)
            size += sys.getsizeof(item)
        else:
            size += 64
    return items, size, repairs

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
a character), and when every field is under the smallest limit of its group nothing needs a
closer look. Anything else (long text, non-text values) takes the field-by-field path.
"""

from __future__ import annotations

import operator
import sys
from collections import Counter
from dataclasses import dataclass
from typing import Any

from telemetry_writer.record import RECORD_FIELDS
from telemetry_writer.repair import TEXT_FIELDS, TextLimits, truncate

# The snapshot tuple (26 slots, its UUIDs, datetime, ints) and the repaired row the writer
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
    get_long_texts: Any  # question, answer, SQL, error message: limits of 10k chars and up
    shortest_long_limit: int
    get_short_texts: Any  # response id and model names: limits of about 200 chars
    shortest_short_limit: int
    per_field: tuple[tuple[int, int], ...]

    @classmethod
    def of(cls, limits: TextLimits) -> IntakePlan:
        per_field = tuple(
            (RECORD_FIELDS.index(name), limits.for_field(name)) for name in TEXT_FIELDS
        )
        long_fields = [(at, limit) for at, limit in per_field if limit >= _LONG_FROM]
        short_fields = [(at, limit) for at, limit in per_field if limit < _LONG_FROM]
        return cls(
            limits,
            _getter([at for at, _ in long_fields]),
            min((limit for _, limit in long_fields), default=0),
            _getter([at for at, _ in short_fields]),
            min((limit for _, limit in short_fields), default=0),
            per_field,
        )


def _getter(positions: list[int]) -> Any:
    """A C-level getter that always returns a tuple (itemgetter of one returns the item)."""
    if len(positions) == 1:
        single = positions[0]
        return lambda values: (values[single],)
    if not positions:
        return lambda values: ()
    return operator.itemgetter(*positions)


def admit(values: tuple[Any, ...], plan: IntakePlan) -> QueueItem:
    """The queue item for a snapshot: long text cut, follow-ups copied, bytes estimated."""
    repairs: Counter[str] | None = None
    try:
        present = list(filter(None, plan.get_long_texts(values)))
        # Lengths first: a 1 MB answer must not be copied by the join only to be cut after.
        fits = sum(map(len, present)) <= plan.shortest_long_limit
        if fits:
            long_texts = "".join(present)
            short_texts = "".join(filter(None, plan.get_short_texts(values)))
            fits = len(short_texts) <= plan.shortest_short_limit
    except TypeError:  # a field holds something other than text: look at each
        fits = False
    if fits:
        size = (
            RECORD_OVERHEAD_BYTES
            + sys.getsizeof(long_texts)
            + sys.getsizeof(short_texts)
            - 2 * _EMPTY_SIZE
        )
    else:
        values, size, repairs = _admit_text_slowly(values, plan.per_field)
    follow_ups = values[_FOLLOW_UPS]
    if follow_ups is not None:
        follow_ups, follow_size, repairs = _copy_follow_ups(follow_ups, plan.limits, repairs)
        size += follow_size
    return values, size, repairs, follow_ups


def _admit_text_slowly(
    values: tuple[Any, ...], per_field: tuple[tuple[int, int], ...]
) -> tuple[tuple[Any, ...], int, Counter[str] | None]:
    size = RECORD_OVERHEAD_BYTES
    changed: list[Any] | None = None
    repairs: Counter[str] | None = None
    for position, limit in per_field:
        value = values[position]
        if type(value) is not str:
            if value is not None:
                size += 64  # made text by the writer thread; never large
            continue
        if len(value) > limit:
            if changed is None:
                changed = list(values)
            if repairs is None:
                repairs = Counter()
            value = changed[position] = truncate(value, limit, repairs)
        size += sys.getsizeof(value) - _EMPTY_SIZE
    return (values if changed is None else tuple(changed)), size, repairs


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

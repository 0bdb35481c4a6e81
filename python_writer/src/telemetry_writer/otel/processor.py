"""TelemetrySpanProcessor: the spans of a traced backend in, one telemetry row per request out.

Which spans it keeps is decided when each span *starts*, from the span alone: a span with
`chat_telemetry.user_id` opens a request; a span whose parent the processor tracks joins that
parent's request. Every other span (the bulk of a busy service's traces) costs one dict
lookup at start and one at end, and is never held. When the request span ends, it and the
ended spans below it are folded (see `fold`) into one record handed to `persist`, in the
thread that ended it: a few spans of work, no I/O, never an exception.

Memory is bounded like the writer's queue: by a count of spans (tracked, open or ended) and
by an estimate of their bytes; a request that would go past either is dropped whole (a row
with half its tokens would be a wrong row, not a partial one), and a request whose span has
not ended after `timeout_s` is dropped when the next request starts. Both are counted in the
writer's stats (`dropped["otel_bound"]`, `dropped["otel_timeout"]`), the spans they held in
`dropped_spans`. The processor reads spans and never changes them, so other processors and
exporters see exactly what they would without it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections import OrderedDict
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from telemetry_writer.otel import conventions as names
from telemetry_writer.otel.fold import fold
from telemetry_writer.ratelimit import RateLimitedLog
from telemetry_writer.writer import TelemetryWriter

_log = logging.getLogger("telemetry_writer")

# Estimated bytes of a held span beyond its attributes and events: the ReadableSpan object,
# its context, status and the processor's own entries.
_SPAN_OVERHEAD = 600
_VALUE_OVERHEAD = 60


class _Request:
    """The spans of one open request: `started_ids` have started and not yet ended,
    `spans` have ended. `dropped`: a tombstone, kept so that the request's later spans and
    its own end are passed over (and not counted twice) until it ends or times out."""

    __slots__ = ("bytes", "dropped", "span_id", "spans", "started_at", "started_ids")

    def __init__(self, span_id: int, started_at: float) -> None:
        self.span_id = span_id
        self.started_at = started_at
        self.started_ids: set[int] = set()
        self.spans: list[ReadableSpan] = []
        self.bytes = _SPAN_OVERHEAD
        self.dropped = False

    @property
    def held(self) -> int:
        """Spans counted against the bound: the request span, the open and the ended ones."""
        return 1 + len(self.started_ids) + len(self.spans)


class TelemetrySpanProcessor(SpanProcessor):
    """An OpenTelemetry SDK span processor that writes one telemetry row per request span.

        provider.add_span_processor(TelemetrySpanProcessor(writer))  # None: the default writer

    `max_spans` and `max_bytes` bound the spans held for requests still open; `timeout_s` is
    how long a request span may stay open before its request is dropped. `on_start` and
    `on_end` never raise and never block on I/O, like `persist`.
    """

    def __init__(
        self,
        writer: TelemetryWriter | None = None,
        *,
        max_spans: int = 10_000,
        max_bytes: int = 16 * 1024 * 1024,
        timeout_s: float = 300.0,
        log_interval_s: float = 60.0,
    ) -> None:
        self._writer = writer
        self._max_spans = max(1, int(max_spans))
        self._max_bytes = max(1, int(max_bytes))
        self._timeout_s = max(0.0, float(timeout_s))
        self._lock = threading.Lock()
        # span id -> its open request, for every tracked span that has not ended (the request
        # span included). Read without the lock: a dict lookup is atomic, and a stale answer
        # is settled again under the lock.
        self._open: dict[int, _Request] = {}
        self._requests: OrderedDict[int, _Request] = OrderedDict()  # by start, for timeouts
        self._held = 0
        self._held_bytes = 0
        self._shut_down = False
        self._messages = RateLimitedLog(_log, log_interval_s)
        _live_processors.add(self)

    # ----------------------------------------------------------------- the SDK's contract

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            parent = span.parent
            request = self._open.get(parent.span_id) if parent is not None else None
            attributes = span.attributes
            opens = bool(attributes) and names.USER_ID in attributes  # type: ignore[operator]
            if request is None and not opens:
                return  # no request: passed over
            if self._shut_down:
                return
            span_id = span.context.span_id
            with self._lock:
                if opens:
                    self._open_request(span_id)
                elif request is not None and not request.dropped and request.span_id in self._open:
                    self._track(request, span_id)
        except Exception:
            self._messages.exception("otel_on_start", "TelemetrySpanProcessor.on_start failed")

    def on_end(self, span: ReadableSpan) -> None:
        try:
            context = span.context
            if context is None:
                return
            request = self._open.get(context.span_id)
            if request is None:
                attributes = span.attributes
                if attributes and names.USER_ID in attributes and not self._shut_down:
                    self._target().drop_spans("untracked_request")
                    self._messages.warning(
                        "otel_untracked",
                        "a span with chat_telemetry.user_id ended that the processor does not "
                        "hold: set the attribute when the span starts (start_span's "
                        "attributes), or see stats() for dropped requests",
                    )
                return  # no request: passed over
            if request.span_id == context.span_id:
                self._end_request(request, span)
            else:
                self._end_child(request, span)
        except Exception:
            self._messages.exception("otel_on_end", "TelemetrySpanProcessor.on_end failed")

    def shutdown(self) -> None:
        """Stop taking spans, count the requests still open as `shut_down`, and flush the
        writer within its exit timeout. Idempotent; never raises."""
        try:
            with self._lock:
                if self._shut_down:
                    return
                self._shut_down = True
                open_requests = [r for r in self._requests.values() if not r.dropped]
                for request in list(self._requests.values()):
                    self._forget(request)
            writer = self._target()
            for _ in open_requests:
                writer.drop("shut_down")
            writer.flush(writer.exit_timeout_s)
        except Exception:
            self._messages.exception("otel_shutdown", "TelemetrySpanProcessor.shutdown failed")

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flush the writer: True once every row of a request that ended before this call is
        written or dropped. Requests still open are not rows yet and are not waited for."""
        try:
            return self._target().flush(max(0, timeout_millis) / 1000)
        except Exception:
            return False

    def _after_fork_in_child(self) -> None:
        """A fork's child starts with nothing held: the parent's open requests are the
        parent's to finish, and its lock may have been held by a thread that is not here."""
        self._lock = threading.Lock()
        self._open = {}
        self._requests = OrderedDict()
        self._held = 0
        self._held_bytes = 0

    # ----------------------------------------------------------------- reading

    def held(self) -> dict[str, int]:
        """What the processor holds now: open requests (not those already dropped), their
        spans and the spans' estimated bytes."""
        with self._lock:
            return {
                "requests": sum(1 for request in self._requests.values() if not request.dropped),
                "spans": self._held,
                "bytes": self._held_bytes,
            }

    # ----------------------------------------------------------------- under the lock

    def _target(self) -> TelemetryWriter:
        if self._writer is not None:
            return self._writer
        from telemetry_writer.default import get_default_writer

        return get_default_writer()

    def _open_request(self, span_id: int) -> None:
        now = time.monotonic()
        self._expire(now)
        request = _Request(span_id, now)
        self._open[span_id] = request
        self._requests[span_id] = request
        if self._held + 1 > self._max_spans or self._held_bytes + request.bytes > self._max_bytes:
            request.dropped = True  # a tombstone, not held: the bound is on spans kept
            self._target().drop("otel_bound")
            self._messages.warning("otel_bound", "span bound reached: dropped a request")
            return
        self._held += 1
        self._held_bytes += request.bytes

    def _track(self, request: _Request, span_id: int) -> None:
        if self._held + 1 > self._max_spans:
            self._drop(request, "otel_bound", unheld=1)  # this span is not held either
            return
        request.started_ids.add(span_id)
        self._open[span_id] = request
        self._held += 1

    def _end_child(self, request: _Request, span: ReadableSpan) -> None:
        size = _estimate_bytes(span)
        with self._lock:
            span_id = span.context.span_id if span.context else 0
            if request.dropped or span_id not in request.started_ids:
                return
            request.started_ids.discard(span_id)
            self._open.pop(span_id, None)
            if self._held_bytes + size > self._max_bytes:
                self._held -= 1  # this span, counted at its start and not kept
                self._drop(request, "otel_bound", unheld=1)
                return
            request.spans.append(span)
            request.bytes += size
            self._held_bytes += size

    def _end_request(self, request: _Request, span: ReadableSpan) -> None:
        with self._lock:
            if self._open.get(request.span_id) is not request:
                return  # expired or shut down meanwhile
            dropped = request.dropped
            late = len(request.started_ids)
            spans = request.spans
            self._forget(request)
        if dropped:
            return
        writer = self._target()
        if late:
            writer.drop_spans("late", late)
        writer.persist(fold(span, spans))

    def _drop(self, request: _Request, reason: str, unheld: int = 0) -> None:
        """Release what a request holds and leave its tombstone in place; count the request
        once, and its spans (`unheld`: those already given back by the caller)."""
        released = len(request.started_ids) + len(request.spans) + unheld
        for span_id in request.started_ids:
            self._open.pop(span_id, None)
        self._held -= request.held
        self._held_bytes -= request.bytes
        request.dropped = True
        request.started_ids = set()
        request.spans = []
        request.bytes = 0
        writer = self._target()
        writer.drop(reason)
        writer.drop_spans("bound", released)
        self._messages.warning(reason, f"dropped a request ({reason}): see stats()")

    def _forget(self, request: _Request) -> None:
        """Remove every entry of a request and give back what it held against the bounds."""
        self._open.pop(request.span_id, None)
        for span_id in request.started_ids:
            self._open.pop(span_id, None)
        self._requests.pop(request.span_id, None)
        if not request.dropped:
            self._held -= request.held
            self._held_bytes -= request.bytes

    def _expire(self, now: float) -> None:
        """Drop the requests whose span has been open longer than the timeout (oldest first:
        the dict is in start order, so this stops at the first one still in time)."""
        deadline = now - self._timeout_s
        while self._requests:
            request = next(iter(self._requests.values()))
            if request.started_at > deadline:
                return
            self._forget(request)
            if not request.dropped:
                self._target().drop("otel_timeout")
                self._messages.warning("otel_timeout", "a request span did not end in time")


_live_processors: weakref.WeakSet[TelemetrySpanProcessor] = weakref.WeakSet()


def _reset_processors_in_child() -> None:
    for processor in list(_live_processors):
        processor._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_processors_in_child)


def _estimate_bytes(span: ReadableSpan) -> int:
    """A cheap estimate of what a held span costs: its attributes' and events' sizes plus a
    fixed overhead. Not exact, but it grows with what a span carries (a captured prompt of
    100 kB counts as 100 kB), which is what the byte bound is for."""
    size = _SPAN_OVERHEAD + _attributes_bytes(span.attributes)
    for event in span.events:
        size += _VALUE_OVERHEAD + _attributes_bytes(event.attributes)
    return size


def _attributes_bytes(attributes: Any) -> int:
    if not attributes:
        return 0
    size = 0
    for key, value in attributes.items():
        size += _VALUE_OVERHEAD + len(key)
        if isinstance(value, (str, bytes)):
            size += len(value)
        elif isinstance(value, (tuple, list)):
            size += sum(len(item) if isinstance(item, (str, bytes)) else 8 for item in value)
    return size

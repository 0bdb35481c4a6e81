"""The process-wide writer behind `persist_telemetry`, created on first use.

It is flushed and closed at interpreter exit within `TELEMETRY_WRITER_EXIT_TIMEOUT` seconds
(default 5), so a short-lived process does not lose what it queued, and a dead database
cannot hold the exit up for longer than that.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
from typing import Any

from telemetry_writer.writer import TelemetryWriter

_lock = threading.Lock()
_default: TelemetryWriter | None = None


def _new_lock_in_child() -> None:
    # Another thread may have held the lock when the process forked; the child's copy would
    # then stay locked forever. The writer itself re-initialises in the child on its own.
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock_in_child)


def get_default_writer() -> TelemetryWriter:
    """The shared writer, made from the environment (`TELEMETRY_DATABASE_URL`, else `PG*`)."""
    global _default
    writer = _default
    if writer is not None:
        return writer
    with _lock:
        if _default is None:
            _default = TelemetryWriter()
        return _default


def persist_telemetry(record: Any) -> None:
    """Hand one record to the default writer and return at once. Never raises."""
    with contextlib.suppress(Exception):
        get_default_writer().persist(record)


def _exit_timeout() -> float:
    try:
        return max(0.0, float(os.environ.get("TELEMETRY_WRITER_EXIT_TIMEOUT", "5")))
    except ValueError:
        return 5.0


@atexit.register
def _close_default_writer() -> None:
    writer = _default
    if writer is not None:
        writer.close(timeout=_exit_timeout())

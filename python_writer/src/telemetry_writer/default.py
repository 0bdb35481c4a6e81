"""The process-wide writer behind `persist_telemetry`, and what every writer does at exit.

`init(...)` configures the default writer (any option of TelemetryWriter; the rest from the
`TELEMETRY_WRITER_*` variables); without `init` it is made from the environment on first use.

At interpreter exit every live writer (not only the default one) is flushed and closed, each
within its `exit_timeout_s` (`TELEMETRY_WRITER_EXIT_TIMEOUT`, default 5 s), so a short-lived
process does not lose what it queued and a dead database cannot hold the exit up for longer.
`multiprocessing` children end with `os._exit()`, which skips `atexit`: they are covered by a
`multiprocessing.util.Finalize` hook, re-registered in each child. Celery's prefork pool (its
own `billiard`) needs `shutdown()` in `worker_process_shutdown` (see the README).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import time
from typing import Any

from telemetry_writer.writer import TelemetryWriter, live_writers

_lock = threading.Lock()
_default: TelemetryWriter | None = None


def _new_lock_in_child() -> None:
    # Another thread may have held the lock when the process forked; the child's copy would
    # then stay locked forever. The writers themselves re-initialise in the child on their own.
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock_in_child)


def init(**options: Any) -> TelemetryWriter:
    """Configure the default writer with TelemetryWriter's options and return it.

    A writer made before (by an earlier `init` or a `persist_telemetry`) is closed first,
    within its exit timeout, so nothing it holds is lost silently.
    """
    global _default
    writer = TelemetryWriter(**options)
    with _lock:
        previous, _default = _default, writer
    if previous is not None:
        previous.close(timeout=previous.exit_timeout_s)
    return writer


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


def flush(timeout: float | None = 5.0) -> bool:
    """Flush the default writer (see TelemetryWriter.flush)."""
    return get_default_writer().flush(timeout)


def shutdown(timeout: float | None = None) -> bool:
    """Flush and close every live writer of this process; each gets its own exit timeout,
    capped by `timeout` when given. True when every record was written. Never raises.

    Called at interpreter exit and at the end of `multiprocessing` children; call it yourself
    where a process ends without either (Celery's `worker_process_shutdown`, a SIGTERM
    handler that calls `os._exit`).
    """
    writers = [writer for writer in list(live_writers) if not writer.closed]
    if not writers:
        return True
    started = time.monotonic()
    for writer in writers:  # start every flush at once, then wait for each in turn
        with contextlib.suppress(Exception):
            writer.flush(0)
    clean = True
    for writer in writers:
        budget = writer.exit_timeout_s if timeout is None else min(timeout, writer.exit_timeout_s)
        remaining = max(0.0, budget - (time.monotonic() - started))
        try:
            clean = writer.close(timeout=remaining) and clean
        except Exception:
            clean = False
    return clean


atexit.register(shutdown)


class _ChildHook:
    """Registers the end-of-child hook in each `multiprocessing` child (they skip atexit)."""

    def register(self) -> None:
        import multiprocessing.util as mp_util

        mp_util.Finalize(None, shutdown, exitpriority=100)
        mp_util.register_after_fork(self, _ChildHook.register)


_child_hook = _ChildHook()
with contextlib.suppress(Exception):
    _child_hook.register()

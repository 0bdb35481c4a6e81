"""Logging that says what happened and how often, at most once per interval per kind.

Messages never carry payloads: questions, answers and SQL are personal data. Callers pass a
fixed text; this module adds only how many times it happened since the last line.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import traceback


class RateLimitedLog:
    def __init__(self, logger: logging.Logger, interval_s: float = 60.0) -> None:
        self._logger = logger
        self._interval_s = interval_s
        self._lock = threading.Lock()
        self._last_emitted: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def _emit(self, level: int, key: str, message: str) -> None:
        if not self._logger.isEnabledFor(level):
            return
        now = time.monotonic()
        with self._lock:
            last = self._last_emitted.get(key)
            if last is not None and now - last < self._interval_s:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return
            suppressed = self._suppressed.pop(key, 0)
            self._last_emitted[key] = now
        if suppressed:
            message = f"{message} (and {suppressed} more times in the last {self._interval_s:.0f}s)"
        self._logger.log(level, message)

    def info(self, key: str, message: str) -> None:
        self._emit(logging.INFO, key, message)

    def warning(self, key: str, message: str) -> None:
        self._emit(logging.WARNING, key, message)

    def error(self, key: str, message: str) -> None:
        self._emit(logging.ERROR, key, message)

    def exception(self, key: str, message: str) -> None:
        """Log the current exception's type and where it was raised, never its message: an
        exception's text can quote the values it failed on (a question, a row)."""
        error_type, _, trace = sys.exc_info()
        where = ""
        if trace is not None:
            frames = traceback.extract_tb(trace)
            where = " at " + " <- ".join(
                f"{frame.name} ({frame.filename.rsplit('/', 1)[-1]}:{frame.lineno})"
                for frame in reversed(frames[-3:])
            )
        name = error_type.__name__ if error_type is not None else "error"
        self._emit(logging.ERROR, key, f"{message}: {name}{where}")

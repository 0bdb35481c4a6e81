"""Every option of the writer, with its default and its `TELEMETRY_WRITER_*` variable.

Precedence: an argument given in code, else the environment variable, else the default. A
variable that does not parse is ignored with one warning (telemetry must never stop the app
from starting).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

_log = logging.getLogger("telemetry_writer")

# libpq variables that say where a database is; with none of them and no URL, no database
# is configured and the default writer is a no-op.
LIBPQ_TARGET_VARIABLES = ("PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGSERVICE", "PGUSER")


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with full jitter."""

    initial_s: float = 0.1
    maximum_s: float = 10.0
    multiplier: float = 2.0

    def delay(self, attempt: int) -> float:
        import random

        ceiling = min(self.maximum_s, self.initial_s * (self.multiplier ** min(attempt, 64)))
        return random.uniform(ceiling / 2, ceiling)


# Configuration errors (wrong password, missing table) will not fix themselves in seconds, and
# poolers such as Supabase's block a whole host after repeated authentication failures.
DEFAULT_CONFIG_RETRY = RetryPolicy(initial_s=30.0, maximum_s=300.0)


@dataclass(frozen=True)
class WriterConfig:
    """Options of a TelemetryWriter; see the README for what each one does."""

    conninfo: str | None = None  # None: TELEMETRY_DATABASE_URL, else the PG* variables
    disabled: bool = False
    role: str | None = "service_role"
    table: str = "public.chat_telemetry_log"
    max_queue_size: int = 10_000
    max_queue_bytes: int = 64 * 2**20
    batch_size: int = 500
    flush_interval_s: float = 1.0
    connect_timeout_s: float = 5.0
    statement_timeout_s: float = 30.0
    io_timeout_s: float = 35.0  # above statement_timeout_s: the server's cancel comes first
    exit_timeout_s: float = 5.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    config_retry: RetryPolicy = DEFAULT_CONFIG_RETRY
    log_interval_s: float = 60.0


_ENVIRONMENT: dict[str, tuple[str, type]] = {
    "conninfo": ("TELEMETRY_DATABASE_URL", str),
    "disabled": ("TELEMETRY_WRITER_DISABLED", bool),
    "role": ("TELEMETRY_WRITER_ROLE", str),
    "table": ("TELEMETRY_WRITER_TABLE", str),
    "max_queue_size": ("TELEMETRY_WRITER_MAX_QUEUE_SIZE", int),
    "max_queue_bytes": ("TELEMETRY_WRITER_MAX_QUEUE_BYTES", int),
    "batch_size": ("TELEMETRY_WRITER_BATCH_SIZE", int),
    "flush_interval_s": ("TELEMETRY_WRITER_FLUSH_INTERVAL", float),
    "connect_timeout_s": ("TELEMETRY_WRITER_CONNECT_TIMEOUT", float),
    "io_timeout_s": ("TELEMETRY_WRITER_IO_TIMEOUT", float),
    "statement_timeout_s": ("TELEMETRY_WRITER_STATEMENT_TIMEOUT", float),
    "exit_timeout_s": ("TELEMETRY_WRITER_EXIT_TIMEOUT", float),
    "log_interval_s": ("TELEMETRY_WRITER_LOG_INTERVAL", float),
}
ENVIRONMENT_VARIABLES = (
    *(name for name, _ in _ENVIRONMENT.values()),
    "TELEMETRY_WRITER_CONFIG_RETRY_MAX",
)
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _parse(raw: str, kind: type) -> Any:
    text = raw.strip()
    if kind is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError(raw)
    if kind is str:
        return None if text.lower() in ("", "none") else text
    return kind(text)


def from_environment(environ: Mapping[str, str] | None = None, **overrides: Any) -> WriterConfig:
    """The config from `TELEMETRY_WRITER_*` variables, then `overrides` (given in code)."""
    environ = os.environ if environ is None else environ
    known = {item.name for item in fields(WriterConfig)}
    unknown = set(overrides) - known
    if unknown:
        raise TypeError(f"unknown telemetry_writer option(s): {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for name, (variable, kind) in _ENVIRONMENT.items():
        raw = environ.get(variable)
        if raw is None:
            continue
        try:
            values[name] = _parse(raw, kind)
        except ValueError:
            _log.warning("ignored %s: not a valid %s", variable, kind.__name__)
    raw_max = environ.get("TELEMETRY_WRITER_CONFIG_RETRY_MAX")
    if raw_max is not None:
        try:
            ceiling = float(raw_max)
            values["config_retry"] = RetryPolicy(
                initial_s=min(DEFAULT_CONFIG_RETRY.initial_s, ceiling), maximum_s=ceiling
            )
        except ValueError:
            _log.warning("ignored TELEMETRY_WRITER_CONFIG_RETRY_MAX: not a number")
    values.update(overrides)
    return replace(WriterConfig(), **values)


def database_configured(config: WriterConfig, environ: Mapping[str, str] | None = None) -> bool:
    """False when neither a conninfo nor any libpq variable says where the database is."""
    if config.conninfo is not None:
        return True
    environ = os.environ if environ is None else environ
    return any(environ.get(name) for name in LIBPQ_TARGET_VARIABLES)

"""`python -m chat_telemetry purge`: delete raw telemetry older than N whole UTC days.

Raw rows hold user questions (personal data) and should not be kept for ever; the marts keep
every day they built, so purging raw rows does not shrink their history. The work is done by
the procedure `public.purge_chat_telemetry` (bootstrap_sql/30_retention.sql), the same one
Supabase's pg_cron calls (deploy/supabase_pg_cron_purge.sql): batched deletes, a commit after
each batch, and a purge watermark that makes dbt refuse a history-shrinking `--full-refresh`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

# The dbt var, read from dbt_project.yml by settings (dbt is its one source of truth).
from chat_telemetry.settings import lookback_days as lookback_days

# Days after the incremental lookback that raw rows must stay: a dbt schedule that paused for
# a week can still rebuild what it missed.
DEFAULT_MARGIN_DAYS = 7
CUTOFF_SQL = (
    "(pg_catalog.date_trunc('day', pg_catalog.now() at time zone 'UTC') "
    "- pg_catalog.make_interval(days => %(days)s)) at time zone 'UTC'"
)


class PurgeRefused(ValueError):
    """The requested retention would purge rows the marts still rebuild from."""


@dataclass(frozen=True)
class PurgeResult:
    purged_before: datetime
    rows: int
    dry_run: bool


def minimum_days(lookback: int, margin: int = DEFAULT_MARGIN_DAYS) -> int:
    return lookback + margin


def purge(
    conninfo: str,
    older_than_days: int,
    *,
    dry_run: bool = False,
    batch_size: int = 10_000,
    lookback: int | None = None,
    margin: int = DEFAULT_MARGIN_DAYS,
) -> PurgeResult:
    """Delete (or, on a dry run, count) raw rows created before the cutoff midnight (UTC)."""
    floor = minimum_days(lookback_days() if lookback is None else lookback, margin)
    if older_than_days < floor:
        raise PurgeRefused(
            f"--older-than-days {older_than_days} is below {floor}: the marts rebuild the last "
            f"lookback_days days from raw rows, plus {margin} days of margin for a paused "
            "schedule. Keep at least that many days."
        )
    if batch_size < 1:
        raise PurgeRefused("--batch-size must be positive")
    parameters = {"days": older_than_days}
    with psycopg.connect(conninfo, autocommit=True) as connection:
        cutoff_row = connection.execute(f"select {CUTOFF_SQL}", parameters).fetchone()
        assert cutoff_row is not None
        cutoff: datetime = cutoff_row[0]
        if dry_run:
            counted = connection.execute(
                "select count(*) from public.chat_telemetry_log where created_at < %s", (cutoff,)
            ).fetchone()
            return PurgeResult(cutoff, int(counted[0]) if counted else 0, dry_run=True)
        connection.execute(
            "call public.purge_chat_telemetry(%s, %s, %s)", (older_than_days, batch_size, floor)
        )
        deleted = connection.execute(
            "select rows_deleted from public.chat_telemetry_purges order by purge_id desc limit 1"
        ).fetchone()
    return PurgeResult(cutoff, int(deleted[0]) if deleted else 0, dry_run=False)

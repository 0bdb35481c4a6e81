"""Load a generated workload into a database through telemetry_writer, the backend's path."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg
from telemetry_writer import TelemetryRecord, TelemetryWriter

from chat_telemetry.workload.generator import Conversation, WorkloadGenerator, WorkloadSettings

DEMO_EMAIL_DOMAIN = "@demo.chat-telemetry.invalid"
COPY_CONVERSATIONS = (
    "copy public.chat_conversations (conversation_id, user_id, created_at) from stdin"
)


@dataclass(frozen=True)
class LoadResult:
    requests: int
    users: int
    conversations: int
    seconds: float
    writer_stats: dict[str, Any]


def reset_demo_data(conninfo: str) -> None:
    """Remove earlier demo users; their conversations and telemetry go with them (cascade)."""
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute("delete from auth.users where email like %s", (f"%{DEMO_EMAIL_DOMAIN}",))


def analyze_telemetry(conninfo: str) -> None:
    """Refresh planner statistics after a bulk load, as autovacuum would do a little later:
    dbt's first build right after a load should not be planned on an empty table's estimates."""
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(
            "analyze auth.users, public.chat_conversations, public.chat_telemetry_log"
        )


def create_users(conninfo: str, generator: WorkloadGenerator) -> None:
    """The workload's users in auth.users (existing ones are left as they are)."""
    with psycopg.connect(conninfo, autocommit=True) as connection, connection.cursor() as cursor:
        cursor.executemany(
            "insert into auth.users (id, email) values (%s, %s) on conflict (id) do nothing",
            [(user.user_id, user.email) for user in generator.users],
        )


def write_days(
    conninfo: str,
    days: Iterable[tuple[date, list[Conversation], list[TelemetryRecord]]],
    writer: TelemetryWriter,
    on_day: Callable[[int, int], None] | None = None,
) -> int:
    """Create each day's new conversations, then persist its records through the writer;
    returns how many records were persisted. `on_day(requests, conversations)` after each."""
    requests = 0
    conversations = 0
    with psycopg.connect(conninfo, autocommit=True) as connection:
        for _, new_conversations, records in days:
            with connection.cursor() as cursor, cursor.copy(COPY_CONVERSATIONS) as copy:
                for conversation in new_conversations:
                    copy.write_row(
                        (
                            conversation.conversation_id,
                            conversation.user_id,
                            conversation.created_at,
                        )
                    )
            conversations += len(new_conversations)
            for record in records:
                writer.persist(record)
            requests += len(records)
            # Keep the queue below its bound: a loader may wait, a chat request never does.
            writer.flush(timeout=300)
            if on_day is not None:
                on_day(requests, conversations)
    return requests


def _progress(done: int, expected: int, started: float, quiet: bool) -> None:
    if quiet:
        return
    share = min(done / expected, 1.0) if expected else 1.0
    bar = "#" * int(share * 30)
    rate = done / max(time.perf_counter() - started, 1e-9)
    sys.stderr.write(f"\r  writing [{bar:<30}] {done:>9,} requests  {rate:>8,.0f}/s")
    sys.stderr.flush()


def load_workload(
    conninfo: str,
    settings: WorkloadSettings,
    *,
    quiet: bool = False,
    writer: TelemetryWriter | None = None,
) -> LoadResult:
    """Generate the workload day by day and persist it through a TelemetryWriter."""
    generator = WorkloadGenerator(settings)
    own_writer = writer is None
    # A loader may hold a whole day in memory (it flushes after each): bounds to match.
    writer = writer or TelemetryWriter(
        conninfo,
        max_queue_size=100_000,
        max_queue_bytes=2**30,
        batch_size=2_000,
        flush_interval_s=0.5,
    )
    expected = settings.days * settings.requests_per_day
    started = time.perf_counter()
    conversations = 0

    def report(requests_so_far: int, conversations_so_far: int) -> None:
        nonlocal conversations
        conversations = conversations_so_far
        _progress(requests_so_far, expected, started, quiet)

    create_users(conninfo, generator)
    requests = write_days(conninfo, generator.iter_days(), writer, report)
    if own_writer:
        writer.close(timeout=300)
    else:
        writer.flush(timeout=300)
    analyze_telemetry(conninfo)
    if not quiet:
        sys.stderr.write("\n")
    return LoadResult(
        requests=requests,
        users=len(generator.users),
        conversations=conversations,
        seconds=time.perf_counter() - started,
        writer_stats=writer.stats(),
    )

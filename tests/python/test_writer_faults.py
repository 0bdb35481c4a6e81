"""telemetry_writer under the failures production has: each error class and its behaviour.

Real servers and real errors throughout; the network faults that a server cannot be asked for
(a lost commit acknowledgement, a black-holed path) come from a TCP proxy (`fault_proxy`).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import connect, make_user
from fault_proxy import FaultProxy
from psycopg import sql
from telemetry_writer import TelemetryRecord
from writer_fixtures import (  # noqa: F401  (balanced_books is an autouse fixture)
    assert_books_balance,
    backend_role,
    balanced_books,
    count_rows,
    drop_role,
    new_writer,
    wait_until,
)

from chat_telemetry import database


def records(user_id: uuid.UUID, count: int, prefix: str = "q") -> list[TelemetryRecord]:
    return [
        TelemetryRecord(user_id=user_id, user_question=f"{prefix}{number}")
        for number in range(count)
    ]


@pytest.fixture
def proxy(shared_db) -> Iterator[FaultProxy]:
    fault_proxy = FaultProxy(Path(shared_db.host) / f".s.PGSQL.{shared_db.port}")
    try:
        yield fault_proxy
    finally:
        fault_proxy.close()


def through(proxy: FaultProxy, db: database.Connection) -> str:
    return f"host=127.0.0.1 port={proxy.port} dbname={db.database} user={db.user}"


# ---------------------------------------------------------------- rejected rows


def test_a_row_a_trigger_rejects_is_isolated_and_the_others_land(fresh_db):
    user_id = make_user(fresh_db)
    with connect(fresh_db) as admin:
        admin.execute(
            """
            create function public.refuse_poison() returns trigger language plpgsql as $$
            begin
                if new.user_question = 'poison' then
                    raise exception 'no poison allowed';
                end if;
                return new;
            end $$;
            create trigger refuse_poison before insert on public.chat_telemetry_log
            for each row execute function public.refuse_poison();
            """
        )
    writer = new_writer(fresh_db.conninfo(), batch_size=200, flush_interval_s=5)
    batch = records(user_id, 200)
    batch[137].user_question = "poison"
    started = time.monotonic()
    for record in batch:
        writer.persist(record)
    assert writer.flush(10), writer.stats()
    assert time.monotonic() - started < 5
    stats = writer.stats()
    assert count_rows(fresh_db, user_id) == (199, 199)
    assert stats["written"] == 199
    assert stats["dropped"]["rejected"] == 1
    assert stats["rejected_by_sqlstate"] == {"P0001": 1}
    assert stats["retried_batches"] == 0  # split and settled, never retried as transient
    writer.close(5)


def test_a_value_that_cannot_be_sent_is_dropped_and_counted(shared_db):
    """A client-side error inside COPY (not psycopg's): isolated like a server rejection."""

    class BrokenZone(dt.tzinfo):
        def utcoffset(self, moment: dt.datetime | None) -> dt.timedelta:
            raise ValueError("no offset")

        def dst(self, moment: dt.datetime | None) -> None:
            return None

    user_id = make_user(shared_db)
    writer = new_writer(shared_db.conninfo(), batch_size=10, flush_interval_s=5)
    batch = records(user_id, 10)
    batch[4].created_at = dt.datetime(2026, 1, 1, tzinfo=BrokenZone())
    for record in batch:
        writer.persist(record)
    assert writer.close(10)
    stats = writer.stats()
    assert count_rows(shared_db, user_id) == (9, 9)
    assert stats["written"] == 9 and stats["dropped"]["invalid"] == 1


# ---------------------------------------------------------------- configuration errors


def test_a_missing_login_role_is_named_and_records_land_once_it_exists(shared_db, caplog):
    user_id = make_user(shared_db)
    missing = f"tw_missing_{uuid.uuid4().hex[:8]}"
    caplog.set_level(logging.INFO, logger="telemetry_writer")
    conninfo = (
        f"host={shared_db.host} port={shared_db.port} dbname={shared_db.database} user={missing}"
    )
    writer = new_writer(conninfo)
    for record in records(user_id, 30):
        writer.persist(record)
    assert wait_until(lambda: writer.stats()["retried_batches"] >= 2, 10)
    failure = writer.stats()["last_failure"]
    assert (failure["class"], failure["sqlstate"]) == ("configuration", "28000")
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and f'role "{missing}" does not exist' in errors[0]
    assert "SQLSTATE 28000" in errors[0]
    try:
        with connect(shared_db) as admin:
            admin.execute(sql.SQL("create role {} login").format(sql.Identifier(missing)))
            admin.execute(sql.SQL("grant service_role to {}").format(sql.Identifier(missing)))
        assert writer.flush(15), writer.stats()  # no new record needed: retried on a timer
        assert writer.close(5)
    finally:
        writer.close(1)
        drop_role(shared_db, missing)
    assert count_rows(shared_db, user_id) == (30, 30)


def test_a_missing_table_backs_off_and_resumes_when_it_is_back(fresh_db, caplog):
    user_id = make_user(fresh_db)
    caplog.set_level(logging.WARNING, logger="telemetry_writer")
    with connect(fresh_db) as admin:
        admin.execute("alter table public.chat_telemetry_log rename to chat_telemetry_log_moved")
    writer = new_writer(fresh_db.conninfo())
    for record in records(user_id, 25):
        writer.persist(record)
    assert wait_until(lambda: writer.stats()["retried_batches"] >= 1, 10)
    stats = writer.stats()
    assert stats["last_failure"]["sqlstate"] == "42P01"
    assert stats["pending"] == 25 and stats["dropped"]["rejected"] == 0
    assert any("42P01" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
    with connect(fresh_db) as admin:
        admin.execute("alter table public.chat_telemetry_log_moved rename to chat_telemetry_log")
    assert writer.flush(15), writer.stats()
    assert count_rows(fresh_db, user_id) == (25, 25)
    writer.close(5)


def test_a_login_role_without_service_role_cannot_write_and_says_why(shared_db, caplog):
    user_id = make_user(shared_db)
    caplog.set_level(logging.ERROR, logger="telemetry_writer")
    with backend_role(shared_db, member_of_service_role=False) as role:
        conninfo = (
            f"host={shared_db.host} port={shared_db.port} dbname={shared_db.database} "
            f"user={role.name}"
        )
        writer = new_writer(conninfo)
        writer.persist(TelemetryRecord(user_id=user_id, user_question="q"))
        assert wait_until(lambda: writer.stats()["retried_batches"] >= 1, 10)
        assert writer.stats()["last_failure"]["sqlstate"] == "42501"
        assert "permission denied to set role" in caplog.text
        assert writer.close(0.2) is False
    assert writer.stats()["dropped"]["shut_down"] == 1


# ---------------------------------------------------------------- resource errors


def test_a_statement_timeout_is_retried_until_the_lock_is_gone(fresh_db):
    user_id = make_user(fresh_db)
    locker = connect(fresh_db)
    locker.execute("begin")
    locker.execute("lock table public.chat_telemetry_log in access exclusive mode")
    writer = new_writer(fresh_db.conninfo(), statement_timeout_s=0.2)
    try:
        for record in records(user_id, 40):
            writer.persist(record)
        assert wait_until(lambda: writer.stats()["retried_batches"] >= 2, 10)
        failure = writer.stats()["last_failure"]
        assert (failure["class"], failure["sqlstate"]) == ("resource", "57014")
    finally:
        locker.execute("rollback")
        locker.close()
    assert writer.flush(15), writer.stats()
    assert count_rows(fresh_db, user_id) == (40, 40)
    writer.close(5)


# ---------------------------------------------------------------- network faults


def test_a_lost_commit_acknowledgement_is_resolved_exactly_once(shared_db, proxy):
    user_id = make_user(shared_db)
    proxy.cut_after_commits(1)
    writer = new_writer(through(proxy, shared_db), batch_size=50, flush_interval_s=5)
    for record in records(user_id, 50):
        writer.persist(record)
    assert writer.flush(15), writer.stats()
    stats = writer.stats()
    assert proxy.commits_cut == 1
    assert stats["unknown_commits"] == 1 and stats["written"] == 50
    assert count_rows(shared_db, user_id) == (50, 50)
    writer.close(5)


def test_a_lost_acknowledgement_is_kept_while_the_check_itself_fails(shared_db, proxy):
    user_id = make_user(shared_db)
    proxy.cut_after_commits(1)
    writer = new_writer(through(proxy, shared_db), batch_size=30, flush_interval_s=5)
    for record in records(user_id, 30):
        writer.persist(record)
    assert wait_until(lambda: proxy.commits_cut == 1, 10)
    proxy.refuse()  # the query that would tell what was written cannot run either
    assert wait_until(lambda: writer.stats()["retried_batches"] >= 3, 10)
    stats = writer.stats()
    assert stats["pending"] == 30 and stats["written"] == 0, stats
    proxy.heal()
    assert writer.flush(15), writer.stats()
    assert writer.stats()["written"] == 30
    assert count_rows(shared_db, user_id) == (30, 30)
    writer.close(5)


def test_a_black_hole_does_not_hang_the_writer_and_nothing_is_lost(shared_db, proxy):
    user_id = make_user(shared_db)
    writer = new_writer(
        through(proxy, shared_db), io_timeout_s=0.5, connect_timeout_s=1, batch_size=20
    )
    for record in records(user_id, 20, "before"):
        writer.persist(record)
    assert writer.flush(10)
    proxy.black_hole()
    for record in records(user_id, 20, "during"):
        writer.persist(record)
    started = time.monotonic()
    assert wait_until(lambda: writer.stats()["retried_batches"] >= 1, 5)
    assert time.monotonic() - started < 3, "the dead connection was noticed within its timeout"
    stats = writer.stats()
    assert stats["pending"] == 20 and stats["written"] == 20
    proxy.heal()
    assert writer.flush(20), writer.stats()
    assert count_rows(shared_db, user_id) == (40, 40)
    assert writer.close(5)


# ---------------------------------------------------------------- accounting and lifecycle


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_writer_thread_is_restarted_on_the_next_persist(shared_db, monkeypatch):
    """Fault injection: the thread dies of a BaseException (which its catch-all lets pass)."""
    from telemetry_writer import writer as writer_module

    def die(self: writer_module.TelemetryWriter) -> None:
        raise SystemExit("writer thread killed")

    user_id = make_user(shared_db)
    writer = new_writer(shared_db.conninfo())
    monkeypatch.setattr(writer_module.TelemetryWriter, "_next_batch", die)
    writer.persist(TelemetryRecord(user_id=user_id, user_question="queued when it died"))
    first_thread = writer._worker
    assert first_thread is not None
    first_thread.join(5)
    assert not first_thread.is_alive()
    assert writer.stats()["queued"] == 1
    monkeypatch.undo()
    writer.persist(TelemetryRecord(user_id=user_id, user_question="restarts it"))
    assert writer.flush(10), writer.stats()
    assert writer._worker is not first_thread
    assert count_rows(shared_db, user_id) == (2, 2)
    writer.close(5)


def test_stats_balance_at_every_moment_under_load_and_overflow(shared_db):
    user_id = make_user(shared_db)
    writer = new_writer(shared_db.conninfo(), batch_size=50, max_queue_size=200)
    stop = threading.Event()
    snapshots: list[dict] = []

    def watch() -> None:
        while not stop.is_set():
            snapshots.append(writer.stats())

    watcher = threading.Thread(target=watch)
    watcher.start()
    for record in records(user_id, 3000):
        writer.persist(record)
    assert writer.flush(30)
    stop.set()
    watcher.join()
    writer.close(5)
    assert len(snapshots) > 10
    for snapshot in snapshots:
        assert_books_balance(snapshot)
    stats = writer.stats()
    written, _ = count_rows(shared_db, user_id)
    assert stats["received"] == 3000
    assert stats["written"] == written
    assert stats["written"] + stats["dropped"]["queue_full"] == 3000


def test_a_bug_in_the_writer_thread_is_counted_and_flush_recovers(shared_db, monkeypatch):
    """Fault injection: a bug (an exception no error path expects) while a batch is held."""
    from telemetry_writer import writer as writer_module

    def buggy_copy(*arguments: object) -> None:
        raise RuntimeError("a bug in the writer")

    user_id = make_user(shared_db)
    writer = new_writer(shared_db.conninfo(), batch_size=10)
    monkeypatch.setattr(writer_module, "copy_rows", buggy_copy)
    for record in records(user_id, 10, "lost"):
        writer.persist(record)
    assert writer.flush(10), writer.stats()
    assert writer.stats()["dropped"]["internal_error"] == 10
    monkeypatch.undo()
    for record in records(user_id, 5, "kept"):
        writer.persist(record)
    assert writer.close(10)
    assert writer.stats()["written"] == 5
    assert count_rows(shared_db, user_id) == (5, 5)


def test_close_closes_the_connection(fresh_db):
    user_id = make_user(fresh_db)
    writer = new_writer(fresh_db.conninfo())

    def writer_sessions() -> int:
        with connect(fresh_db) as admin:
            row = admin.execute(
                "select count(*) from pg_stat_activity "
                "where datname = current_database() and application_name = 'telemetry_writer'"
            ).fetchone()
        return int(row[0]) if row else -1

    writer.persist(TelemetryRecord(user_id=user_id, user_question="q"))
    assert writer.flush(10)
    assert writer_sessions() == 1
    assert writer.close(5)
    assert wait_until(lambda: writer_sessions() == 0, 5)


def test_the_connection_has_keepalives_and_timeouts(shared_db, proxy):
    writer = new_writer(through(proxy, shared_db), io_timeout_s=12)
    connection = writer._settings.connect()
    try:
        parameters = connection.info.get_parameters()
        assert parameters["keepalives"] == "1"
        assert parameters["keepalives_idle"] == "12"
        assert parameters["tcp_user_timeout"] == "12000"
        assert connection.prepare_threshold is None
    finally:
        connection.close()
        writer.close(0)

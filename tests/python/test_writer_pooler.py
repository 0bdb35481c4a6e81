"""telemetry_writer behind PgBouncer (Debian's `pgbouncer`), as Supabase's port 6543 runs it.

The login role is only a member of service_role (what the README recommends), so the rows
pass row-level security only if each transaction sets the role itself, and a session-level
`SET ROLE` would leak service_role to whoever gets the server connection next.
"""

from __future__ import annotations

import logging
import threading

from conftest import make_user
from telemetry_writer import TelemetryRecord
from writer_fixtures import (  # noqa: F401  (balanced_books is an autouse fixture)
    backend_role,
    balanced_books,
    count_rows,
    new_writer,
    pgbouncer,
    pooled_connection,
    wait_until,
)


def test_transaction_pooler_every_record_once_and_no_role_leaks(shared_db):
    user_id = make_user(shared_db)
    with (
        backend_role(shared_db) as role,
        pgbouncer(shared_db, shared_db.database, {role.name: role.password}, pool_size=1) as pool,
    ):
        conninfo = pool.conninfo(role.name, role.password)
        writer = new_writer(conninfo, batch_size=25)
        observed: list[tuple[str, int]] = []
        stop = threading.Event()

        def other_client() -> None:
            # Another application client of the same pool (one server connection for both).
            with pooled_connection(conninfo) as connection:
                while not stop.is_set():
                    row = connection.execute(
                        "select current_user::text, (select count(*) from pg_prepared_statements)"
                    ).fetchone()
                    assert row is not None
                    observed.append((row[0], int(row[1])))

        thread = threading.Thread(target=other_client)
        thread.start()
        try:
            for number in range(600):
                writer.persist(TelemetryRecord(user_id=user_id, user_question=f"q{number}"))
            assert writer.flush(30), writer.stats()
        finally:
            stop.set()
            thread.join(10)
        assert writer.close(5)
        stats = writer.stats()
        assert count_rows(shared_db, user_id) == (600, 600)
        assert stats["written"] == 600 and stats["retried_batches"] == 0, stats
        assert len(observed) > 10, "the other client ran between the writer's batches"
        assert {user for user, _ in observed} == {role.name}, "the writer's role leaked"
        assert {prepared for _, prepared in observed} == {0}, "a prepared statement was left"

        # The check above can fail: a session-level SET ROLE (the old writer's way) is seen.
        with pooled_connection(conninfo) as leaky, pooled_connection(conninfo) as victim:
            leaky.execute("set role service_role")
            row = victim.execute("select current_user::text").fetchone()
            assert row is not None and row[0] == "service_role"
            leaky.execute("reset role")


def test_session_pooler_works_the_same(shared_db):
    user_id = make_user(shared_db)
    with (
        backend_role(shared_db) as role,
        pgbouncer(shared_db, shared_db.database, {role.name: role.password}, pool_mode="session")
        as pool,
    ):  # fmt: skip
        writer = new_writer(pool.conninfo(role.name, role.password), batch_size=20)
        for number in range(100):
            writer.persist(TelemetryRecord(user_id=user_id, user_question=f"q{number}"))
        assert writer.close(20)
    assert count_rows(shared_db, user_id) == (100, 100)


def test_wrong_password_through_the_pooler_is_named_and_records_land_once_fixed(shared_db, caplog):
    user_id = make_user(shared_db)
    secret_question = "salary of my manager"
    with (
        backend_role(shared_db) as role,
        pgbouncer(shared_db, shared_db.database, {role.name: "another-password"}) as pool,
    ):
        caplog.set_level(logging.INFO, logger="telemetry_writer")
        writer = new_writer(pool.conninfo(role.name, role.password))
        for number in range(20):
            writer.persist(
                TelemetryRecord(user_id=user_id, user_question=f"{secret_question} {number}")
            )
        assert wait_until(lambda: writer.stats()["retried_batches"] >= 2, 10)
        stats = writer.stats()
        assert stats["last_failure"]["class"] == "configuration"
        assert stats["last_failure"]["sqlstate"] == "28P01"
        assert stats["pending"] + stats["queued"] == 20 and stats["written"] == 0
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert errors and "28P01" in errors[0].getMessage()
        assert "password authentication failed" in errors[0].getMessage()
        assert secret_question not in caplog.text

        pool.set_users({role.name: role.password})  # the operator fixes the password
        assert writer.flush(15), writer.stats()
        assert writer.close(5)
    assert count_rows(shared_db, user_id) == (20, 20)
    assert "writes resumed" in caplog.text

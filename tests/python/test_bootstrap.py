"""bootstrap_sql/ on a real server: table shape, indexes, trigger, RLS, privileges, FKs."""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

import psycopg
import pytest
from conftest import connect, make_conversation, make_user

from chat_telemetry import bootstrap

# (column, data type, nullable, default) in table order: the 27 planned columns.
EXPECTED_COLUMNS = [
    ("log_id", "uuid", "NO", "gen_random_uuid()"),
    ("user_id", "uuid", "NO", None),
    ("conversation_id", "uuid", "YES", None),
    ("response_id", "text", "YES", None),
    ("created_at", "timestamp with time zone", "NO", "now()"),
    ("user_question", "text", "NO", None),
    ("ai_response", "text", "YES", None),
    ("generated_sql", "text", "YES", None),
    ("sql_fingerprint", "text", "YES", None),
    ("result_row_count", "integer", "YES", None),
    ("follow_up_suggestions", "jsonb", "YES", None),
    ("error_type", "text", "YES", None),
    ("error_message", "text", "YES", None),
    ("failed_step", "text", "YES", None),
    ("is_off_topic", "boolean", "NO", "false"),
    ("sql_model", "text", "YES", None),
    ("response_model", "text", "YES", None),
    ("nl_to_sql_duration_ms", "integer", "YES", None),
    ("sql_execution_duration_ms", "integer", "YES", None),
    ("response_generation_duration_ms", "integer", "YES", None),
    ("ttfb_ms", "integer", "YES", None),
    ("sql_input_tokens", "integer", "YES", None),
    ("sql_output_tokens", "integer", "YES", None),
    ("sql_cached_tokens", "integer", "YES", None),
    ("response_input_tokens", "integer", "YES", None),
    ("response_output_tokens", "integer", "YES", None),
    ("response_cached_tokens", "integer", "YES", None),
]
# Billing modes (issue 18), after the plan's 27 columns.
BILLING_COLUMNS = [
    ("sql_service_tier", "text", "YES", None),
    ("response_service_tier", "text", "YES", None),
    ("sql_cache_write_tokens", "integer", "YES", None),
    ("response_cache_write_tokens", "integer", "YES", None),
]

EXPECTED_INDEXES = {
    "chat_telemetry_log_pkey": "CREATE UNIQUE INDEX chat_telemetry_log_pkey ON public.chat_telemetry_log USING btree (log_id)",  # noqa: E501
    "idx_chat_telemetry_created_at": "CREATE INDEX idx_chat_telemetry_created_at ON public.chat_telemetry_log USING btree (created_at DESC)",  # noqa: E501
    "idx_chat_telemetry_user_id": "CREATE INDEX idx_chat_telemetry_user_id ON public.chat_telemetry_log USING btree (user_id, created_at DESC)",  # noqa: E501
    "idx_chat_telemetry_error": "CREATE INDEX idx_chat_telemetry_error ON public.chat_telemetry_log USING btree (error_type) WHERE (error_type IS NOT NULL)",  # noqa: E501
    "idx_chat_telemetry_fingerprint": "CREATE INDEX idx_chat_telemetry_fingerprint ON public.chat_telemetry_log USING btree (sql_fingerprint) WHERE (sql_fingerprint IS NOT NULL)",  # noqa: E501
}


def python_fingerprint(generated_sql: str) -> str:
    """The trigger's rule, computed independently: fold whitespace runs, lowercase, md5."""
    folded = re.sub(r"\s+", " ", generated_sql).lower()
    return hashlib.md5(folded.encode("utf-8")).hexdigest()


def insert_row(connection: psycopg.Connection, user_id: uuid.UUID, **values: Any) -> uuid.UUID:
    values = {"user_id": user_id, "user_question": "how many orders?", **values}
    columns = ", ".join(values)
    placeholders = ", ".join(["%s"] * len(values))
    row = connection.execute(
        f"insert into public.chat_telemetry_log ({columns}) "
        f"values ({placeholders}) returning log_id",
        list(values.values()),
    ).fetchone()
    assert row is not None
    return row[0]


def test_table_has_the_27_planned_columns_then_the_billing_columns(shared_db):
    with connect(shared_db) as connection:
        rows = connection.execute(
            """
            select column_name, data_type, is_nullable, column_default
            from information_schema.columns
            where table_schema = 'public' and table_name = 'chat_telemetry_log'
            order by ordinal_position
            """
        ).fetchall()
    assert [tuple(row) for row in rows] == EXPECTED_COLUMNS + BILLING_COLUMNS
    assert len(rows) == 31


def test_bootstrap_adds_the_billing_columns_to_a_table_made_before_them(fresh_db):
    """A table from before issue 18 (27 columns, with rows) gets the four nullable columns and
    their check; its rows stay as they were."""
    with connect(fresh_db) as connection:
        user_id = connection.execute(
            "insert into auth.users default values returning id"
        ).fetchone()
        for column, *_ in BILLING_COLUMNS:
            connection.execute(f"alter table public.chat_telemetry_log drop column {column}")
        connection.execute(
            "insert into public.chat_telemetry_log (user_id, user_question, sql_input_tokens)"
            " values (%s, 'old row', 10)",
            user_id,
        )
    bootstrap.apply(fresh_db.conninfo())
    bootstrap.apply(fresh_db.conninfo())
    with connect(fresh_db) as connection:
        columns = connection.execute(
            "select column_name, data_type, is_nullable, column_default"
            " from information_schema.columns"
            " where table_schema = 'public' and table_name = 'chat_telemetry_log'"
            " order by ordinal_position"
        ).fetchall()
        assert [tuple(row) for row in columns] == EXPECTED_COLUMNS + BILLING_COLUMNS
        row = connection.execute(
            "select user_question, sql_input_tokens, sql_service_tier, sql_cache_write_tokens"
            " from public.chat_telemetry_log"
        ).fetchone()
        assert row == ("old row", 10, None, None)
        with pytest.raises(psycopg.errors.CheckViolation):
            connection.execute(
                "insert into public.chat_telemetry_log"
                " (user_id, user_question, response_cache_write_tokens) values (%s, 'q', -1)",
                user_id,
            )


def test_indexes_have_their_exact_definitions(shared_db):
    with connect(shared_db) as connection:
        rows = connection.execute(
            "select indexname, indexdef from pg_indexes "
            "where schemaname = 'public' and tablename = 'chat_telemetry_log'"
        ).fetchall()
    assert dict(rows) == EXPECTED_INDEXES


def test_trigger_gives_whitespace_and_case_variants_one_fingerprint(shared_db):
    user_id = make_user(shared_db)
    variants = [
        "SELECT count(*) FROM orders WHERE status = 'open'",
        "select   COUNT(*)\n  from orders\twhere status = 'open'",
        "Select count(*) From Orders Where Status = 'open'",
    ]
    with connect(shared_db) as connection:
        ids = [insert_row(connection, user_id, generated_sql=text) for text in variants]
        fingerprints = {
            row[0]
            for row in connection.execute(
                "select sql_fingerprint from public.chat_telemetry_log where log_id = any(%s)",
                (ids,),
            )
        }
    assert fingerprints == {python_fingerprint(variants[0])}
    assert python_fingerprint(variants[0]) == python_fingerprint(variants[1])


def test_trigger_nulls_the_fingerprint_without_sql_and_overwrites_a_client_value(shared_db):
    user_id = make_user(shared_db)
    with connect(shared_db) as connection:
        without_sql = insert_row(connection, user_id, sql_fingerprint="client-made")
        with_sql = insert_row(
            connection, user_id, generated_sql="select 1", sql_fingerprint="client-made"
        )
        stored = dict(
            connection.execute(
                "select log_id, sql_fingerprint from public.chat_telemetry_log "
                "where log_id = any(%s)",
                ([without_sql, with_sql],),
            ).fetchall()
        )
    assert stored[without_sql] is None
    assert stored[with_sql] == python_fingerprint("select 1")


def test_fingerprint_of_huge_sql_fits_the_index(shared_db):
    user_id = make_user(shared_db)
    huge = "select " + ", ".join(f"column_{n}" for n in range(20_000)) + " from t"
    with connect(shared_db) as connection:
        log_id = insert_row(connection, user_id, generated_sql=huge)
        stored = connection.execute(
            "select sql_fingerprint from public.chat_telemetry_log where log_id = %s", (log_id,)
        ).fetchone()
    assert stored == (python_fingerprint(huge),)


@pytest.mark.parametrize("role", ["anon", "authenticated", "bi_reader"])
def test_api_and_bi_roles_can_neither_read_nor_write_raw_telemetry(shared_db, role):
    user_id = make_user(shared_db)
    with connect(shared_db) as connection:
        insert_row(connection, user_id)
        connection.execute(f"set role {role}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            connection.execute("select count(*) from public.chat_telemetry_log")
        for statement in (
            "insert into public.chat_telemetry_log (user_id, user_question) values (%s, 'q')",
            "update public.chat_telemetry_log set ai_response = 'x' where user_id = %s",
            "delete from public.chat_telemetry_log where user_id = %s",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                connection.execute(statement, (user_id,))


def test_a_granted_role_without_bypassrls_sees_no_rows_and_cannot_insert(shared_db):
    """Even with table privileges, RLS without policies hides every row from other roles."""
    user_id = make_user(shared_db)
    role = f"rls_probe_{uuid.uuid4().hex[:8]}"
    with connect(shared_db) as connection:
        insert_row(connection, user_id)
        connection.execute(f"create role {role} nologin")
        try:
            connection.execute(f"grant select, insert on public.chat_telemetry_log to {role}")
            connection.execute(f"set role {role}")
            assert connection.execute(
                "select count(*) from public.chat_telemetry_log"
            ).fetchone() == (0,)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                connection.execute(
                    "insert into public.chat_telemetry_log (user_id, user_question) "
                    "values (%s, 'q')",
                    (user_id,),
                )
        finally:
            connection.execute("reset role")
            connection.execute(f"revoke all on public.chat_telemetry_log from {role}")
            connection.execute(f"drop role {role}")


def test_service_role_can_insert_and_select_but_not_update_or_delete(shared_db):
    user_id = make_user(shared_db)
    with connect(shared_db) as connection:
        connection.execute("set role service_role")
        log_id = insert_row(connection, user_id, generated_sql="select 2")
        row = connection.execute(
            "select user_id, sql_fingerprint from public.chat_telemetry_log where log_id = %s",
            (log_id,),
        ).fetchone()
        assert row == (user_id, python_fingerprint("select 2"))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            connection.execute("delete from public.chat_telemetry_log where log_id = %s", (log_id,))


def test_deleting_a_user_deletes_its_telemetry(shared_db):
    user_id = make_user(shared_db)
    with connect(shared_db) as connection:
        insert_row(connection, user_id)
        insert_row(connection, user_id)
        connection.execute("delete from auth.users where id = %s", (user_id,))
        assert connection.execute(
            "select count(*) from public.chat_telemetry_log where user_id = %s", (user_id,)
        ).fetchone() == (0,)


def test_deleting_a_conversation_keeps_telemetry_with_a_null_conversation(shared_db):
    user_id = make_user(shared_db)
    conversation_id = make_conversation(shared_db, user_id)
    with connect(shared_db) as connection:
        log_id = insert_row(connection, user_id, conversation_id=conversation_id)
        connection.execute(
            "delete from public.chat_conversations where conversation_id = %s", (conversation_id,)
        )
        assert connection.execute(
            "select conversation_id from public.chat_telemetry_log where log_id = %s", (log_id,)
        ).fetchone() == (None,)


@pytest.mark.parametrize(
    "values",
    [
        {"error_type": "oops"},
        {"failed_step": "somewhere"},
        {"ttfb_ms": -1},
        {"sql_cached_tokens": -5},
        {"follow_up_suggestions": psycopg.types.json.Jsonb({"not": "an array"})},
    ],
)
def test_check_constraints_reject_invalid_values(shared_db, values):
    user_id = make_user(shared_db)
    with connect(shared_db) as connection, pytest.raises(psycopg.errors.CheckViolation):
        insert_row(connection, user_id, **values)


CATALOG_QUERIES = {
    "roles": """
        select rolname, rolcanlogin, rolbypassrls, rolinherit, rolsuper from pg_roles
        where rolname in ('anon', 'authenticated', 'service_role', 'bi_reader', 'telemetry_loader')
        order by 1""",
    "schemas": "select nspname, nspacl::text from pg_namespace order by 1",
    "tables": """
        select c.oid::regclass::text, c.relkind, c.relrowsecurity, c.relforcerowsecurity,
               c.relacl::text, obj_description(c.oid, 'pg_class')
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname in ('public', 'auth') order by 1""",
    "columns": """
        select a.attrelid::regclass::text, a.attnum, a.attname,
               format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid),
               a.attacl::text
        from pg_attribute a join pg_class c on c.oid = a.attrelid
        join pg_namespace n on n.oid = c.relnamespace
        left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
        where n.nspname in ('public', 'auth') and a.attnum > 0 and not a.attisdropped
        order by 1, 2""",
    "constraints": """
        select conrelid::regclass::text, conname, pg_get_constraintdef(oid) from pg_constraint
        where connamespace in ('public'::regnamespace, 'auth'::regnamespace) order by 1, 2""",
    "indexes": """
        select schemaname, indexname, indexdef from pg_indexes
        where schemaname in ('public', 'auth') order by 1, 2""",
    "triggers": """
        select tgrelid::regclass::text, tgname, pg_get_triggerdef(oid), tgenabled from pg_trigger
        where not tgisinternal order by 1, 2""",
    "functions": """
        select p.oid::regprocedure::text, pg_get_functiondef(p.oid), p.proacl::text
        from pg_proc p where p.pronamespace = 'public'::regnamespace order by 1""",
    "policies": "select * from pg_policies order by schemaname, tablename, policyname",
}


def catalog_snapshot(connection: psycopg.Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {
        name: [tuple(row) for row in connection.execute(query).fetchall()]
        for name, query in CATALOG_QUERIES.items()
    }


def test_bootstrap_twice_leaves_the_catalog_as_once(fresh_db):
    """The template was bootstrapped once; apply everything again and compare the catalog."""
    with connect(fresh_db) as connection:
        once = catalog_snapshot(connection)
    applied = bootstrap.apply(fresh_db.conninfo())
    assert [file.name for file in applied] == [
        "00_supabase_compat.sql",
        "10_chat_telemetry_log.sql",
        "20_bi_reader_role.sql",
        "30_retention.sql",
        "40_telemetry_loader_role.sql",
    ]
    with connect(fresh_db) as connection:
        twice = catalog_snapshot(connection)
    assert twice == once
    assert any(row[1] == "trg_chat_telemetry_sql_fingerprint" for row in once["triggers"])


def test_compat_file_changes_nothing_where_supabase_objects_exist(fresh_db):
    """Objects made differently beforehand (as Supabase has them) are left exactly alone."""
    with connect(fresh_db) as connection:
        connection.execute("alter table auth.users add column phone text")
        before = catalog_snapshot(connection)
        compat = bootstrap.BOOTSTRAP_DIR / "00_supabase_compat.sql"
        connection.execute(compat.read_text().encode())
        assert catalog_snapshot(connection) == before


def test_bi_role_has_no_privilege_on_raw_telemetry(shared_db):
    with connect(shared_db) as connection:
        rows = connection.execute(
            """
            select privilege
            from unnest(array['select', 'insert', 'update', 'delete', 'truncate']) as privilege
            where has_table_privilege('bi_reader', 'public.chat_telemetry_log', privilege)
            """
        ).fetchall()
        role = connection.execute(
            "select rolcanlogin, rolbypassrls from pg_roles where rolname = 'bi_reader'"
        ).fetchone()
    assert rows == []
    assert role == (False, False)


def test_the_bi_role_name_is_configurable(fresh_db, monkeypatch):
    monkeypatch.setenv("CHAT_TELEMETRY_BI_ROLE", "looker_reader")
    try:
        bootstrap.apply(fresh_db.conninfo())
        with connect(fresh_db) as connection:
            role = connection.execute(
                "select rolcanlogin, rolbypassrls from pg_roles where rolname = 'looker_reader'"
            ).fetchone()
            can_read_raw = connection.execute(
                "select has_table_privilege('looker_reader', 'public.chat_telemetry_log', 'select')"
            ).fetchone()
        assert role == (False, False)
        assert can_read_raw == (False,)
    finally:
        with connect(fresh_db) as connection:
            connection.execute("drop role if exists looker_reader")


def test_only_the_owner_purges_and_only_service_role_reads_the_purge_log(fresh_db):
    """The purge deletes personal data in bulk: nobody but the table owner may run it."""
    with connect(fresh_db) as connection:
        for role in ("service_role", "anon", "authenticated", "bi_reader"):
            connection.execute(f"set role {role}")
            try:
                connection.execute("call public.purge_chat_telemetry(30)")
            except psycopg.errors.InsufficientPrivilege:
                pass
            else:
                raise AssertionError(f"{role} could run the purge")
            finally:
                connection.execute("reset role")
        for role in ("anon", "authenticated", "bi_reader"):
            connection.execute(f"set role {role}")
            try:
                connection.execute("select * from public.chat_telemetry_purges")
            except psycopg.errors.InsufficientPrivilege:
                pass
            else:
                raise AssertionError(f"{role} could read the purge log")
            finally:
                connection.execute("reset role")
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="at least 10"):
            connection.execute("call public.purge_chat_telemetry(3)")
        assert connection.execute(
            "select count(*) from public.chat_telemetry_purges"
        ).fetchone() == (0,)


def test_the_loader_role_reads_only_what_the_marts_need(shared_db):
    """telemetry_loader (Spark landing) sees every row, but no free-text column, and writes
    nothing: the question, the answer, follow-ups and error messages never leave Postgres."""
    user_id = make_user(shared_db)
    with connect(shared_db) as connection:
        log_id = insert_row(connection, user_id, error_message="secret", generated_sql="select 1")
        connection.execute(
            "update public.chat_telemetry_log set user_question = %s, "
            "follow_up_suggestions = %s where log_id = %s",
            ("  Show SALES\tby month ", '["Top 5 products", "Show sales by month"]', log_id),
        )
        role = connection.execute(
            "select rolcanlogin, rolbypassrls from pg_roles where rolname = 'telemetry_loader'"
        ).fetchone()
        assert role == (False, False)
        connection.execute("set role telemetry_loader")
        try:
            landed = connection.execute(
                "select user_id, generated_sql, sql_fingerprint from public.chat_telemetry_log "
                "where log_id = %s",
                (log_id,),
            ).fetchone()
            assert landed is not None and landed[0] == user_id and landed[1] == "select 1"
            assert connection.execute(
                "select count(*) from auth.users where id = %s", (user_id,)
            ).fetchone() == (1,)
            connection.execute("select count(*) from public.chat_telemetry_purges")
            # Hashes of the normalised question and suggestions, never the text.
            hashes = connection.execute(
                "select question_hash, follow_up_suggestion_hashes "
                "from public.chat_telemetry_log_text_hashes where log_id = %s",
                (log_id,),
            ).fetchone()
            digest = hashlib.md5(b"show sales by month").hexdigest()
            top = hashlib.md5(b"top 5 products").hexdigest()
            assert hashes == (digest, f"{top},{digest}")
            for statement in (
                "select user_question from public.chat_telemetry_log",
                "select ai_response from public.chat_telemetry_log",
                "select follow_up_suggestions from public.chat_telemetry_log",
                "select error_message from public.chat_telemetry_log",
                "select * from public.chat_telemetry_log",
                "delete from public.chat_telemetry_log",
                "update public.chat_telemetry_log set ttfb_ms = 1",
                "insert into public.chat_telemetry_log (user_id, user_question) "
                "values (gen_random_uuid(), 'q')",
                "call public.purge_chat_telemetry(30)",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    connection.execute(statement)
        finally:
            connection.execute("reset role")
        for role in ("bi_reader", "anon", "authenticated", "service_role"):
            connection.execute(f"set role {role}")
            try:
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    connection.execute("select * from public.chat_telemetry_log_text_hashes")
            finally:
                connection.execute("reset role")

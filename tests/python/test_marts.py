"""Every mart, column by column, against an independent Python computation on the same rows,
after a full build and again after an incremental build with late rows and a new day."""

from __future__ import annotations

import json
import math
import random
import re
import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import psycopg
from conftest import connect, run_dbt
from psycopg.types.json import Jsonb
from reference_marts import Reference
from test_bootstrap import python_fingerprint

from chat_telemetry import database

TIMEZONE = "America/New_York"
MODELS = [
    "gpt-4o-mini",
    "gpt-4o-mini-2024-07-18",  # a snapshot, priced as gpt-4o-mini
    "gpt-4o-2024-05-13",  # a snapshot with its own price row
    "gpt-4.1-mini-2025-04-14",
    "o3",  # price changed on 2025-06-10 (UTC)
    "mystery-model-1",  # unpriced
    None,
]
SQL_VARIANTS = [
    "SELECT count(*) FROM orders",
    "select   COUNT(*)\nfrom orders",
    "SELECT name FROM customers WHERE id = 1",
    "select sum(total) from invoices group by month",
    "SELECT 1",
]
ERRORS = [
    ("sql_generation", "understanding"),
    ("sql_validation", None),
    ("sql_execution", "looking_up"),
    ("response_generation", "response"),
    ("unexpected", None),
]
KEYS = {
    "fct_daily_token_cost": ("request_date", "step", "model"),
    "fct_daily_step_latency": ("request_date", "step"),
    "fct_daily_errors": ("request_date", "error_type", "failed_step"),
    "fct_daily_user_usage": ("request_date", "user_id"),
    "rpt_user_usage_30d": ("user_id",),
    "fct_sql_fingerprints": ("sql_fingerprint",),
    "fct_daily_off_topic": ("request_date",),
    "fct_model_comparison": ("sql_model", "response_model"),
    "fct_daily_answer_quality": ("request_date", "sql_model"),
    "fct_conversations": ("conversation_id",),
}
# Questions and the suggestions that may lead to them: some match only after normalising.
QUESTIONS = [
    "Show sales by month",
    "  show SALES   by\tmonth ",
    "Which customers churned?",
    "which customers churned?",
    "Top 5 products",
    "How many orders last week?",
]
SUGGESTIONS = ["Show sales by month", "Which customers churned?", "Top 5 products", "Export"]


def maybe(rng: random.Random, value: Any, none_share: float = 0.1) -> Any:
    return None if rng.random() < none_share else value


def conversation_of(rng: random.Random, user: uuid.UUID, day: date) -> uuid.UUID | None:
    """None for 15% of requests; else one of two conversations of the user that UTC day (a
    UTC day crosses New York's midnight, so conversations cross the reporting day)."""
    if rng.random() < 0.15:
        return None
    return uuid.uuid5(uuid.NAMESPACE_OID, f"{user}/{day.isoformat()}/{rng.randrange(2)}")


def varied_rows(rng: random.Random, users: list[uuid.UUID], days: list[date], per_day: int):
    rows = []
    for day in days:
        for _ in range(per_day):
            # Any second of the UTC day: New York's midnight splits each UTC day in two.
            at = datetime.combine(day, time(0), tzinfo=timezone.utc) + timedelta(
                seconds=rng.randrange(86_400), microseconds=rng.randrange(1_000_000)
            )
            error = rng.choice(ERRORS) if rng.random() < 0.15 else (None, None)
            sql_input = maybe(rng, rng.randint(0, 6000))
            response_input = maybe(rng, rng.randint(0, 4000))
            user = rng.choice(users)
            rows.append(
                {
                    "log_id": uuid.UUID(int=rng.getrandbits(128), version=4),
                    "user_id": user,
                    "conversation_id": conversation_of(rng, user, day),
                    "created_at": at,
                    "user_question": rng.choice(QUESTIONS),
                    "follow_up_suggestions": rng.choice(
                        [None, [], rng.sample(SUGGESTIONS, rng.randint(1, 3))]
                    ),
                    "generated_sql": maybe(rng, rng.choice(SQL_VARIANTS), 0.2),
                    "result_row_count": maybe(rng, rng.randint(0, 500), 0.3),
                    "error_type": error[0],
                    "failed_step": error[1],
                    "is_off_topic": rng.random() < 0.08,
                    "sql_model": rng.choice(MODELS),
                    "response_model": rng.choice(MODELS),
                    "nl_to_sql_duration_ms": maybe(rng, rng.randint(50, 9000)),
                    "sql_execution_duration_ms": maybe(rng, rng.randint(1, 30000), 0.25),
                    "response_generation_duration_ms": maybe(rng, rng.randint(100, 12000)),
                    "ttfb_ms": maybe(rng, rng.randint(100, 15000)),
                    "sql_input_tokens": sql_input,
                    "sql_output_tokens": maybe(rng, rng.randint(0, 400)),
                    "sql_cached_tokens": None if sql_input is None else rng.randint(0, sql_input),
                    "response_input_tokens": response_input,
                    "response_output_tokens": maybe(rng, rng.randint(0, 900)),
                    "response_cached_tokens": (
                        None if response_input is None else rng.randint(0, response_input)
                    ),
                }
            )
    return rows


def insert(db, rows: list[dict[str, Any]]) -> None:
    columns = list(rows[0])
    with connect(db) as connection:
        users = {row["user_id"] for row in rows}
        connection.cursor().executemany(
            "insert into auth.users (id) values (%s) on conflict do nothing",
            [(user,) for user in users],
        )
        conversations = {
            (row["conversation_id"], row["user_id"])
            for row in rows
            if row.get("conversation_id") is not None
        }
        connection.cursor().executemany(
            "insert into public.chat_conversations (conversation_id, user_id) values (%s, %s) "
            "on conflict do nothing",
            sorted(conversations, key=str),
        )
        with connection.cursor() as cursor:
            cursor.executemany(
                f"insert into public.chat_telemetry_log ({', '.join(columns)}) "
                f"values ({', '.join(['%s'] * len(columns))})",
                [
                    [
                        Jsonb(row[column])
                        if column == "follow_up_suggestions" and row[column] is not None
                        else row[column]
                        for column in columns
                    ]
                    for row in rows
                ],
            )
        connection.execute("analyze public.chat_telemetry_log")


def read_mart(db, name: str, schema: str = "analytics") -> dict[tuple, dict[str, Any]]:
    with connect(db) as connection:
        cursor = connection.execute(f"select * from {schema}.{name}")
        names = [column.name for column in cursor.description or []]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return {tuple(row[key] for key in KEYS[name]): row for row in rows}


def same(actual: Any, expected: Any) -> bool:
    if expected is None or actual is None:
        return actual is None and expected is None
    if isinstance(expected, Decimal) or isinstance(actual, Decimal):
        return abs(Decimal(actual) - Decimal(expected)) <= Decimal("1e-12")
    if isinstance(expected, float) or isinstance(actual, float):
        return math.isclose(float(actual), float(expected), rel_tol=1e-9, abs_tol=1e-9)
    return actual == expected


def assert_mart_matches(
    db, name: str, expected: dict[tuple, dict[str, Any]], schema: str = "analytics"
) -> None:
    actual = read_mart(db, name, schema)
    assert set(actual) == set(expected), f"{name}: keys differ"
    mismatches = [
        (key, column, actual[key][column], value)
        for key, columns in expected.items()
        for column, value in columns.items()
        if not same(actual[key][column], value)
    ]
    assert not mismatches, f"{name}: {mismatches[:5]}"


def assert_all_marts_match(db, rows, as_of: date) -> None:
    reference = Reference(rows, TIMEZONE, as_of)
    assert_mart_matches(db, "fct_daily_token_cost", reference.daily_token_cost())
    assert_mart_matches(db, "fct_daily_step_latency", reference.daily_step_latency())
    assert_mart_matches(db, "fct_daily_errors", reference.daily_errors())
    assert_mart_matches(db, "fct_daily_user_usage", reference.daily_user_usage())
    assert_mart_matches(db, "rpt_user_usage_30d", reference.user_usage_30d())
    assert_mart_matches(db, "fct_sql_fingerprints", reference.sql_fingerprints(python_fingerprint))
    assert_mart_matches(db, "fct_daily_off_topic", reference.daily_off_topic())
    assert_mart_matches(db, "fct_model_comparison", reference.model_comparison())
    assert_mart_matches(db, "fct_daily_answer_quality", reference.daily_answer_quality())
    assert_mart_matches(db, "fct_conversations", reference.conversations())


def dbt_vars(as_of: date) -> str:
    return json.dumps({"reporting_timezone": TIMEZONE, "as_of_date": as_of.isoformat()})


def test_marts_match_an_independent_computation_after_full_and_incremental_builds(fresh_db):
    rng = random.Random(20250610)
    users = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(12)]
    # Around o3's price change (2025-06-10 UTC), plus two days outside the 30-day window.
    days = [date(2025, 5, 1), date(2025, 5, 13)] + [date(2025, 6, d) for d in range(7, 13)]
    rows = varied_rows(rng, users, days, per_day=70)
    insert(fresh_db, rows)
    as_of = date(2025, 6, 12)
    run_dbt(fresh_db, "build", "--full-refresh", "--vars", dbt_vars(as_of))
    assert_all_marts_match(fresh_db, rows, as_of)

    # Late rows for a day inside the lookback, and a whole new day.
    late = varied_rows(rng, users, [date(2025, 6, 11)], per_day=25)
    new_day = varied_rows(rng, users, [date(2025, 6, 13)], per_day=60)
    insert(fresh_db, late + new_day)
    run_dbt(fresh_db, "build", "--vars", dbt_vars(date(2025, 6, 13)))
    assert_all_marts_match(fresh_db, rows + late + new_day, date(2025, 6, 13))


# Billing modes (issue 18): models with tier, cache-write and long-context prices, around the
# day the seed's tier prices start (2026-10-12 UTC).
BILLING_MODELS = ["gpt-5.4", "gpt-5.6-terra", "gpt-5.6", "gpt-5-mini", "gpt-4.1-mini", "o3", None]
REPORTED_TIERS = [None, None, "", "default", "flex", "priority", "fast", " Priority ", "scale"]
LONG_INPUTS = [271_999, 272_000, 272_001, 300_000, 900_000]


def with_billing_modes(rng: random.Random, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same rows with tiers as responses report them (`fast`, odd case, an unknown name),
    cache writes (part of the input, beside the cached tokens) and calls just under, at and
    above the long-context threshold."""
    for row in rows:
        for step in ("sql", "response"):
            row[f"{step}_model"] = rng.choice(BILLING_MODELS)
            row[f"{step}_service_tier"] = rng.choice(REPORTED_TIERS)
            tokens_in = row[f"{step}_input_tokens"]
            if tokens_in is not None and rng.random() < 0.15:
                tokens_in = rng.choice(LONG_INPUTS)
                row[f"{step}_input_tokens"] = tokens_in
                row[f"{step}_cached_tokens"] = rng.randint(0, tokens_in // 2)
            cached = row[f"{step}_cached_tokens"]
            row[f"{step}_cache_write_tokens"] = (
                None
                if tokens_in is None or rng.random() < 0.3
                else rng.randint(0, tokens_in - cached)
            )
    return rows


def test_marts_price_every_billing_mode_like_an_independent_computation(fresh_db):
    rng = random.Random(20261012)
    users = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(10)]
    days = [date(2026, 10, d) for d in range(9, 14)]
    rows = with_billing_modes(rng, varied_rows(rng, users, days, per_day=80))
    insert(fresh_db, rows)
    as_of = date(2026, 10, 13)
    run_dbt(fresh_db, "build", "--full-refresh", "--vars", dbt_vars(as_of))
    assert_all_marts_match(fresh_db, rows, as_of)
    expected = Reference(rows, TIMEZONE, as_of).daily_token_cost()
    # The data exercises what it claims to: every billing mode is present and priced somewhere.
    totals = {
        column: sum(row[column] for row in expected.values())
        for column in (
            "flex_tier_requests",
            "priority_tier_requests",
            "other_tier_requests",
            "long_context_requests",
            "cache_write_input_tokens",
            "unpriced_requests",
        )
    }
    assert all(totals.values()), totals
    assert sum(row["cache_write_input_cost_usd"] or 0 for row in expected.values()) > 0

    late = with_billing_modes(rng, varied_rows(rng, users, [date(2026, 10, 12)], per_day=30))
    insert(fresh_db, late)
    run_dbt(fresh_db, "build", "--vars", dbt_vars(as_of))
    assert_all_marts_match(fresh_db, rows + late, as_of)


def test_bi_role_reads_marts_but_not_raw_or_internal_models(fresh_db):
    rng = random.Random(5)
    rows = varied_rows(rng, [uuid.uuid4()], [date(2025, 6, 12)], per_day=20)
    insert(fresh_db, rows)
    run_dbt(fresh_db, "build", "--vars", dbt_vars(date(2025, 6, 12)))
    with connect(fresh_db) as connection:
        connection.execute("set role bi_reader")
        for mart in KEYS:
            connection.execute(f"select count(*) from analytics.{mart}")
        for forbidden in (
            "public.chat_telemetry_log",
            "analytics_internal.stg_chat_telemetry__requests",
            "analytics_internal.int_requests_dated",
            "analytics_internal.token_prices",
            "analytics_internal.int_requests_sequenced",
            "public.chat_telemetry_log_text_hashes",
        ):
            try:
                connection.execute(f"select 1 from {forbidden} limit 1")
            except psycopg.errors.InsufficientPrivilege:
                continue
            raise AssertionError(f"bi_reader could read {forbidden}")
        # No column the role can read anywhere holds a question, a suggestion or their hash.
        connection.execute("reset role")
        readable = connection.execute(
            """
            select table_schema, table_name, column_name
            from information_schema.columns
            where
                table_schema not in ('pg_catalog', 'information_schema')
                and has_column_privilege(
                    'bi_reader',
                    format('%I.%I', table_schema, table_name),
                    column_name,
                    'select'
                )
            """
        ).fetchall()
    assert {schema for schema, _, _ in readable} == {"analytics"}
    assert {table for _, table, _ in readable} == {*KEYS, "rpt_alerts", "metricflow_time_spine"}
    named_like_text = [row for row in readable if re.search("question|answer|hash", row[2])]
    assert not named_like_text, named_like_text
    # Nor does any value: no readable text column holds a question's or suggestion's hash.
    with connect(fresh_db) as connection:
        hashes = {
            value
            for question, suggestions in connection.execute(
                "select question_hash, follow_up_suggestion_hashes "
                "from analytics_internal.stg_chat_telemetry__requests"
            ).fetchall()
            for value in [question, *suggestions.split(",")]
            if value
        }
        assert hashes
        for schema, table, column in readable:
            values = connection.execute(
                f'select distinct "{column}"::text from {schema}.{table}'
            ).fetchall()
            assert not hashes & {value for (value,) in values}, (table, column)


def test_the_seven_report_analyses_run_as_the_bi_role(fresh_db):
    rng = random.Random(9)
    rows = varied_rows(rng, [uuid.uuid4(), uuid.uuid4()], [date(2025, 6, 11)], per_day=40)
    insert(fresh_db, rows)
    variables = dbt_vars(date(2025, 6, 12))
    run_dbt(fresh_db, "build", "--vars", variables)
    run_dbt(fresh_db, "compile", "--select", "analyses/*", "--vars", variables)
    compiled = sorted(
        (database.PROJECT_ROOT / "target/pytest/compiled/chat_telemetry/analyses").glob("*.sql")
    )
    assert len(compiled) == 7
    with connect(fresh_db) as connection:
        connection.execute("set role bi_reader")
        for path in compiled:
            result = connection.execute(path.read_text().encode()).fetchall()
            assert result, f"{path.name} returned no row"


def test_a_deleted_user_disappears_from_the_per_user_marts(fresh_db):
    """Older days are outside the lookback, so only the post-hook can remove the user there."""
    rng = random.Random(77)
    users = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(4)]
    days = [date(2025, 5, 20), date(2025, 6, 1), date(2025, 6, 12)]
    rows = varied_rows(rng, users, days, per_day=40)
    insert(fresh_db, rows)
    variables = dbt_vars(date(2025, 6, 12))
    run_dbt(fresh_db, "build", "--full-refresh", "--vars", variables)
    gone = users[0]
    with connect(fresh_db) as connection:
        connection.execute("delete from auth.users where id = %s", (gone,))
    run_dbt(fresh_db, "run", "--vars", variables)
    remaining = [row for row in rows if row["user_id"] != gone]
    reference = Reference(remaining, TIMEZONE, date(2025, 6, 12))
    assert_mart_matches(fresh_db, "fct_daily_user_usage", reference.daily_user_usage())
    assert_mart_matches(fresh_db, "rpt_user_usage_30d", reference.user_usage_30d())
    assert all(key[1] != gone for key in read_mart(fresh_db, "fct_daily_user_usage"))


def quality_request(
    user: uuid.UUID,
    conversation: uuid.UUID | None,
    at: datetime,
    question: str = "How many orders last week?",
    *,
    rows_found: int | None = 5,
    error: tuple[str, str | None] | None = None,
    suggestions: list[str] | None = None,
) -> dict[str, Any]:
    """One request as the answer-quality scenario needs it (the same columns as varied_rows)."""
    return {
        "log_id": uuid.uuid4(), "user_id": user, "conversation_id": conversation,
        "created_at": at, "user_question": question,
        "follow_up_suggestions": suggestions,
        "generated_sql": None if error and error[0] == "sql_generation" else "SELECT 1",
        "result_row_count": None if error else rows_found,
        "error_type": error[0] if error else None, "failed_step": error[1] if error else None,
        "is_off_topic": False, "sql_model": "gpt-4o-mini", "response_model": "gpt-4o-mini",
        "nl_to_sql_duration_ms": 800, "sql_execution_duration_ms": 40,
        "response_generation_duration_ms": 900, "ttfb_ms": 1200,
        "sql_input_tokens": 1500, "sql_output_tokens": 20, "sql_cached_tokens": 0,
        "response_input_tokens": 1000, "response_output_tokens": 120,
        "response_cached_tokens": 0,
    }  # fmt: skip


def test_answer_quality_follows_conversations_across_days_late_rows_and_erasure(fresh_db):
    """The issue's cases: a late next request landing a day later corrects the earlier day,
    a conversation crossing midnight (New York), a suggestion that matches only after
    normalising, a re-ask just inside and just outside the window, requests with no
    conversation, and an erased user whose conversation disappears."""
    kept, erased = uuid.uuid4(), uuid.uuid4()
    talk, failing, unmatched, theirs = (uuid.uuid4() for _ in range(4))
    utc = timezone.utc
    late_night = datetime(2025, 6, 11, 3, 58, tzinfo=utc)  # 23:58 on 2025-06-10 in New York
    empty = quality_request(kept, talk, late_night, rows_found=0)
    # Asked again 4 minutes later, after midnight in New York; written late (step 2).
    failed = quality_request(
        kept, talk, late_night + timedelta(minutes=4), error=("sql_execution", "looking_up")
    )
    # Exactly the window after the failure: re-asked.
    empty_again = quality_request(
        kept, talk, failed["created_at"] + timedelta(minutes=5), rows_found=0,
        suggestions=["Show sales by month", "Export the rows"],
    )  # fmt: skip
    # One second outside the window (not a re-ask), but it takes a suggestion once normalised.
    followed = quality_request(
        kept, talk, empty_again["created_at"] + timedelta(minutes=5, seconds=1),
        "  SHOW sales\n  BY month ",
    )  # fmt: skip
    noon = datetime(2025, 6, 11, 16, 0, tzinfo=utc)
    last_failure = quality_request(
        kept, failing, noon, error=("sql_generation", "understanding"),
        suggestions=["Top 5 products"],
    )  # fmt: skip
    # No conversation: never re-asked, never followed, whatever comes next.
    orphan = quality_request(kept, None, noon + timedelta(minutes=1), error=("unexpected", None))
    orphan_next = quality_request(
        kept, None, noon + timedelta(minutes=2), suggestions=["Top 5 products"]
    )
    orphan_after = quality_request(kept, None, noon + timedelta(minutes=3), "Top 5 products")
    offered = quality_request(
        kept, unmatched, noon + timedelta(hours=1), suggestions=["Which customers churned?"]
    )
    not_taken = quality_request(
        kept, unmatched, noon + timedelta(hours=1, minutes=1), "Which customers churned? Why?"
    )
    # The erased user's conversation spans an old day (outside the lookback) and a recent one.
    their_old = quality_request(
        erased, theirs, datetime(2025, 6, 1, 15, 0, tzinfo=utc), rows_found=0
    )
    their_next = quality_request(erased, theirs, their_old["created_at"] + timedelta(minutes=2))
    their_recent = quality_request(erased, theirs, noon + timedelta(minutes=30))
    first_rows = [
        empty, empty_again, followed, last_failure, orphan, orphan_next, orphan_after,
        offered, not_taken, their_old, their_next, their_recent,
    ]  # fmt: skip
    as_of = date(2025, 6, 12)
    variables = dbt_vars(as_of)

    # The scenario means what it says (checked on the reference, before any build).
    flags = Reference([*first_rows, failed], TIMEZONE, as_of).answer_quality_flags()
    assert flags[empty["log_id"]]["reasked"] and flags[failed["log_id"]]["reasked"]
    assert not flags[empty_again["log_id"]]["reasked"]
    assert flags[empty_again["log_id"]]["followed"]
    assert not any(flags[r["log_id"]]["reasked"] for r in (orphan, orphan_next))
    assert not flags[orphan_next["log_id"]]["followed"]
    assert not flags[offered["log_id"]]["followed"] and flags[offered["log_id"]]["has_suggestions"]
    assert flags[their_old["log_id"]]["reasked"]

    # 1. A full build before the late request: the empty result is not re-asked yet.
    insert(fresh_db, first_rows)
    run_dbt(fresh_db, "build", "--full-refresh", "--vars", variables)
    assert_mart_matches(
        fresh_db, "fct_daily_answer_quality",
        Reference(first_rows, TIMEZONE, as_of).daily_answer_quality(),
    )  # fmt: skip
    assert_mart_matches(
        fresh_db, "fct_conversations", Reference(first_rows, TIMEZONE, as_of).conversations()
    )
    before = read_mart(fresh_db, "fct_daily_answer_quality")
    assert before[(date(2025, 6, 10), "gpt-4o-mini")]["reasked_requests"] == 0

    # 2. The next request lands late, on the next New York day: the plain scheduled build
    #    corrects the earlier day (within the lookback) and the conversation.
    insert(fresh_db, [failed])
    run_dbt(fresh_db, "build", "--vars", variables)
    every_row = [*first_rows, failed]
    reference = Reference(every_row, TIMEZONE, as_of)
    assert_mart_matches(fresh_db, "fct_daily_answer_quality", reference.daily_answer_quality())
    assert_mart_matches(fresh_db, "fct_conversations", reference.conversations())
    after = read_mart(fresh_db, "fct_daily_answer_quality")
    assert after[(date(2025, 6, 10), "gpt-4o-mini")]["reasked_requests"] == 1
    conversation = read_mart(fresh_db, "fct_conversations")[(talk,)]
    assert conversation["turns"] == 4 and conversation["suggestions_followed"] == 1
    assert read_mart(fresh_db, "fct_conversations")[(failing,)]["ended_on_failure"]

    # 3. The user is erased: their conversation disappears, also its day older than the
    #    lookback; nobody else's changes.
    with connect(fresh_db) as connection:
        connection.execute("delete from auth.users where id = %s", (erased,))
    run_dbt(fresh_db, "run", "--vars", variables)
    remaining = [row for row in every_row if row["user_id"] != erased]
    assert_mart_matches(
        fresh_db, "fct_conversations", Reference(remaining, TIMEZONE, as_of).conversations()
    )
    assert (theirs,) not in read_mart(fresh_db, "fct_conversations")

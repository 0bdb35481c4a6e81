"""The project installed as a dbt package in someone else's project (integration_tests/).

The consumer has its own generate_schema_name, a target not named dev, no BI role var, a
model named like one of ours, a global var named like one of ours and its own price table.
Our marts must land under its naming and match the independent computation priced with its
prices; our hooks must not act on its own runs, nor refuse its unrelated --full-refresh
after a purge.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from conftest import connect
from reference_marts import Reference
from test_bootstrap import python_fingerprint
from test_marts import assert_mart_matches, insert, read_mart, varied_rows
from test_marts_over_time import purge_command

from chat_telemetry import database, dbt

# A handful of dbt runs in a second project: the slow suite (make test-slow, .ci/run).
pytestmark = pytest.mark.slow

CONSUMER = database.PROJECT_ROOT / "integration_tests"
CONSUMER_PRICES = CONSUMER / "seeds" / "consumer_token_prices.csv"
OUR_MARTS_SCHEMA = "ci_marts"  # the consumer's naming of our custom schema `marts`


def run_consumer(db, *arguments: str, expect_failure: bool = False):
    done = dbt.run(
        db,
        *arguments,
        project=CONSUMER,
        unset=("DBT_TARGET_PATH", "DBT_TARGET", "CHAT_TELEMETRY_BI_ROLE"),
        timeout=600,
    )
    failed = done.returncode != 0
    assert failed == expect_failure, f"dbt {' '.join(arguments)}:\n{done.stdout[-6000:]}"
    return done


def tables_named(db, name: str) -> list[str]:
    with connect(db) as connection:
        return [
            schema
            for (schema,) in connection.execute(
                "select table_schema from information_schema.tables where table_name = %s",
                (name,),
            )
        ]


def test_a_consumer_project_builds_our_marts_under_its_own_naming_and_prices(fresh_db):
    rng = random.Random(2222)
    users = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(8)]
    today = datetime.now(timezone.utc).date()
    days = [today - timedelta(days=offset) for offset in range(14, 0, -1)]
    rows = varied_rows(rng, users, days, per_day=40)
    insert(fresh_db, rows)
    run_consumer(fresh_db, "deps")

    # Its own model alone: none of our hooks act (no settings table of ours appears).
    run_consumer(fresh_db, "run", "-s", "chat_telemetry_integration_tests.stg_auth__users")
    assert tables_named(fresh_db, "chat_telemetry_build_settings") == []

    run_consumer(fresh_db, "seed")
    # The windows end on the day the reference is computed for, even if a build runs past
    # midnight UTC (the windowed marts would otherwise end on the next day).
    as_of_today = json.dumps({"chat_telemetry__as_of_date": today.isoformat()})
    run_consumer(fresh_db, "build", "--vars", as_of_today)
    assert tables_named(fresh_db, "chat_telemetry_build_settings") == ["ci_internal"]
    assert tables_named(fresh_db, "fct_daily_token_cost") == [OUR_MARTS_SCHEMA]

    # Priced with the consumer's own price table, and right in every mart.
    reference = Reference(rows, "UTC", today, prices_csv=CONSUMER_PRICES)
    expected = {
        "fct_daily_token_cost": reference.daily_token_cost(),
        "fct_daily_step_latency": reference.daily_step_latency(),
        "fct_daily_errors": reference.daily_errors(),
        "fct_daily_user_usage": reference.daily_user_usage(),
        "rpt_user_usage_30d": reference.user_usage_30d(),
        "fct_sql_fingerprints": reference.sql_fingerprints(python_fingerprint),
        "fct_daily_off_topic": reference.daily_off_topic(),
        "fct_model_comparison": reference.model_comparison(),
    }
    for name, rows_expected in expected.items():
        assert_mart_matches(fresh_db, name, rows_expected, schema=OUR_MARTS_SCHEMA)
    with_our_seed = Reference(rows, "UTC", today).daily_token_cost()
    costs = read_mart(fresh_db, "fct_daily_token_cost", OUR_MARTS_SCHEMA)
    repriced = [
        key
        for key, row in costs.items()
        if key[2].startswith("gpt-4.1-mini")
        and row["input_cost_usd"] != with_our_seed[key]["input_cost_usd"]
    ]
    assert repriced, "gpt-4.1-mini was not priced with the consumer's price"
    # The consumer model reads our mart.
    with connect(fresh_db) as connection:
        spend = dict(connection.execute("select * from consumer.consumer_daily_spend").fetchall())
    by_day: dict[date, object] = {}
    for (day, _step, _model), row in reference.daily_token_cost().items():
        if row["total_cost_usd"] is not None:
            by_day[day] = by_day.get(day, 0) + row["total_cost_usd"]
    assert spend == by_day

    # No role var: no grant to anyone (a warehouse without bi_reader does not fail).
    with connect(fresh_db) as connection:
        granted = connection.execute(
            "select count(*) from information_schema.role_table_grants "
            "where table_schema like 'ci\\_%' and grantee <> current_user"
        ).fetchone()
    assert granted == (0,)

    # The consumer's global lookback_days (30) is not ours (3): late rows of ten days ago
    # are not counted by a plain build, as our lookback says.
    late = varied_rows(rng, users, [today - timedelta(days=10)], per_day=15)
    insert(fresh_db, late)
    run_consumer(fresh_db, "build", "-s", "chat_telemetry", "--vars", as_of_today)
    assert_mart_matches(
        fresh_db,
        "fct_daily_off_topic",
        Reference(rows, "UTC", today, prices_csv=CONSUMER_PRICES).daily_off_topic(),
        schema=OUR_MARTS_SCHEMA,
    )

    # After a purge, the consumer's own --full-refresh runs; ours is still refused.
    done = purge_command(fresh_db, "--older-than-days", "12")
    assert done.returncode == 0, done.stderr
    run_consumer(fresh_db, "run", "-s", "consumer_daily_spend", "--full-refresh")
    refused = run_consumer(fresh_db, "run", "--full-refresh", expect_failure=True)
    assert "Refusing --full-refresh" in refused.stdout

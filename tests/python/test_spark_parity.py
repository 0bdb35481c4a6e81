"""The same marts on Spark and on Postgres, cell by cell, while production happens to them.

One workload goes into Postgres; Postgres builds its marts with dbt-postgres, and Spark gets
the same rows through the landing job (Spark's JDBC reader) and builds with dbt-spark, in one
JVM for the whole module (dbt's dbtRunner in this process). Then every mart of both engines is
compared cell by cell (floats to 1e-9 relative, decimals exactly): after a full build; after
late rows, a new day and an erased user with the plain incremental build; after a purge and a
seed price correction; after the full refresh a time zone change needs (refused after the
purge until history loss is allowed, as on Postgres) and late rows in America/New_York.
Spark's marts are also checked against the independent Python computation
(reference_marts.py). Data and unit tests run once, at the end, on Spark. `make test-spark`
runs this module (and .ci/run, after `make test`).
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import connect, run_dbt, scratch_database
from reference_marts import Reference
from test_marts import insert, varied_rows, with_billing_modes
from test_marts_over_time import (
    DAILY_MARTS_WITHOUT_USERS,
    LOOKBACK_DAYS,
    assert_marts_match,
    copy_of_project,
    dbt_vars,
    last_days,
    rows_until_now,
    today_in,
)

from chat_telemetry import database

pytestmark = pytest.mark.spark

MARTS_SCHEMA = "analytics"
INTERNAL_SCHEMA = "analytics_internal"
# What each Postgres type of a mart column is on Spark (macros/cross_db/column_types.sql).
SPARK_TYPE_OF = {
    "text": "string",
    "uuid": "string",
    "double precision": "double",
    "timestamp with time zone": "timestamp",
    "numeric(38,18)": "decimal(38,18)",
}
PER_USER_MARTS = (
    "fct_daily_token_cost",
    "fct_daily_user_usage",
    "rpt_user_usage_30d",
    "fct_model_comparison",
    "fct_conversations",
)
ANONYMOUS_MARTS = (*DAILY_MARTS_WITHOUT_USERS, "fct_sql_fingerprints")
PARITY_DATABASE = "chat_telemetry_spark_parity"


def skip_unless_spark_can_run() -> None:
    """Skip (saying what to install) without PySpark, Java 17 or the JDBC driver."""
    pytest.importorskip("pyspark", reason="make test-spark installs requirements-spark.txt")
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        pytest.skip("Spark needs Java 17: apt-get install openjdk-17-jre-headless")
    from chat_telemetry.spark import session

    try:
        session.jdbc_jar()
    except session.JdbcDriverMissing as missing:
        pytest.skip(str(missing))


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One Spark session (one JVM) for the module, with its own warehouse and metastore."""
    skip_unless_spark_can_run()
    from chat_telemetry.spark import session

    # Spark hands timestamps to Python as naive local times: make local time UTC.
    os.environ["TZ"] = "UTC"
    time.tzset()
    os.environ["CHAT_TELEMETRY_SPARK_HOME"] = str(tmp_path_factory.mktemp("spark"))
    spark_session = session.get_session(shuffle_partitions=2)
    yield spark_session
    spark_session.stop()


@pytest.fixture(scope="module")
def parity_db(server, template_database) -> Iterator[database.Connection]:
    with scratch_database(server, template_database, PARITY_DATABASE) as db:
        yield db


def land_and_build(spark, db, project: Path, *dbt_arguments: str) -> None:
    """What `make spark-build` does: land the new days, then build seeds and models."""
    from chat_telemetry.spark import build, landing

    landing.land(spark, landing.jdbc_source(db), lookback_days=3)
    build.dbt(
        ["build", "--resource-type", "seed", "--resource-type", "model", *dbt_arguments],
        project_dir=project,
    )


def build_postgres(db, project: Path, *dbt_arguments: str) -> None:
    run_dbt(
        db,
        "build",
        "--resource-type",
        "seed",
        "--resource-type",
        "model",
        *dbt_arguments,
        project_dir=project,
    )


def normalized(value: Any) -> Any:
    """Postgres and Spark values in one shape: uuids as text, instants as naive UTC."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def sort_key(row: dict[str, Any]) -> tuple:
    """Rows ordered by every column but floats (the grain never includes a float)."""
    return tuple(
        (value is None, str(value))
        for _, value in sorted(row.items())
        if not isinstance(value, float)
    )


def postgres_marts(db) -> dict[str, list[dict[str, Any]]]:
    marts: dict[str, list[dict[str, Any]]] = {}
    with connect(db) as connection:
        names = [
            row[0]
            for row in connection.execute(
                "select table_name from information_schema.tables where table_schema = %s",
                (MARTS_SCHEMA,),
            )
        ]
        for name in names:
            cursor = connection.execute(f"select * from {MARTS_SCHEMA}.{name}")
            columns = [column.name for column in cursor.description or []]
            marts[name] = sorted(
                (
                    {column: normalized(value) for column, value in zip(columns, row, strict=True)}
                    for row in cursor.fetchall()
                ),
                key=sort_key,
            )
    return marts


def spark_marts(spark) -> dict[str, list[dict[str, Any]]]:
    names = [row.tableName for row in spark.sql(f"show tables in {MARTS_SCHEMA}").collect()]
    return {
        name: sorted(
            (row.asDict() for row in spark.table(f"{MARTS_SCHEMA}.{name}").collect()),
            key=sort_key,
        )
        for name in names
        if not name.endswith("__dbt_tmp")
    }


def same(spark_value: Any, postgres_value: Any) -> bool:
    if spark_value is None or postgres_value is None:
        return spark_value is None and postgres_value is None
    if isinstance(postgres_value, Decimal):
        # Equal values and the same scale (numeric(38, 18) and decimal(38, 18) alike).
        return (
            isinstance(spark_value, Decimal)
            and spark_value == postgres_value
            and spark_value.as_tuple().exponent == postgres_value.as_tuple().exponent
        )
    if isinstance(postgres_value, float):
        return isinstance(spark_value, float) and math.isclose(
            spark_value, postgres_value, rel_tol=1e-9, abs_tol=1e-12
        )
    return bool(spark_value == postgres_value) and type(spark_value) is type(postgres_value)


def assert_engines_agree(spark, db) -> dict[str, int]:
    """Every mart: the same names, columns, rows and cells on both engines."""
    on_postgres = postgres_marts(db)
    on_spark = spark_marts(spark)
    assert sorted(on_spark) == sorted(on_postgres), "the engines have different marts"
    for name, postgres_rows in on_postgres.items():
        spark_rows = on_spark[name]
        assert len(spark_rows) == len(postgres_rows), (
            f"{name}: {len(spark_rows)} rows on Spark, {len(postgres_rows)} on Postgres"
        )
        mismatches = [
            (name, column, spark_row.get(column), value)
            for spark_row, postgres_row in zip(spark_rows, postgres_rows, strict=True)
            for column, value in postgres_row.items()
            if column not in spark_row or not same(spark_row[column], value)
        ]
        assert not mismatches, f"{len(mismatches)} cells differ, first: {mismatches[:5]}"
    for name in on_postgres:
        spark_types = dict(spark.table(f"{MARTS_SCHEMA}.{name}").dtypes)
        with connect(db) as connection:
            postgres_types = {
                column: SPARK_TYPE_OF.get(data_type, data_type)
                for column, data_type in connection.execute(
                    "select column_name, format_type(atttypid, atttypmod) "
                    "from information_schema.columns join pg_attribute "
                    "on attrelid = (table_schema || '.' || table_name)::regclass "
                    "and attname = column_name where table_schema = %s and table_name = %s",
                    (MARTS_SCHEMA, name),
                )
            }
        assert spark_types == postgres_types, f"{name}: column names or types differ"
    return {name: len(rows) for name, rows in on_postgres.items()}


def spark_days(spark, mart: str) -> set[date]:
    rows = spark.sql(f"select distinct request_date from {MARTS_SCHEMA}.{mart}").collect()
    return {row[0] for row in rows}


def partition_columns(spark, table: str) -> list[str]:
    """The partition columns of a Spark table (schema.name)."""
    return [column.name for column in spark.catalog.listColumns(table) if column.isPartition]


def users_seen(spark) -> set[str]:
    """The users of int_users_seen_daily (Spark's record of who the per-user models hold)."""
    rows = spark.sql(f"select distinct user_id from {INTERNAL_SCHEMA}.int_users_seen_daily")
    return {row[0] for row in rows.collect()}


def rows_of_user(spark, model: str, user_id: uuid.UUID) -> int:
    """Rows of a user in one of the internal per-user models on Spark."""
    query = f"select count(*) from {INTERNAL_SCHEMA}.{model} where user_id = '{user_id}'"
    return int(spark.sql(query).collect()[0][0])


def erase_user(db, user_id: uuid.UUID) -> None:
    with connect(db) as connection:
        connection.execute("delete from auth.users where id = %s", (user_id,))


def landed_rows_of(spark, user_id: uuid.UUID) -> int:
    from chat_telemetry.spark import landing

    return int(
        spark.sql(
            f"select count(*) from {landing.LOG_TABLE} where user_id = '{user_id}'"
        ).collect()[0][0]
    )


def test_spark_builds_the_same_marts_as_postgres(spark, parity_db, tmp_path):
    from chat_telemetry.spark import build

    project = copy_of_project(tmp_path / "project")
    rng = random.Random(2026)
    users = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(8)]

    # 1. A full build in UTC, over 10 days that end a minute ago.
    zone = "UTC"
    days = last_days(10, zone)
    # Made by users[0] alone, who is erased in step 2: yesterday (rebuilt by the incremental
    # run) and a day older than the rebuilt ones (only the erasure post-hook reaches it).
    only_theirs, old_only_theirs = days[-2], days[2]
    rows = rows_until_now(
        rng, users[1:], [d for d in days if d not in (only_theirs, old_only_theirs)], per_day=35
    )
    # Not on the two days before the ones every scheduled run rebuilds: whether a mart's run
    # rebuilds them depends on its newest day (today has no row in the first minutes after
    # midnight UTC, a day may have no error), and the marts expected after step 2 must not.
    boundary_days = days[-5:-3]
    rows += rows_until_now(rng, users[:1], [d for d in days if d not in boundary_days], per_day=6)
    # Every billing mode (tiers, cache writes, long-context calls) on both engines.
    rows = with_billing_modes(rng, rows)
    insert(parity_db, rows)
    # The day the marts are built as of, once: a test that crosses midnight must not compare
    # them with the next day's windows (the dbt vars pin it for the windowed marts).
    as_of = today_in(zone)
    variables = dbt_vars(zone, as_of)
    build_postgres(parity_db, project, "--full-refresh", "--vars", variables)
    land_and_build(spark, parity_db, project, "--full-refresh", "--vars", variables)
    counts = assert_engines_agree(spark, parity_db)
    assert counts["fct_daily_token_cost"] > 0 and counts["fct_daily_user_usage"] > 0
    assert_spark_matches_reference(spark, Reference(rows, zone, as_of))
    assert only_theirs in spark_days(spark, "fct_daily_off_topic")
    # The users seen per day, from which Spark finds erased users: every user with a row.
    assert users_seen(spark) == {str(row["user_id"]) for row in rows}

    # 2. Late rows on the last days, a new partial day, a row from a clock three days ahead
    #    (in no mart), and a user erased whose rows are also on days older than the landing
    #    window and who alone made yesterday; the plain scheduled build on both engines.
    erased = users[0]
    old_day = last_days(10, zone)[0]
    assert any(row["user_id"] == erased and row["created_at"].date() == old_day for row in rows)
    late = with_billing_modes(rng, rows_until_now(rng, users[1:], [days[-3], days[-1]], per_day=25))
    insert(parity_db, late)
    skewed = varied_rows(rng, users[1:], [as_of + timedelta(days=3)], per_day=1)
    insert(parity_db, skewed)
    erase_user(parity_db, erased)
    # A run whose erasure failed midway left its scratch table of kept rows: today's rows of
    # fct_daily_user_usage as they were before the late rows. The next run finishes that
    # rewrite before it rebuilds today, so the old version of today cannot come back.
    scratch = f"{MARTS_SCHEMA}.fct_daily_user_usage__erasure"
    spark.sql(
        f"create table {scratch} using parquet as select * from "
        f"{MARTS_SCHEMA}.fct_daily_user_usage where request_date = date '{days[-1]}'"
    )
    assert spark.table(scratch).count() > 0
    # An installation built before the settled fingerprint totals had generations: one
    # unpartitioned table, which the next run partitions under the same name.
    settled = f"{INTERNAL_SCHEMA}.int_sql_fingerprints_settled"
    spark.sql(f"create table {settled}_old using parquet as select * from {settled}")
    spark.sql(f"drop table {settled}")
    spark.sql(f"alter table {settled}_old rename to {settled}")
    assert partition_columns(spark, settled) == []
    build_postgres(parity_db, project, "--vars", variables)
    # A run of one per-user model (and the users seen it depends on) forgets the erased user
    # in that model; the others did not run, so the users seen keep them for the next run.
    land_and_build(
        spark,
        parity_db,
        project,
        "--vars",
        variables,
        "--select",
        "int_users_seen_daily",
        "int_requests_retained",
    )
    assert rows_of_user(spark, "int_requests_retained", erased) == 0
    assert rows_of_user(spark, "int_requests_sequenced", erased) > 0
    assert str(erased) in users_seen(spark)
    land_and_build(spark, parity_db, project, "--vars", variables)
    assert str(erased) not in users_seen(spark)
    assert partition_columns(spark, settled) == ["settled_before_date"]
    generations = spark.sql(f"select distinct settled_before_date from {settled}").collect()
    assert len(generations) == 1, "the older generations of settled totals were dropped"
    assert users_seen(spark) >= {
        str(row["user_id"]) for row in rows + late if row["user_id"] != erased
    }
    leftover = spark.sql(f"show tables in {MARTS_SCHEMA} like 'fct_daily_user_usage__erasure'")
    assert not leftover.collect(), "the scratch table of the interrupted erasure is still there"
    assert landed_rows_of(spark, erased) == 0
    assert_engines_agree(spark, parity_db)
    # The day made by the erased user alone is gone from every daily mart, not left stale.
    assert only_theirs not in spark_days(spark, "fct_daily_off_topic")
    assert old_only_theirs not in spark_days(spark, "fct_daily_user_usage")
    assert old_only_theirs in spark_days(spark, "fct_daily_off_topic")  # anonymous, kept
    remaining = [row for row in rows + late if row["user_id"] != erased]
    # Anonymous daily counts rebuild the lookback; older days keep the erased contribution
    # (the erased user has no row on the days whose rebuild depends on a mart's newest day).
    rebuilt_from = as_of - timedelta(days=LOOKBACK_DAYS - 1)
    kept = [r for r in rows if r["user_id"] == erased and r["created_at"].date() < rebuilt_from]
    anonymous = remaining + kept
    assert_spark_matches_reference(
        spark,
        Reference(remaining, zone, as_of),
        Reference(anonymous, zone, as_of),
    )

    # 3. Raw rows older than 7 days purged (the procedure's minimum lowered for the test) and
    #    a price corrected in the seed: the landed copy loses the purged days, the marts of
    #    both engines keep them, and the plain build reprices all history, purged days too.
    with connect(parity_db) as connection:
        connection.execute("call public.purge_chat_telemetry(7, 1000, 1)")
        purged_before = connection.execute(
            "select max(purged_before) from public.chat_telemetry_purges"
        ).fetchone()[0]
    assert any(row["created_at"] < purged_before for row in remaining)
    seed = project / "seeds" / "token_prices.csv"
    text = seed.read_text()
    old_row = "gpt-4o-mini,default,2024-07-18,,0.15,0.075,,0.60,"
    assert old_row in text
    seed.write_text(text.replace(old_row, "gpt-4o-mini,default,2024-07-18,,0.17,0.08,,0.66,"))
    build_postgres(parity_db, project, "--vars", variables)
    land_and_build(spark, parity_db, project, "--vars", variables)
    oldest_landed = spark.sql("select min(created_at) from chat_telemetry_raw.chat_telemetry_log")
    assert oldest_landed.collect()[0][0].replace(tzinfo=timezone.utc) >= purged_before
    assert_engines_agree(spark, parity_db)
    assert_spark_matches_reference(
        spark,
        Reference(remaining, zone, as_of, prices_csv=seed),
        Reference(anonymous, zone, as_of, prices_csv=seed),
    )

    # 4. America/New_York: a time zone change needs a full refresh, which the purge makes
    #    Spark refuse as Postgres does; allowed to lose the purged history, both rebuild from
    #    the rows left. Then late rows and the plain incremental build.
    zone = "America/New_York"
    as_of = today_in(zone)
    variables = dbt_vars(zone, as_of)
    with pytest.raises(build.DbtFailed, match="reporting_timezone changed from 'UTC'"):
        land_and_build(spark, parity_db, project, "--vars", variables)
    with pytest.raises(build.DbtFailed, match="Refusing --full-refresh"):
        land_and_build(spark, parity_db, project, "--full-refresh", "--vars", variables)
    variables = json.dumps({**json.loads(variables), "allow_history_loss": True})
    build_postgres(parity_db, project, "--full-refresh", "--vars", variables)
    land_and_build(spark, parity_db, project, "--full-refresh", "--vars", variables)
    assert_engines_agree(spark, parity_db)
    late = rows_until_now(rng, users[1:], last_days(2, "UTC"), per_day=25)
    insert(parity_db, late)
    remaining = [row for row in remaining + late if row["created_at"] >= purged_before]
    build_postgres(parity_db, project, "--vars", variables)
    land_and_build(spark, parity_db, project, "--vars", variables)
    assert_engines_agree(spark, parity_db)
    assert_spark_matches_reference(spark, Reference(remaining, zone, as_of, prices_csv=seed))

    # 5. Data tests and unit tests, once, on Spark's marts.
    build.dbt(["test", "--vars", variables], project_dir=project)


def assert_spark_matches_reference(
    spark, reference: Reference, anonymous: Reference | None = None
) -> None:
    """Spark's marts against the independent Python computation, through the same helper
    that checks Postgres (it reads marts with `read_mart`, here pointed at Spark).

    `anonymous`: what the marts without a user column should say when it differs (after an
    erasure they keep the user's contribution to days before the rebuilt ones, as on
    Postgres: test_marts_over_time).
    """
    import test_marts

    def as_postgres_gives(column: str, value: Any) -> Any:
        if column in ("user_id", "conversation_id") and isinstance(value, str):
            return uuid.UUID(value)
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value

    def read_spark_mart(_db, name: str, _schema: str = MARTS_SCHEMA) -> dict[tuple, dict[str, Any]]:
        rows = [
            {column: as_postgres_gives(column, value) for column, value in row.asDict().items()}
            for row in spark.table(f"{MARTS_SCHEMA}.{name}").collect()
        ]
        return {tuple(row[key] for key in test_marts.KEYS[name]): row for row in rows}

    original = test_marts.read_mart
    test_marts.read_mart = read_spark_mart
    try:
        assert_marts_match(None, reference, only=PER_USER_MARTS)
        assert_marts_match(None, anonymous or reference, only=ANONYMOUS_MARTS)
    finally:
        test_marts.read_mart = original


def test_landing_starts_lookback_days_before_the_newest_day_never_after_today():
    from chat_telemetry.spark.landing import landing_start_date

    today = date(2026, 11, 28)
    assert landing_start_date([], 3, today) is None
    assert landing_start_date([date(2026, 11, 20)], 3, today) == date(2026, 11, 17)
    # A clock-skewed row from 2099 must not stop recent days from being re-landed.
    assert landing_start_date([date(2026, 11, 27), date(2099, 1, 1)], 3, today) == (
        today - timedelta(days=3)
    )


def test_a_tiny_spark_benchmark_run_reports_every_step(server, tmp_path):
    """A tiny run of `make bench-spark` (its own process, JVM and scratch warehouse), so that
    the benchmark cannot rot: both engines' builds, the JVM's first full build, the median of
    the warm ones and the seconds per model."""
    skip_unless_spark_can_run()
    output = tmp_path / "spark_results.json"
    environ = dict(os.environ)
    environ.pop("CHAT_TELEMETRY_SPARK_HOME", None)  # the bench makes its own warehouse
    if server.is_embedded:
        for name in database.LIBPQ_VARIABLES:
            environ.pop(name, None)
    subprocess.run(
        [sys.executable, "-m", "chat_telemetry.benchmark.spark", "--rows", "3000",
         "--days", "5", "--database", "pytest_bench_spark", "--output", str(output),
         "--warm-full-builds", "2"],
        cwd=database.PROJECT_ROOT, env=environ, check=True, timeout=900,
    )  # fmt: skip
    results = json.loads(output.read_text())
    assert results["rows"] >= 3000 and results["incremental_rows"] > 0
    for engine in ("postgres", "spark"):
        for key in ("full_build_s", "incremental_build_s", "incremental_share_of_full"):
            assert results[engine][key] > 0, (engine, key)
    spark_results = results["spark"]
    assert spark_results["first_full_build_s"] > 0 and spark_results["landing_incremental_rows"] > 0
    # The share is taken of the median warm full build: of two, the faster (median_low).
    warm = spark_results["warm_full_builds_s"]
    assert len(warm) == 2 and spark_results["full_build_s"] == min(warm), warm
    for key in ("full_build_model_s", "incremental_build_model_s"):
        assert "fct_daily_token_cost" in spark_results[key], key

"""Land raw telemetry from Postgres into the Spark warehouse, incrementally, day by day.

The path is Spark's own JDBC reader with the PostgreSQL JDBC driver: what a data team already
runs (the same job runs on a cluster, or Databricks reads Postgres through Lakehouse
Federation; README: Running on Spark). We only choose what to read:

- `chat_telemetry_log`: the columns the marts need, never the question, the answer, the
  follow-ups or the error message (the `telemetry_loader` role cannot even read those:
  bootstrap_sql/40). Answer quality needs to know whether a question equals one of the
  previous answer's suggestions: Postgres computes md5 hashes of the normalised question and
  suggestions in the view `chat_telemetry_log_text_hashes`, the only thing the loader may read
  about them, and those hashes are landed (`question_hash`, `follow_up_suggestion_hashes`).
  Partitioned by `created_date` (UTC). A run replaces every day from
  `lookback_days` before the newest landed day (never later than `lookback_days` before
  today, so a clock-skewed row from 2099 cannot stop recent days from being re-landed): new
  days arrive and late rows are picked up, older days are not read again.
- `auth_users`: the ids of existing users, replaced on every run (erasure keys on it).
- `chat_telemetry_purges`: the purge watermarks, replaced on every run.

Then the landed copy is held to what Postgres still has: days before the newest purge
watermark are dropped, and days holding rows of users that no longer exist are rewritten
without them (the raw table deleted those rows by cascade; they must not live on here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING

from chat_telemetry import bi_login, database, settings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

RAW_DATABASE = "chat_telemetry_raw"
LOG_TABLE = f"{RAW_DATABASE}.chat_telemetry_log"
USERS_TABLE = f"{RAW_DATABASE}.auth_users"
PURGES_TABLE = f"{RAW_DATABASE}.chat_telemetry_purges"
PARTITION_COLUMN = "created_date"

# The loader's group role (bootstrap_sql/40) and the login the embedded server gets in it.
LOADER_ROLE = "telemetry_loader"
EMBEDDED_LOADER_LOGIN = "spark_loader"
EMBEDDED_LOADER_PASSWORD_FILE = "spark_loader_password"

# The columns landed, as read from Postgres (uuids as text: Spark has no uuid type), and the
# UTC day each row is partitioned by, computed by Postgres so that no session time zone of
# any Spark cluster can move a row to another day.
LOG_COLUMNS_SQL = """
    log_id::text as log_id,
    user_id::text as user_id,
    conversation_id::text as conversation_id,
    response_id,
    created_at,
    generated_sql,
    sql_fingerprint,
    result_row_count,
    error_type,
    failed_step,
    is_off_topic,
    sql_model,
    response_model,
    nl_to_sql_duration_ms,
    sql_execution_duration_ms,
    response_generation_duration_ms,
    ttfb_ms,
    sql_input_tokens,
    sql_output_tokens,
    sql_cached_tokens,
    response_input_tokens,
    response_output_tokens,
    response_cached_tokens,
    sql_service_tier,
    response_service_tier,
    sql_cache_write_tokens,
    response_cache_write_tokens,
    question_hash,
    follow_up_suggestion_hashes,
    (created_at at time zone 'UTC')::date as created_date
"""


@dataclass(frozen=True)
class JdbcSource:
    """Where and as whom the JDBC reader connects (the password never goes into logs)."""

    host: str
    port: int
    database: str
    user: str
    password: str
    sslmode: str = ""

    def url(self) -> str:
        url = f"jdbc:postgresql://{self.host}:{self.port}/{self.database}"
        return f"{url}?sslmode={self.sslmode}" if self.sslmode else url

    def describe(self) -> str:
        return f"{self.user}@{self.host}:{self.port}/{self.database}"


@dataclass
class LandingResult:
    """What one landing run did, for the command's report and the tests."""

    start_date: date | None  # None: everything was landed (first run or --full)
    rows_landed: int
    users: int
    purged_before: datetime | None
    days_dropped_by_purge: list[date] = field(default_factory=list)
    days_rewritten_for_erasure: list[date] = field(default_factory=list)


def jdbc_source(connection: database.Connection) -> JdbcSource:
    """The loader's connection: a `telemetry_loader` login, never the owner or service_role.

    On the embedded server, the login `spark_loader` (password generated into the data
    folder). Elsewhere, CHAT_TELEMETRY_LOADER_USER and CHAT_TELEMETRY_LOADER_PASSWORD (a login
    in `telemetry_loader`); never the PG* user, which is the owner dbt builds as. JDBC needs
    TCP, so PGHOST must be a host name.
    """
    if connection.is_embedded:
        login = bi_login.ensure_member_login(
            connection, EMBEDDED_LOADER_LOGIN, LOADER_ROLE, EMBEDDED_LOADER_PASSWORD_FILE
        )
        if login is None:
            raise RuntimeError(
                "the embedded server has no telemetry_loader role or no TCP listener yet: "
                "run `make demo` first (or `make bootstrap` and write your own telemetry)"
            )
        return JdbcSource(login.host, login.port, login.database, login.user, login.password)
    if connection.host.startswith("/"):
        raise RuntimeError(
            f"PGHOST={connection.host} is a unix socket folder, which JDBC cannot use: "
            "point PGHOST at the server's host name (landing reads over TCP)"
        )
    user = settings.LOADER_USER.get()
    password = settings.LOADER_PASSWORD.get()
    if not user or not password:
        raise RuntimeError(
            "set CHAT_TELEMETRY_LOADER_USER and CHAT_TELEMETRY_LOADER_PASSWORD to a login in "
            "the role telemetry_loader (bootstrap_sql/40_telemetry_loader_role.sql): landing "
            "never reads as the PG* user, which can read the questions and answers"
        )
    return JdbcSource(
        host=connection.host,
        port=int(connection.port),
        database=connection.database,
        user=user,
        password=password,
        sslmode=settings.PGSSLMODE.get(),
    )


def read_postgres(spark: SparkSession, source: JdbcSource, query: str) -> DataFrame:
    """One query through Spark's JDBC reader."""
    return (
        spark.read.format("jdbc")
        .option("url", source.url())
        .option("driver", "org.postgresql.Driver")
        .option("user", source.user)
        .option("password", source.password)
        .option("query", query)
        .option("fetchsize", "10000")
        .load()
    )


def table_exists(spark: SparkSession, name: str) -> bool:
    return bool(spark.catalog.tableExists(name))


def landed_days(spark: SparkSession) -> list[date]:
    """The created_date partitions the landed log holds, oldest first."""
    if not table_exists(spark, LOG_TABLE):
        return []
    rows = spark.sql(f"select distinct {PARTITION_COLUMN} from {LOG_TABLE}").collect()
    return sorted(row[0] for row in rows)


def landing_start_date(days: list[date], lookback_days: int, today: date) -> date | None:
    """The first UTC day a run replaces; None when nothing was landed yet (land everything).

    One day more than dbt's lookback: dbt's days are in the reporting time zone, whose day
    can start up to a day before the UTC one.
    """
    if not days:
        return None
    return min(days[-1], today) - timedelta(days=lookback_days)


def drop_days(spark: SparkSession, table: str, days: list[date]) -> None:
    """Drop whole created_date partitions (a day with no rows left must not stay)."""
    for day in days:
        partition = f"{PARTITION_COLUMN} = '{day.isoformat()}'"
        spark.sql(f"alter table {table} drop if exists partition ({partition})")


def replace_days(spark: SparkSession, table: str, days: list[date], rows: DataFrame) -> None:
    """Make the given days hold exactly `rows` (which must not read those days lazily).

    A dynamic partition overwrite replaces each day `rows` has, then the days it has none
    for are dropped: no day is dropped before its new rows are written, so a run that fails
    midway leaves the old rows, not a hole.
    """
    spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
    columns = spark.table(table).columns
    rows.select(*columns).write.insertInto(table, overwrite=True)
    written = {row[0] for row in rows.select(PARTITION_COLUMN).distinct().collect()}
    drop_days(spark, table, [day for day in days if day not in written])


def land_log(
    spark: SparkSession, source: JdbcSource, lookback_days: int, full: bool, today: date
) -> tuple[date | None, int]:
    days = [] if full else landed_days(spark)
    start = landing_start_date(days, lookback_days, today)
    # The hashes come from the view by primary key: the loader has no privilege on the text.
    query = (
        f"select {LOG_COLUMNS_SQL} from public.chat_telemetry_log"
        " inner join public.chat_telemetry_log_text_hashes using (log_id)"
    )
    if start is not None:
        query += f" where created_at >= timestamptz '{start.isoformat()} 00:00:00+00'"
    # Read once from Postgres, then write: the count and the write must see the same rows.
    rows = read_postgres(spark, source, query).localCheckpoint(eager=True)
    landed = int(rows.count())
    if start is None:
        spark.sql(f"drop table if exists {LOG_TABLE}")
        (
            rows.write.format("parquet")
            .partitionBy(PARTITION_COLUMN)
            .mode("overwrite")
            .saveAsTable(LOG_TABLE)
        )
    else:
        replace_days(spark, LOG_TABLE, [day for day in days if day >= start], rows)
    return start, landed


def land_small_table(spark: SparkSession, source: JdbcSource, query: str, table: str) -> int:
    """Replace a small table whole (users, purge watermarks)."""
    rows = read_postgres(spark, source, query).localCheckpoint(eager=True)
    spark.sql(f"drop table if exists {table}")
    rows.write.format("parquet").mode("overwrite").saveAsTable(table)
    return int(rows.count())


def newest_purge_watermark(spark: SparkSession) -> datetime | None:
    value = spark.sql(f"select max(purged_before) from {PURGES_TABLE}").collect()[0][0]
    return value if isinstance(value, datetime) else None


def apply_purge(spark: SparkSession, purged_before: datetime) -> list[date]:
    """Drop the landed days before the watermark (purges cut at UTC midnight)."""
    from pyspark.sql import functions

    boundary = purged_before.astimezone(timezone.utc)
    whole_days = [day for day in landed_days(spark) if day < boundary.date()]
    drop_days(spark, LOG_TABLE, whole_days)
    if boundary.time() != datetime.min.time():
        # A watermark within a day (not written by purge_chat_telemetry, but possible).
        day = boundary.date()
        kept = (
            spark.table(LOG_TABLE)
            .where(functions.col(PARTITION_COLUMN) == functions.lit(day))
            .where(functions.col("created_at") >= functions.lit(boundary))
            .localCheckpoint(eager=True)
        )
        replace_days(spark, LOG_TABLE, [day], kept)
    return whole_days


def apply_erasure(spark: SparkSession) -> list[date]:
    """Rewrite the landed days that hold rows of users no longer in auth.users."""
    log = spark.table(LOG_TABLE)
    users = spark.table(USERS_TABLE).select("id")
    orphans = log.join(users, log["user_id"] == users["id"], "left_anti")
    days = sorted(row[0] for row in orphans.select(PARTITION_COLUMN).distinct().collect())
    if not days:
        return []
    from pyspark.sql import functions

    kept = (
        log.where(functions.col(PARTITION_COLUMN).isin(days))
        .join(users, log["user_id"] == users["id"], "left_semi")
        .localCheckpoint(eager=True)
    )
    replace_days(spark, LOG_TABLE, days, kept)
    return days


def land(
    spark: SparkSession,
    source: JdbcSource,
    lookback_days: int,
    *,
    full: bool = False,
    today: date | None = None,
) -> LandingResult:
    """Land what changed since the last run (everything with `full`), then apply purge and
    erasure to the landed copy."""
    today = today or datetime.now(timezone.utc).date()
    spark.sql(f"create database if not exists {RAW_DATABASE}")
    # The log before the users: a user who signs up in between is then in the users read
    # (a user read after their rows can only be missing because they were erased).
    start, rows = land_log(spark, source, lookback_days, full, today)
    users = land_small_table(spark, source, "select id::text as id from auth.users", USERS_TABLE)
    land_small_table(
        spark,
        source,
        "select purge_id, purged_before, rows_deleted, started_at, finished_at "
        "from public.chat_telemetry_purges",
        PURGES_TABLE,
    )
    purged_before = newest_purge_watermark(spark)
    dropped = apply_purge(spark, purged_before) if purged_before is not None else []
    rewritten = apply_erasure(spark)
    return LandingResult(start, rows, users, purged_before, dropped, rewritten)

"""The local PySpark session that landing and dbt share (one JVM per process).

dbt-spark's `session` method calls `SparkSession.builder.getOrCreate()`, so when this module
has created the session first, dbt runs in it: the warehouse, the metastore and the settings
below hold for both. The settings of PROFILE_SETTINGS are in profiles.yml (target `spark`)
too, so that a plain `dbt build --target spark` behaves alike (a test checks that they agree).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from chat_telemetry import settings
from chat_telemetry.database import PROJECT_ROOT

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Debian's libpostgresql-jdbc-java; CHAT_TELEMETRY_JDBC_JAR names another copy of the driver.
DEFAULT_JDBC_JARS = (Path("/usr/share/java/postgresql.jar"),)

# Settings that change numbers, so every Spark entry point pins them:
#   session.timeZone: from_utc_timestamp() and date casts read timestamps in the session's
#       zone; UTC makes request_date and the pricing day the same as on Postgres.
#   allowPrecisionLoss=false: a decimal product keeps its scale (or fails) instead of being
#       rounded to 6 places, so costs are exact as on Postgres.
NUMBER_SETTINGS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.decimalOperations.allowPrecisionLoss": "false",
}


# Generated classes Spark keeps, the most recently used (read once per JVM, when it first
# generates code: set before the session is created). Spark's own counter read 570 distinct
# classes after six builds of this project at 1M rows, then 24 more a build. Bounded by
# count: at most this many classes with their class loaders and compiled code (their bytes
# were not measured).
CODEGEN_CACHE_ENTRIES = 1000

# What profiles.yml's `spark` target pins as well: the settings that change numbers, and the
# generated classes kept (when dbt itself creates the JVM).
PROFILE_SETTINGS = {
    **NUMBER_SETTINGS,
    "spark.sql.codegen.cache.maxEntries": str(CODEGEN_CACHE_ENTRIES),
}


class JavaMissing(RuntimeError):
    """Spark needs a Java runtime (17), which this machine does not have."""


class JdbcDriverMissing(RuntimeError):
    """Landing needs the PostgreSQL JDBC driver, which this machine does not have."""


def spark_home() -> Path:
    """Where the local warehouse and metastore live: CHAT_TELEMETRY_SPARK_HOME, else .spark/."""
    configured = settings.SPARK_HOME.get()
    return Path(configured).resolve() if configured else PROJECT_ROOT / ".spark"


def warehouse_dir(home: Path | None = None) -> Path:
    return (home or spark_home()) / "warehouse"


def jdbc_jar() -> Path:
    """The PostgreSQL JDBC driver's jar, or a clear error saying how to get one."""
    configured = settings.JDBC_JAR.get()
    candidates = (Path(configured),) if configured else DEFAULT_JDBC_JARS
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise JdbcDriverMissing(
        "the PostgreSQL JDBC driver was not found at "
        + ", ".join(str(path) for path in candidates)
        + ": install it (Debian/Ubuntu: apt-get install libpostgresql-jdbc-java) or download"
        " postgresql-42.x.jar from https://jdbc.postgresql.org and set CHAT_TELEMETRY_JDBC_JAR"
    )


def check_java() -> None:
    """Fail early, with the fix, when there is no Java: PySpark's own error is a stack trace."""
    if settings.JAVA_HOME.get() or shutil.which("java"):
        return
    raise JavaMissing(
        "Spark needs Java 17: install it (Debian/Ubuntu: apt-get install "
        "openjdk-17-jre-headless; macOS: brew install openjdk@17) or set JAVA_HOME"
    )


def session_settings(home: Path, shuffle_partitions: int = 2) -> dict[str, str]:
    """Every setting of the local session (static ones apply only when the JVM starts)."""
    metastore = home / "metastore_db"
    values = {
        "spark.master": settings.SPARK_MASTER.get(),
        "spark.app.name": "chat-telemetry",
        "spark.sql.warehouse.dir": str(warehouse_dir(home)),
        # One Derby metastore beside the warehouse (Derby allows one JVM at a time).
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={metastore};create=true"
        ),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={home}",
        "spark.driver.memory": settings.SPARK_DRIVER_MEMORY.get(),
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        # Small data on few cores: a handful of shuffle partitions, not 200.
        "spark.sql.shuffle.partitions": str(shuffle_partitions),
        "spark.sql.adaptive.enabled": "true",
        "spark.jars": str(jdbc_jar()),
    }
    # PROFILE_SETTINGS also keeps the classes Spark generates for a query's operators and
    # expressions from one build to the next, in a JVM that builds more than once (the
    # bench, test-spark; `make spark-build` builds once a process). Spark's default keeps
    # 100, and the JIT compiler took a third of a scheduled build's CPU (BENCHMARKS.md,
    # 2026-12-06 ninth session).
    values.update(PROFILE_SETTINGS)
    return values


def get_session(shuffle_partitions: int = 2) -> SparkSession:
    """The process's Spark session with the project's settings (created on first call)."""
    check_java()
    from pyspark.sql import SparkSession

    home = spark_home()
    home.mkdir(parents=True, exist_ok=True)
    os.environ[settings.SPARK_HOME.name] = str(home)  # profiles.yml reads it
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in session_settings(home, shuffle_partitions).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def stop_jvm(spark: SparkSession) -> None:
    """Stop the session and the JVM under it, so that another process can open the Derby
    metastore (one JVM at a time). PySpark keeps its JVM for the life of the Python process
    after `stop()`; the JVM exits when its standard input closes (PySpark's gateway reads it
    for that). A later `get_session()` in this process would start a new JVM."""
    from pyspark import SparkContext

    spark.stop()
    gateway = SparkContext._gateway
    if gateway is None:
        return
    process = getattr(gateway, "proc", None)
    gateway.shutdown()
    if process is not None and process.stdin is not None:
        process.stdin.close()
        process.wait(timeout=120)
    SparkContext._gateway = None
    SparkContext._jvm = None

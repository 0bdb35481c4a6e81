"""The Spark engine: land raw telemetry from Postgres, then build the same marts with dbt-spark.

- `session`: the one local PySpark session (warehouse, Derby metastore, UTC, exact decimals).
- `landing`: Spark's JDBC reader copies the columns the marts need, day by day, incrementally.
- `build`: dbt seed and build against that session, in this process (dbt's `dbtRunner`).

PySpark and dbt-spark come from requirements-spark.txt (`make spark-build` installs them);
nothing here is imported by the Postgres path.
"""

"""Every environment variable the project reads, declared once: name, default, and why.

Before this module about twenty variables were read in ten files, each with its own default,
and nothing listed them. Now each is a `Setting` here; the tooling reads a value through its
setting, at call time (tests and schedulers change the environment between calls), and the
README's variable list is printed from `VARIABLES` (`python -m chat_telemetry.settings`;
tests/python/test_settings.py fails when the two drift). Variables that only dbt reads
(`env_var(...)` in dbt_project.yml, profiles.yml and the sources) are declared too, so the
list is the whole story, with the same defaults as there.

The one dbt var the tooling needs, `lookback_days`, stays declared in dbt_project.yml (dbt is
its single source of truth); `lookback_days()` reads it from there, once.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_FILE = PROJECT_ROOT / "dbt_project.yml"


@dataclass(frozen=True)
class Setting:
    """One environment variable: its name, its default, who reads it and why it exists.

    `empty_is_unset`: an empty value counts as unset (the default applies); otherwise an
    empty value is kept as it is, as `os.environ.get(name, default)` does.
    """

    name: str
    default: str
    doc: str
    read_by: str = "tooling"
    empty_is_unset: bool = False

    def get(self, environ: Mapping[str, str] | None = None) -> str:
        """The value in `environ` (the process environment by default), else the default."""
        value = (os.environ if environ is None else environ).get(self.name)
        if value is None or (self.empty_is_unset and not value):
            return self.default
        return value

    def integer(self, environ: Mapping[str, str] | None = None) -> int:
        """The value as a whole number (a malformed one raises, as `int()` does)."""
        return int(self.get(environ))


# ---------------------------------------------------------------- where the database is

PGHOST = Setting(
    "PGHOST", "", "libpq: any PG* variable points every tool at your own Postgres instead "
    "of the embedded server; unset, the embedded server is started on demand."
)  # fmt: skip
PGPORT = Setting("PGPORT", "5432", "libpq: the port of your own Postgres.")
PGUSER = Setting("PGUSER", "postgres", "libpq: the owner dbt and the tools connect as.")
PGPASSWORD = Setting("PGPASSWORD", "", "libpq: that user's password (never printed).")
PGDATABASE = Setting("PGDATABASE", "postgres", "libpq: the database on your own Postgres.")
PGSSLMODE = Setting(
    "PGSSLMODE", "", "libpq: TLS mode; dbt's profile defaults it to `prefer`, Spark landing "
    "passes it to JDBC when set."
)  # fmt: skip
LIBPQ = (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE)

DATABASE = Setting(
    "CHAT_TELEMETRY_DATABASE", "", "On the embedded server, the database to use (created when "
    "missing) instead of `postgres`: `make test` builds its dbt check in a scratch one.",
    empty_is_unset=True,
)  # fmt: skip
PGDATA = Setting(
    "CHAT_TELEMETRY_PGDATA", "", "The embedded server's data folder; unset, `.pgdata/` in the "
    "checkout (git-ignored).",
)  # fmt: skip

# ---------------------------------------------------------------- schemas, roles, time zone

MARTS_SCHEMA = Setting(
    "CHAT_TELEMETRY_MARTS_SCHEMA", "analytics", "The schema of the marts BI reads (dbt writes "
    "it, the summary, dashboard, digest, alerts and benchmark read it).", "tooling, dbt"
)  # fmt: skip
INTERNAL_SCHEMA = Setting(
    "CHAT_TELEMETRY_INTERNAL_SCHEMA", "analytics_internal", "The schema of staging and "
    "intermediate models, unreadable to BI; the alerts job keeps its state table there.",
    "tooling, dbt",
)  # fmt: skip
REPORTING_TIMEZONE = Setting(
    "CHAT_TELEMETRY_REPORTING_TIMEZONE", "UTC", "The time zone of calendar days: the dbt var "
    "`reporting_timezone` reads it, so today in the reports is the marts' today.",
    "tooling, dbt",
)  # fmt: skip
BI_ROLE = Setting(
    "CHAT_TELEMETRY_BI_ROLE", "bi_reader", "The read-only role BI tools and the reports use "
    "(bootstrap creates it; dbt grants it SELECT on the marts).", "tooling, dbt",
    empty_is_unset=True,
)  # fmt: skip
BI_LOGIN = Setting(
    "CHAT_TELEMETRY_BI_LOGIN", "bi_demo", "The login (member of the BI role) that the "
    "embedded server's BI URL uses.", empty_is_unset=True,
)  # fmt: skip
RAW_SCHEMA = Setting(
    "CHAT_TELEMETRY_RAW_SCHEMA", "", "The schema of the raw telemetry; unset, `public` "
    "(`chat_telemetry_raw` on Spark).", "dbt",
)  # fmt: skip
AUTH_SCHEMA = Setting(
    "CHAT_TELEMETRY_AUTH_SCHEMA", "", "The schema of the users table; unset, `auth` "
    "(`chat_telemetry_raw` on Spark).", "dbt",
)  # fmt: skip
DAILY_BUDGET_USD = Setting(
    "CHAT_TELEMETRY_DAILY_BUDGET_USD", "", "A daily spend (USD) above which an alert is "
    "raised; unset, no budget alert.", "dbt",
)  # fmt: skip

# ---------------------------------------------------------------- alerts and digest

WEBHOOK_URL = Setting(
    "CHAT_TELEMETRY_WEBHOOK_URL", "", "Slack-compatible URL the alerts and the digest post "
    "to (`--webhook` wins); unset, nothing is posted. A secret: never printed.",
    empty_is_unset=True,
)  # fmt: skip
ALERT_DAYS = Setting(
    "CHAT_TELEMETRY_ALERT_DAYS", "3", "`make alerts` considers alerts dated in the last N "
    "days only, so repricing history never floods the channel (`--days` wins)."
)  # fmt: skip

# ---------------------------------------------------------------- Spark

SPARK_HOME = Setting(
    "CHAT_TELEMETRY_SPARK_HOME", "", "The local Spark warehouse and metastore; unset, "
    "`.spark/` in the checkout.", "tooling, dbt",
)  # fmt: skip
JDBC_JAR = Setting(
    "CHAT_TELEMETRY_JDBC_JAR", "", "The PostgreSQL JDBC driver's jar for Spark landing; "
    "unset, the Debian/Ubuntu package's paths."
)  # fmt: skip
SPARK_MASTER = Setting(
    "CHAT_TELEMETRY_SPARK_MASTER", "local[2]", "The Spark master of the local session."
)
SPARK_DRIVER_MEMORY = Setting(
    "CHAT_TELEMETRY_SPARK_DRIVER_MEMORY", "4g", "The Spark driver's memory."
)
LOADER_USER = Setting(
    "CHAT_TELEMETRY_LOADER_USER", "", "Off the embedded server: a login in `telemetry_loader` "
    "that Spark landing reads as (never the PG* owner).",
)  # fmt: skip
LOADER_PASSWORD = Setting(
    "CHAT_TELEMETRY_LOADER_PASSWORD", "", "That login's password (never printed)."
)
JAVA_HOME = Setting("JAVA_HOME", "", "Spark needs Java 17: JAVA_HOME or a `java` on the PATH.")

# ---------------------------------------------------------------- dbt and the benchmark

DBT_PROFILES_DIR = Setting(
    "DBT_PROFILES_DIR", "", "Where dbt finds profiles.yml; the tools set it to the checkout "
    "when unset.", "tooling, dbt",
)  # fmt: skip
DBT_TARGET = Setting(
    "DBT_TARGET", "default", "profiles.yml's target: `default`, `dev` or `spark`.", "dbt"
)
DBT_DEV_USER = Setting(
    "DBT_DEV_USER", "", "The dev target's schema prefix `dev_<user>`; unset, $USER.", "dbt"
)
BENCH_ROWS = Setting(
    "BENCH_ROWS", "1000000", "`python -m chat_telemetry.benchmark`'s default `--rows`."
)
BENCH_DAYS = Setting("BENCH_DAYS", "30", "`python -m chat_telemetry.benchmark`'s default `--days`.")

VARIABLES: tuple[Setting, ...] = tuple(
    value for value in list(globals().values()) if isinstance(value, Setting)
)


@functools.cache
def lookback_days(project_file: Path = DBT_PROJECT_FILE) -> int:
    """The dbt var `lookback_days` as dbt_project.yml declares it (read once per file).

    dbt owns this number: the purge floor and Spark landing must rebuild exactly the days the
    incremental models do, so they read the project's default rather than keep a copy.
    """
    import yaml  # type: ignore[import-untyped]  # PyYAML, pinned through dbt-core

    project = yaml.safe_load(project_file.read_text(encoding="utf-8"))
    return int(project["vars"]["chat_telemetry__lookback_days"])


def markdown_table() -> str:
    """The README's variable list, one row per setting."""
    lines = ["| variable | default | read by | what it is for |", "| --- | --- | --- | --- |"]
    for setting in VARIABLES:
        default = f"`{setting.default}`" if setting.default else "(unset)"
        lines.append(f"| `{setting.name}` | {default} | {setting.read_by} | {setting.doc} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())

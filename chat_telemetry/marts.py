"""The one reader of the marts: a connection that has become the BI role, and the named
queries the summary, the dashboard, the digest and the alerts run through it.

Why one place: every report reads what a BI tool may read and nothing else, so each connects,
switches to the BI role and reads `{schema}.<mart>`. Four modules did that each on their own,
with their own copy of the schema and time zone settings; the exposures (models/marts yml)
must name exactly the marts this code reads, which is easiest to check when the SQL is here.

Every query names its marts as `{schema}.<mart>` (filled with the quoted marts schema) and
takes psycopg parameters (`%(name)s`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg import sql

from chat_telemetry import settings

_log = logging.getLogger(__name__)


def marts_schema() -> str:
    """The schema dbt writes the marts to (and the only one the BI role reads)."""
    return settings.MARTS_SCHEMA.get()


def internal_schema() -> str:
    """The schema of staging and intermediate models, unreadable to BI."""
    return settings.INTERNAL_SCHEMA.get()


def reporting_timezone() -> str:
    """The time zone of calendar days: the same variable the dbt var `reporting_timezone`
    reads, so that the reports' days are the marts' days."""
    return settings.REPORTING_TIMEZONE.get()


class MartsReader:
    """An open connection to the marts, as the BI role when it could become it."""

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self.connection = connection
        self.schema = sql.Identifier(marts_schema()).as_string(connection)

    @property
    def read_as(self) -> str:
        """The role the queries run as (the BI role after `set role`, else the login)."""
        row = self.connection.execute("select current_user").fetchone()
        assert row is not None
        return str(row[0])

    def rows(
        self, query: str, parameters: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """The rows of a named query, its `{schema}` filled in."""
        return self.connection.execute(
            query.format(schema=self.schema).encode(), parameters
        ).fetchall()

    def records(
        self, query: str, parameters: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """The rows of a named query as {column: value} dictionaries."""
        cursor = self.connection.execute(query.format(schema=self.schema).encode(), parameters)
        columns = [column.name for column in cursor.description or []]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    def local_now(self, timezone_name: str, now: datetime | None = None) -> tuple[date, str]:
        """Today's date and the time (HH:MM) in the reporting time zone, as Postgres sees them.

        Postgres does the conversion, with the same time zone rules dbt's models use to assign
        `request_date`, so "today" here is the day the marts call today. `now` pins the clock
        (tests).
        """
        row = self.connection.execute(LOCAL_NOW, {"tz": timezone_name, "now": now}).fetchone()
        assert row is not None
        return row[0], row[1]


@contextmanager
def reader(conninfo: str, *, as_role: str | None, fall_back: bool = False) -> Iterator[MartsReader]:
    """Connect and `set role as_role` (the BI role proves the report reads only the marts).

    With `fall_back`, a login that may not become the role reads as itself, with a warning
    (the alerts job, which a scheduler may run under another login); otherwise it fails.
    """
    with psycopg.connect(conninfo, autocommit=True) as connection:
        marts = MartsReader(connection)
        if as_role:
            try:
                connection.execute(sql.SQL("set role {}").format(sql.Identifier(as_role)))
            except (psycopg.errors.InsufficientPrivilege, psycopg.errors.InvalidParameterValue):
                if not fall_back:
                    raise
                _log.warning("cannot set role %s: reading the marts as %s", as_role, marts.read_as)
        yield marts


LOCAL_NOW = (
    "select (t at time zone %(tz)s)::date, to_char(t at time zone %(tz)s, 'HH24:MI') "
    "from (select coalesce(%(now)s::timestamptz, statement_timestamp()) as t) as clock"
)

# ---------------------------------------------------------------- the terminal summary

# Every query gets %(today)s, today's date in the reporting time zone. Today is still being
# written: its handful of early requests would read as a cost drop, an error-rate jump or a
# p99 collapse, so the sections compare complete days (before today) and today gets a section
# of its own, titled as partial.
SUMMARY: dict[str, str] = {
    "cost": """
        with complete as (
            select request_date, step, model, requests, total_cost_usd, unpriced_requests
            from {schema}.fct_daily_token_cost where request_date < %(today)s
        ),
        daily as (
            select * from complete
            where request_date > (select max(request_date) from complete) - 7
        ),
        ranked as (
            select request_date, model, sum(total_cost_usd) as model_cost,
                   row_number() over (partition by request_date
                                      order by sum(total_cost_usd) desc nulls last, model) as rank
            from daily group by request_date, model
        )
        select d.request_date,
               sum(d.requests) filter (where d.step = 'sql'),
               round(sum(d.total_cost_usd), 4),
               r.model, round(r.model_cost, 4), sum(d.unpriced_requests)
        from daily as d join ranked as r on r.request_date = d.request_date and r.rank = 1
        group by d.request_date, r.model, r.model_cost
        order by d.request_date
        """,
    "latency": """
        select request_date, step, requests, round(p50_ms::numeric), round(p95_ms::numeric),
               round(p99_ms::numeric)
        from {schema}.fct_daily_step_latency
        where request_date = (
            select max(request_date) from {schema}.fct_daily_step_latency
            where request_date < %(today)s
        )
        order by array_position(
            array['nl_to_sql', 'sql_execution', 'response_generation', 'ttfb'], step)
        """,
    "errors": """
        with complete as (
            select request_date, requests from {schema}.fct_daily_off_topic
            where request_date < %(today)s
        ),
        days as (
            select * from complete
            where request_date > (select max(request_date) from complete) - 30
        )
        select e.error_type, sum(e.errors),
               to_char(100.0 * sum(e.errors) / (select sum(requests) from days), 'FM990.00')
               || '%%'
        from {schema}.fct_daily_errors as e
        where e.request_date in (select request_date from days)
        group by e.error_type order by sum(e.errors) desc
        """,
    "off_topic": """
        with complete as (
            select * from {schema}.fct_daily_off_topic where request_date < %(today)s
        )
        select sum(requests), sum(off_topic_requests),
               to_char(100.0 * sum(off_topic_requests) / nullif(sum(requests), 0), 'FM990.00')
               || '%%'
        from complete
        where request_date > (select max(request_date) from complete) - 30
        """,
    "fingerprints": """
        select occurrences, round(avg_sql_execution_ms::numeric, 1), errors,
               left(regexp_replace(example_sql, '\\s+', ' ', 'g'), 60)
        from {schema}.fct_sql_fingerprints
        order by occurrences desc, sql_fingerprint limit 5
        """,
    "answer_quality": """
        with complete as (
            select * from {schema}.fct_daily_answer_quality where request_date < %(today)s
        ),
        daily as (
            select request_date, sum(requests_with_sql) as with_sql,
                   sum(empty_results) as empty, sum(failed_or_empty_requests) as bad,
                   sum(reasked_requests) as reasked,
                   sum(requests_with_suggestions) as offered,
                   sum(suggestions_followed) as followed
            from complete
            where request_date > (select max(request_date) from complete) - 7
            group by request_date
        )
        select request_date, with_sql, empty,
               to_char(100.0 * empty / nullif(with_sql, 0), 'FM990.00') || '%%',
               reasked, to_char(100.0 * reasked / nullif(bad, 0), 'FM990.00') || '%%',
               followed, to_char(100.0 * followed / nullif(offered, 0), 'FM990.00') || '%%'
        from daily order by request_date
        """,
    "empty_fingerprints": """
        select empty_results, occurrences,
               left(regexp_replace(example_sql, '\\s+', ' ', 'g'), 60)
        from {schema}.fct_sql_fingerprints
        where empty_results > 0
        order by empty_results desc, sql_fingerprint limit 5
        """,
    "models": """
        select sql_model, response_model, requests,
               to_char(100 * error_rate, 'FM990.00') || '%%', round(p95_ttfb_ms::numeric),
               round(avg_cost_usd, 6)
        from {schema}.fct_model_comparison
        order by requests desc, sql_model, response_model limit 12
        """,
    "today": """
        select o.request_date, o.requests,
               (select round(sum(c.total_cost_usd), 4) from {schema}.fct_daily_token_cost as c
                where c.request_date = o.request_date),
               (select coalesce(sum(e.errors), 0) from {schema}.fct_daily_errors as e
                where e.request_date = o.request_date),
               o.off_topic_requests
        from {schema}.fct_daily_off_topic as o
        where o.request_date = %(today)s
        """,
}

# ---------------------------------------------------------------- the dashboard

# The 30-day window the windowed marts end on; with no traffic in it, the daily facts' last
# 30 days.
DASHBOARD_WINDOW = (
    "select window_start_date, window_end_date from {schema}.fct_model_comparison limit 1"
)
DASHBOARD_WINDOW_FALLBACK = (
    "select max(request_date) - 29, max(request_date) from {schema}.fct_daily_off_topic"
)

# Each gets %(start)s and %(end)s, the window; each fills the DashboardData field of its name.
DASHBOARD: dict[str, str] = {
    "daily_cost": """
        select request_date, model_family, model,
               sum(requests) as requests,
               sum(total_cost_usd) as total_cost_usd,
               sum(unpriced_requests) as unpriced_requests
        from {schema}.fct_daily_token_cost
        where request_date between %(start)s and %(end)s
        group by request_date, model_family, model order by request_date, model""",
    "daily_latency": """
        select request_date, step, requests, p50_ms, p95_ms, p99_ms
        from {schema}.fct_daily_step_latency
        where request_date between %(start)s and %(end)s
        order by request_date, step""",
    "daily_errors": """
        select e.request_date, e.error_type, sum(e.errors) as errors,
               max(e.requests_on_day) as requests_on_day,
               sum(e.errors)::float8 / max(e.requests_on_day) as error_rate
        from {schema}.fct_daily_errors as e
        where e.request_date between %(start)s and %(end)s
        group by e.request_date, e.error_type order by e.request_date, e.error_type""",
    "errors_by_step": """
        select error_type, failed_step, sum(errors) as errors
        from {schema}.fct_daily_errors
        where request_date between %(start)s and %(end)s
        group by error_type, failed_step order by error_type, failed_step""",
    "daily_off_topic": """
        select request_date, requests, off_topic_requests, off_topic_rate
        from {schema}.fct_daily_off_topic
        where request_date between %(start)s and %(end)s
        order by request_date""",
    "daily_answer_quality": """
        select request_date, sum(requests_with_sql) as requests_with_sql,
               sum(empty_results) as empty_results,
               sum(failed_or_empty_requests) as failed_or_empty_requests,
               sum(reasked_requests) as reasked_requests,
               sum(empty_results)::float8 / nullif(sum(requests_with_sql), 0)
                   as empty_result_rate,
               sum(reasked_requests)::float8 / nullif(sum(failed_or_empty_requests), 0)
                   as reask_rate
        from {schema}.fct_daily_answer_quality
        where request_date between %(start)s and %(end)s
        group by request_date order by request_date""",
    "empty_fingerprints": """
        select sql_fingerprint, empty_results, occurrences, example_sql
        from {schema}.fct_sql_fingerprints
        where empty_results > 0
        order by empty_results desc, sql_fingerprint limit 10""",
    "top_fingerprints": """
        select sql_fingerprint, occurrences, errors, avg_sql_execution_ms, example_sql,
               last_seen_at
        from {schema}.fct_sql_fingerprints
        order by occurrences desc, sql_fingerprint limit 10""",
    "model_comparison": """
        select sql_model, response_model, sql_model_family, response_model_family, requests,
               error_rate, p50_nl_to_sql_ms, p95_nl_to_sql_ms, p95_response_generation_ms,
               p95_ttfb_ms, avg_cost_usd, priced_requests
        from {schema}.fct_model_comparison order by requests desc, sql_model, response_model""",
    # The comparison added up per (SQL family, response family): what combines exactly.
    # Requests, errors and priced cost add up across snapshots (gpt-4o-mini and
    # gpt-4o-mini-2024-07-18 are one model); percentiles do not, so this view has no latency.
    # Families in code point order (collate "C"), as a Python sort would put them.
    "model_families": """
        select sql_model_family, response_model_family, count(*) as pairs,
               sum(requests)::bigint as requests,
               sum(error_rate * requests) / sum(requests)::float8 as error_rate,
               (sum(avg_cost_usd * priced_requests) filter (where avg_cost_usd is not null)
                / nullif(sum(priced_requests) filter (where avg_cost_usd is not null), 0)
               )::float8 as avg_cost_usd
        from {schema}.fct_model_comparison
        group by sql_model_family, response_model_family
        order by sum(requests) desc, sql_model_family collate "C",
                 response_model_family collate "C"
        """,
    "heaviest_users": """
        select user_id, requests, total_tokens, total_cost_usd, errors
        from {schema}.rpt_user_usage_30d
        order by total_cost_usd desc nulls last, requests desc, user_id limit 15""",
    "alerts": """
        select alert_date, rule, subject, severity, message
        from {schema}.rpt_alerts
        where alert_date between %(start)s and %(end)s + 1
        order by alert_date desc, severity, rule, subject""",
}

# ---------------------------------------------------------------- the daily digest

# Each gets %(day)s, the digest's day (alerts: that day and after).
DIGEST: dict[str, str] = {
    "spend": """
        select model, sum(requests) filter (where step = 'sql') as sql_steps,
               sum(requests) as steps, sum(total_cost_usd) as cost_usd,
               sum(unpriced_requests) as unpriced_steps
        from {schema}.fct_daily_token_cost
        where request_date = %(day)s
        group by model
        order by sum(total_cost_usd) desc nulls last, model
    """,
    "requests": """
        select requests, off_topic_requests, off_topic_rate
        from {schema}.fct_daily_off_topic
        where request_date = %(day)s
    """,
    "errors": """
        select error_type, sum(errors) as errors, max(requests_on_day) as requests
        from {schema}.fct_daily_errors
        where request_date = %(day)s
        group by error_type
        order by sum(errors) desc, error_type
        limit 5
    """,
    "latency": """
        select step, requests, p50_ms, p95_ms
        from {schema}.fct_daily_step_latency
        where request_date = %(day)s
        order by array_position(
            array['nl_to_sql', 'sql_execution', 'response_generation', 'ttfb'], step)
    """,
    "alerts": """
        select severity, rule, subject, message
        from {schema}.rpt_alerts
        where alert_date >= %(day)s
        order by alert_date, case severity when 'error' then 0 else 1 end, rule, subject
    """,
}

# ---------------------------------------------------------------- the alerts job

# Alerts dated %(since)s or later, errors first within a day.
ALERTS = """
    select alert_date, rule, subject, observed, expected, severity, message
    from {schema}.rpt_alerts where alert_date >= %(since)s
    order by alert_date, case severity when 'error' then 0 else 1 end, rule, subject"""

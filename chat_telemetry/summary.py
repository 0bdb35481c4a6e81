"""The terminal summary `make demo` ends with: what the marts say, read as the BI role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from chat_telemetry import settings
from chat_telemetry.bootstrap import bi_role_name
from chat_telemetry.database import Connection

if TYPE_CHECKING:
    from chat_telemetry.bi_login import BiLogin


def marts_schema() -> str:
    return settings.MARTS_SCHEMA.get()


def reporting_timezone() -> str:
    """The time zone of calendar days: the same variable the dbt var `reporting_timezone` reads."""
    return settings.REPORTING_TIMEZONE.get()


@dataclass(frozen=True)
class Section:
    title: str
    headers: tuple[str, ...]
    rows: list[tuple[Any, ...]]


# Every query gets %(today)s, today's date in the reporting time zone. Today is still being
# written: its handful of early requests would read as a cost drop, an error-rate jump or a
# p99 collapse, so the sections compare complete days (before today) and today gets a section
# of its own, titled as partial.
QUERIES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "cost": (
        "Cost per day, last 7 complete days (USD; unpriced usage excluded)",
        ("day", "requests", "cost_usd", "top model by cost", "top model usd", "unpriced"),
        """
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
    ),
    "latency": (
        "Step latency on the last complete day (ms, successful requests)",
        ("day", "step", "requests", "p50_ms", "p95_ms", "p99_ms"),
        """
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
    ),
    "errors": (
        "Error rate by type, last 30 complete days",
        ("error_type", "errors", "error_rate"),
        """
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
    ),
    "off_topic": (
        "Off-topic rate, last 30 complete days",
        ("requests", "off_topic", "rate"),
        """
        with complete as (
            select * from {schema}.fct_daily_off_topic where request_date < %(today)s
        )
        select sum(requests), sum(off_topic_requests),
               to_char(100.0 * sum(off_topic_requests) / nullif(sum(requests), 0), 'FM990.00')
               || '%%'
        from complete
        where request_date > (select max(request_date) from complete) - 30
        """,
    ),
    "fingerprints": (
        "Top 5 SQL fingerprints",
        ("occurrences", "avg_exec_ms", "errors", "example_sql"),
        """
        select occurrences, round(avg_sql_execution_ms::numeric, 1), errors,
               left(regexp_replace(example_sql, '\\s+', ' ', 'g'), 60)
        from {schema}.fct_sql_fingerprints
        order by occurrences desc, sql_fingerprint limit 5
        """,
    ),
    "answer_quality": (
        "Answer quality, last 7 complete days (empty: SQL ran, no row; re-asked within "
        "5 minutes after a failure or an empty result; suggestions taken)",
        (
            "day",
            "with_sql",
            "empty",
            "empty_rate",
            "reasked",
            "reask_rate",
            "followed",
            "follow_rate",
        ),
        """
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
    ),
    "empty_fingerprints": (
        "Top 5 SQL fingerprints by empty results (all history)",
        ("empty_results", "occurrences", "example_sql"),
        """
        select empty_results, occurrences,
               left(regexp_replace(example_sql, '\\s+', ' ', 'g'), 60)
        from {schema}.fct_sql_fingerprints
        where empty_results > 0
        order by empty_results desc, sql_fingerprint limit 5
        """,
    ),
    "models": (
        "Model comparison, last 30 days",
        ("sql_model", "response_model", "requests", "error_rate", "p95_ttfb_ms", "avg_cost_usd"),
        """
        select sql_model, response_model, requests,
               to_char(100 * error_rate, 'FM990.00') || '%%', round(p95_ttfb_ms::numeric),
               round(avg_cost_usd, 6)
        from {schema}.fct_model_comparison
        order by requests desc, sql_model, response_model limit 12
        """,
    ),
    "today": (
        "Today so far ({today}, partial: until {time} {timezone}; not in the sections above)",
        ("day", "requests", "cost_usd", "errors", "off_topic"),
        """
        select o.request_date, o.requests,
               (select round(sum(c.total_cost_usd), 4) from {schema}.fct_daily_token_cost as c
                where c.request_date = o.request_date),
               (select coalesce(sum(e.errors), 0) from {schema}.fct_daily_errors as e
                where e.request_date = o.request_date),
               o.off_topic_requests
        from {schema}.fct_daily_off_topic as o
        where o.request_date = %(today)s
        """,
    ),
}


def local_now(
    connection: psycopg.Connection[Any], timezone_name: str, now: datetime | None = None
) -> tuple[date, str]:
    """Today's date and the time (HH:MM) in the reporting time zone, as Postgres sees them.

    Postgres does the conversion, with the same time zone rules dbt's models use to assign
    `request_date`, so "today" here is the day the marts call today. `now` pins the clock
    (tests).
    """
    row = connection.execute(
        "select (t at time zone %(tz)s)::date, to_char(t at time zone %(tz)s, 'HH24:MI') "
        "from (select coalesce(%(now)s::timestamptz, statement_timestamp()) as t) as clock",
        {"tz": timezone_name, "now": now},
    ).fetchone()
    assert row is not None
    return row[0], row[1]


def collect(
    conninfo: str,
    *,
    as_role: str | None = None,
    timezone_name: str | None = None,
    now: datetime | None = None,
) -> list[Section]:
    """Run the summary queries; with `as_role`, as that role (the BI role proves enough).

    Trend sections use complete days only; today's partial day, when it has rows, comes last
    as its own section.
    """
    timezone_name = timezone_name or reporting_timezone()
    sections = []
    with psycopg.connect(conninfo, autocommit=True) as connection:
        if as_role:
            connection.execute(sql.SQL("set role {}").format(sql.Identifier(as_role)))
        schema = sql.Identifier(marts_schema()).as_string(connection)
        today, time = local_now(connection, timezone_name, now)
        for title, headers, query in QUERIES.values():
            rows = connection.execute(
                query.format(schema=schema).encode(), {"today": today}
            ).fetchall()
            if title.startswith("Today") and not rows:
                continue
            title = title.format(today=today, time=time, timezone=timezone_name)
            sections.append(Section(title, headers, rows))
    return sections


def _format(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def render(sections: list[Section]) -> str:
    lines: list[str] = []
    for section in sections:
        lines.append("")
        lines.append(section.title)
        cells = [list(section.headers)] + [[_format(v) for v in row] for row in section.rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(section.headers))]
        for number, row in enumerate(cells):
            lines.append(
                "  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            )
            if number == 0:
                lines.append("  " + "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def connection_help(connection: Connection, login: BiLogin | None = None) -> str:
    """Where the marts are and how a BI tool connects; ends with the URL when there is one."""
    role = bi_role_name()
    schema = marts_schema()
    head = f"""
Where the marts are
  database: {connection.describe()}
  schema:   {schema}  (staging and intermediate models live apart, unreadable to BI)
  BI role:  {role}  (SELECT on {schema}.* only; no access to raw telemetry)"""
    if login is not None:
        return f"""{head}
Connect a BI tool (Metabase, Superset, DBeaver, Grafana, a notebook) on this machine with
this URL: login {login.user} (member of {role}), localhost TCP, password in
{password_path_hint()}; make db-url prints it again.
{login.url()}"""
    return f"""{head}
Connect a BI tool: give it a login role that is a member of {role}, e.g. (make psql opens
a psql session on this database)
  create role metabase login password '...' in role {role};
then connect with user=metabase to {connection.conninfo()}
and read {schema}.fct_* and {schema}.rpt_*."""


def password_path_hint() -> str:
    """The BI password file, relative to the checkout when it is inside it."""
    from chat_telemetry import bi_login
    from chat_telemetry.database import PROJECT_ROOT

    path = bi_login.password_path()
    try:
        return str(path.relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)

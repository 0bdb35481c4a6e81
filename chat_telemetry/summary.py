"""The terminal summary `make demo` ends with: what the marts say, read as the BI role."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from chat_telemetry.bootstrap import bi_role_name
from chat_telemetry.database import Connection


def marts_schema() -> str:
    return os.environ.get("CHAT_TELEMETRY_MARTS_SCHEMA", "analytics")


@dataclass(frozen=True)
class Section:
    title: str
    headers: tuple[str, ...]
    rows: list[tuple[Any, ...]]


QUERIES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "cost": (
        "Cost per day, last 7 days (USD; unpriced usage excluded)",
        ("day", "requests", "cost_usd", "top model by cost", "top model usd", "unpriced"),
        """
        with daily as (
            select request_date, step, model, requests, total_cost_usd, unpriced_requests
            from {schema}.fct_daily_token_cost
            where request_date > (select max(request_date) from {schema}.fct_daily_token_cost) - 7
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
        "Step latency on the latest day (ms, successful requests)",
        ("day", "step", "requests", "p50_ms", "p95_ms", "p99_ms"),
        """
        select request_date, step, requests, round(p50_ms::numeric), round(p95_ms::numeric),
               round(p99_ms::numeric)
        from {schema}.fct_daily_step_latency
        where request_date = (select max(request_date) from {schema}.fct_daily_step_latency)
        order by array_position(
            array['nl_to_sql', 'sql_execution', 'response_generation', 'ttfb'], step)
        """,
    ),
    "errors": (
        "Error rate by type, last 30 days",
        ("error_type", "errors", "error_rate"),
        """
        with days as (
            select request_date, requests from {schema}.fct_daily_off_topic
            where request_date > (select max(request_date) from {schema}.fct_daily_off_topic) - 30
        )
        select e.error_type, sum(e.errors),
               to_char(100.0 * sum(e.errors) / (select sum(requests) from days), 'FM990.00') || '%'
        from {schema}.fct_daily_errors as e
        where e.request_date in (select request_date from days)
        group by e.error_type order by sum(e.errors) desc
        """,
    ),
    "off_topic": (
        "Off-topic rate, last 30 days",
        ("requests", "off_topic", "rate"),
        """
        select sum(requests), sum(off_topic_requests),
               to_char(100.0 * sum(off_topic_requests) / nullif(sum(requests), 0), 'FM990.00')
               || '%'
        from {schema}.fct_daily_off_topic
        where request_date > (select max(request_date) from {schema}.fct_daily_off_topic) - 30
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
    "models": (
        "Model comparison, last 30 days",
        ("sql_model", "response_model", "requests", "error_rate", "p95_ttfb_ms", "avg_cost_usd"),
        """
        select sql_model, response_model, requests,
               to_char(100 * error_rate, 'FM990.00') || '%', round(p95_ttfb_ms::numeric),
               round(avg_cost_usd, 6)
        from {schema}.fct_model_comparison
        order by requests desc, sql_model, response_model limit 12
        """,
    ),
}


def collect(conninfo: str, *, as_role: str | None = None) -> list[Section]:
    """Run the summary queries; with `as_role`, as that role (the BI role proves enough)."""
    sections = []
    with psycopg.connect(conninfo, autocommit=True) as connection:
        if as_role:
            connection.execute(sql.SQL("set role {}").format(sql.Identifier(as_role)))
        schema = sql.Identifier(marts_schema()).as_string(connection)
        for title, headers, query in QUERIES.values():
            rows = connection.execute(query.format(schema=schema).encode()).fetchall()
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


def connection_help(connection: Connection) -> str:
    role = bi_role_name()
    schema = marts_schema()
    return f"""
Where the marts are
  database: {connection.describe()}
  schema:   {schema}  (staging and intermediate models live apart, unreadable to BI)
  BI role:  {role}  (SELECT on {schema}.* only; no access to raw telemetry)
Connect a BI tool: give it a login role that is a member of {role}, e.g. (make psql opens
a psql session on this database)
  create role metabase login password '...' in role {role};
then connect with user=metabase to {connection.conninfo()}
and read {schema}.fct_* and {schema}.rpt_*. The embedded server listens on a unix socket
only; for a BI tool over TCP, point PG* at a server you run (README: Supabase)."""

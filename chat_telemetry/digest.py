"""`python -m chat_telemetry digest`: one day's spend, errors, latency, off-topic rate and alerts.

A daily report for a chat channel, read from the marts as the BI role (so it can show nothing
the BI role could not), printed as text and posted as one Slack-compatible message through
the same webhook as the alerts. Aggregates only: no question, answer or user appears.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql

from chat_telemetry.alerts import marts_schema

QUERIES: dict[str, str] = {
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


@dataclass(frozen=True)
class Digest:
    day: date
    sections: dict[str, list[tuple[Any, ...]]]


def collect(conninfo: str, day: date, *, as_role: str | None) -> Digest:
    """Run the digest's queries for `day` (alerts: that day and after), as `as_role`."""
    sections: dict[str, list[tuple[Any, ...]]] = {}
    with psycopg.connect(conninfo, autocommit=True) as connection:
        if as_role:
            connection.execute(sql.SQL("set role {}").format(sql.Identifier(as_role)))
        schema = sql.Identifier(marts_schema()).as_string(connection)
        for name, query in QUERIES.items():
            text = query.format(schema=schema)
            sections[name] = connection.execute(text.encode(), {"day": day}).fetchall()
    return Digest(day, sections)


def _usd(value: Decimal | None) -> str:
    return "unknown" if value is None else f"{value:,.4f} USD"


def render(digest: Digest) -> str:
    """The digest as plain text (also what is posted)."""
    lines = [f"chat-telemetry digest for {digest.day.isoformat()}"]
    totals = digest.sections["requests"]
    if not totals:
        lines.append("No requests that day.")
    else:
        requests, off_topic, rate = totals[0]
        lines.append(f"Requests: {requests:,}; off-topic: {off_topic:,} ({100 * (rate or 0):.2f}%)")
    spend = digest.sections["spend"]
    known = [row[3] for row in spend if row[3] is not None]
    total = sum(known, Decimal(0)) if known else None
    lines.append(f"Spend: {_usd(total)}")
    for model, _sql_steps, steps, cost, unpriced in spend:
        note = f" ({unpriced:,} steps of unknown cost)" if unpriced else ""
        lines.append(f"  {model}: {_usd(cost)} over {steps:,} steps{note}")
    errors = digest.sections["errors"]
    lines.append("Top errors:" if errors else "Errors: none")
    for error_type, count, requests in errors:
        lines.append(f"  {error_type}: {count:,} ({100 * count / requests:.2f}% of requests)")
    lines.append("p95 latency (successful requests):")
    for step, requests, p50, p95 in digest.sections["latency"]:
        lines.append(f"  {step}: p95 {p95:,.0f} ms, p50 {p50:,.0f} ms over {requests:,}")
    alerts = digest.sections["alerts"]
    lines.append(f"Alerts since that day: {len(alerts)}" if alerts else "Alerts: none")
    for severity, rule, subject, message in alerts:
        lines.append(f"  [{severity.upper()}] {rule} ({subject}): {message}")
    return "\n".join(lines)

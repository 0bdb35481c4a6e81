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

from chat_telemetry import marts

# The digest's sections, in the order they are read.
QUERIES: dict[str, str] = marts.DIGEST


@dataclass(frozen=True)
class Digest:
    day: date
    sections: dict[str, list[tuple[Any, ...]]]


def collect(conninfo: str, day: date, *, as_role: str | None) -> Digest:
    """Run the digest's queries for `day` (alerts: that day and after), as `as_role`."""
    sections: dict[str, list[tuple[Any, ...]]] = {}
    with marts.reader(conninfo, as_role=as_role) as reader:
        for name, query in QUERIES.items():
            sections[name] = reader.rows(query, {"day": day})
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

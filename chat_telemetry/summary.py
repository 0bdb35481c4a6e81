"""The terminal summary `make demo` ends with: what the marts say, read as the BI role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chat_telemetry import marts
from chat_telemetry.bootstrap import bi_role_name
from chat_telemetry.database import Connection
from chat_telemetry.marts import marts_schema, reporting_timezone

if TYPE_CHECKING:
    from chat_telemetry.bi_login import BiLogin


@dataclass(frozen=True)
class Section:
    title: str
    headers: tuple[str, ...]
    rows: list[tuple[Any, ...]]


# The title and headers of each section of marts.SUMMARY, in the order they are printed.
# Trend sections use complete days only; today's partial day comes last, titled as partial.
SECTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "cost": (
        "Cost per day, last 7 complete days (USD; unpriced usage excluded)",
        ("day", "requests", "cost_usd", "top model by cost", "top model usd", "unpriced"),
    ),
    "latency": (
        "Step latency on the last complete day (ms, successful requests)",
        ("day", "step", "requests", "p50_ms", "p95_ms", "p99_ms"),
    ),
    "errors": (
        "Error rate by type, last 30 complete days",
        ("error_type", "errors", "error_rate"),
    ),
    "off_topic": ("Off-topic rate, last 30 complete days", ("requests", "off_topic", "rate")),
    "fingerprints": (
        "Top 5 SQL fingerprints",
        ("occurrences", "avg_exec_ms", "errors", "example_sql"),
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
    ),
    "empty_fingerprints": (
        "Top 5 SQL fingerprints by empty results (all history)",
        ("empty_results", "occurrences", "example_sql"),
    ),
    "models": (
        "Model comparison, last 30 days",
        ("sql_model", "response_model", "requests", "error_rate", "p95_ttfb_ms", "avg_cost_usd"),
    ),
    "today": (
        "Today so far ({today}, partial: until {time} {timezone}; not in the sections above)",
        ("day", "requests", "cost_usd", "errors", "off_topic"),
    ),
}
# (title, headers, query) per section: what the summary runs and prints.
QUERIES: dict[str, tuple[str, tuple[str, ...], str]] = {
    name: (title, headers, marts.SUMMARY[name]) for name, (title, headers) in SECTIONS.items()
}


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
    with marts.reader(conninfo, as_role=as_role) as reader:
        today, time = reader.local_now(timezone_name, now)
        for title, headers, query in QUERIES.values():
            rows = reader.rows(query, {"today": today})
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

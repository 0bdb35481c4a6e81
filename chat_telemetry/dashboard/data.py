"""What the dashboard shows, read from the marts through the BI role (marts.reader).

The rows stay plain (floats, ISO dates, strings) so that the page can embed them as JSON and
anyone, and the tests, can check every figure against the marts.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from chat_telemetry import marts


@dataclass
class DashboardData:
    """What the dashboard shows, as plain rows read from the marts."""

    timezone: str
    window_start: date | None = None
    window_end: date | None = None
    # Today in the reporting time zone and the time the page was made (HH:MM, same zone).
    today: date | None = None
    now_local: str = ""
    # Today's ISO date when the marts have rows for it: that day is still being written.
    partial_day: str | None = None
    daily_cost: list[dict[str, Any]] = field(default_factory=list)
    daily_latency: list[dict[str, Any]] = field(default_factory=list)
    daily_errors: list[dict[str, Any]] = field(default_factory=list)
    errors_by_step: list[dict[str, Any]] = field(default_factory=list)
    daily_off_topic: list[dict[str, Any]] = field(default_factory=list)
    daily_answer_quality: list[dict[str, Any]] = field(default_factory=list)
    empty_fingerprints: list[dict[str, Any]] = field(default_factory=list)
    top_fingerprints: list[dict[str, Any]] = field(default_factory=list)
    model_comparison: list[dict[str, Any]] = field(default_factory=list)
    # The comparison added up by (SQL family, response family), in SQL (marts.py).
    model_families: list[dict[str, Any]] = field(default_factory=list)
    heaviest_users: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)


# Each query fills the field of its name, for the window the marts end on.
QUERIES: dict[str, str] = marts.DASHBOARD


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def collect(
    conninfo: str, *, as_role: str | None, timezone_name: str, now: datetime | None = None
) -> DashboardData:
    """Read the marts (as the BI role when given) for the 30-day window they end on.

    `now` pins the clock that decides which day is today's partial one (tests); by default
    it is the database's clock, in the reporting time zone.
    """
    data = DashboardData(timezone=timezone_name)
    with marts.reader(conninfo, as_role=as_role) as reader:
        data.today, data.now_local = reader.local_now(timezone_name, now)
        window = reader.rows(marts.DASHBOARD_WINDOW)
        if not window:  # no traffic in the window: fall back to the daily facts
            window = reader.rows(marts.DASHBOARD_WINDOW_FALLBACK)
        data.window_start, data.window_end = window[0] if window else (None, None)
        bounds = {"start": data.window_start, "end": data.window_end}
        for name, query in QUERIES.items():
            rows = [
                {column: _plain(value) for column, value in row.items()}
                for row in reader.records(query, bounds)
            ]
            setattr(data, name, rows)
    today = data.today.isoformat() if data.today else None
    if any(row["request_date"] == today for row in data.daily_off_topic + data.daily_cost):
        data.partial_day = today
    return data


def window_label(data: DashboardData) -> str:
    return f"{data.window_start} to {data.window_end}, days in {data.timezone}"


def partial_note(data: DashboardData) -> str:
    """What a trend chart says about today: left out, as a partial day is no comparison."""
    return f"; today ({data.partial_day}) is partial: left out" if data.partial_day else ""


def complete_days(data: DashboardData, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of complete days: today's handful of early requests would read as a trend."""
    return [row for row in rows if row["request_date"] != data.partial_day]

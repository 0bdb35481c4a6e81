"""One self-contained HTML dashboard over the marts, read with the BI role's privileges.

Charts are drawn by Plotly (its JavaScript is inlined, so the file opens with no network);
the data each chart shows is also embedded as JSON (`<script id="dashboard-data">`), so that
anyone, and the tests, can check the figures against the marts.
"""

from __future__ import annotations

import html
import json
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import psycopg
from plotly.io import to_html
from plotly.subplots import make_subplots
from psycopg import sql

from chat_telemetry.summary import local_now, marts_schema
from chat_telemetry.summary import reporting_timezone as reporting_timezone

DEFAULT_OUTPUT = Path("reports") / "dashboard.html"
STEPS = ("nl_to_sql", "sql_execution", "response_generation", "ttfb")


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
    heaviest_users: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)


QUERIES = {
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
    with psycopg.connect(conninfo, autocommit=True) as connection:
        if as_role:
            connection.execute(sql.SQL("set role {}").format(sql.Identifier(as_role)))
        data.today, data.now_local = local_now(connection, timezone_name, now)
        schema = sql.Identifier(marts_schema()).as_string(connection)
        window = connection.execute(
            f"select window_start_date, window_end_date from {schema}.fct_model_comparison limit 1"
        ).fetchone()
        if window is None:  # no traffic in the window: fall back to the daily facts
            window = connection.execute(
                f"select max(request_date) - 29, max(request_date) "
                f"from {schema}.fct_daily_off_topic"
            ).fetchone()
        data.window_start, data.window_end = window if window else (None, None)
        bounds = {"start": data.window_start, "end": data.window_end}
        for name, query in QUERIES.items():
            cursor = connection.execute(query.format(schema=schema).encode(), bounds)
            columns = [column.name for column in cursor.description or []]
            rows = [
                {column: _plain(value) for column, value in zip(columns, row, strict=True)}
                for row in cursor.fetchall()
            ]
            setattr(data, name, rows)
    today = data.today.isoformat() if data.today else None
    if any(row["request_date"] == today for row in data.daily_off_topic + data.daily_cost):
        data.partial_day = today
    return data


def _range(data: DashboardData) -> str:
    return f"{data.window_start} to {data.window_end}, days in {data.timezone}"


def _partial_note(data: DashboardData) -> str:
    """What a trend chart says about today: left out, as a partial day is no comparison."""
    return f"; today ({data.partial_day}) is partial: left out" if data.partial_day else ""


def _complete_days(data: DashboardData, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of complete days: today's handful of early requests would read as a trend."""
    return [row for row in rows if row["request_date"] != data.partial_day]


def _daily_series(
    rows: list[dict[str, Any]], group: str, value: str
) -> tuple[list[str], dict[str, list[Any]]]:
    """Every day of the rows, and per group the sum of the value on each day.

    0 is right here: a group absent on a day had no cost (no call) or no error that day, and
    a NULL cost (unpriced) is drawn as no bar, its share shown by the unpriced line.
    """
    days = sorted({row["request_date"] for row in rows})
    series: dict[str, list[Any]] = {}
    for name in sorted({row[group] for row in rows}):
        by_day: dict[str, Any] = defaultdict(int)
        for row in rows:
            if row[group] == name and row[value] is not None:
                by_day[row["request_date"]] += row[value]
        series[name] = [by_day.get(day, 0) for day in days]
    return days, series


def _view_buttons(labels: tuple[str, str], counts: tuple[int, int], always: int) -> list[Any]:
    """Two buttons that show one trace set or the other (plus `always` traces after them)."""
    first, second = counts
    return [
        {
            "label": label,
            "method": "restyle",
            "args": [{"visible": visible + [True] * always}],
        }
        for label, visible in (
            (labels[0], [True] * first + [False] * second),
            (labels[1], [False] * first + [True] * second),
        )
    ]


PARTIAL_PATTERN = "/"


def cost_figure(data: DashboardData) -> go.Figure:
    """Stacked daily cost; today's bar is hatched and labelled "today so far (partial)".

    A day's cost only grows, so today's bar is a meaningful running total, but it must not
    read as a drop: it is hatched and annotated. The unpriced share (a rate) leaves it out.
    """
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    days, cost_by_family = _daily_series(data.daily_cost, "model_family", "total_cost_usd")
    _, cost_by_model = _daily_series(data.daily_cost, "model", "total_cost_usd")
    patterns = [PARTIAL_PATTERN if day == data.partial_day else "" for day in days]
    # By family first (gpt-4o-mini and gpt-4o-mini-2024-07-18 are one model); the exact
    # names are the second trace set, hidden until the button shows them.
    for series, visible in ((cost_by_family, True), (cost_by_model, False)):
        for name, costs in series.items():
            figure.add_trace(
                go.Bar(
                    name=name,
                    x=days,
                    y=costs,
                    visible=visible,
                    marker={"pattern": {"shape": patterns}},
                ),
                secondary_y=False,
            )
    unpriced_share: list[float | None] = []
    for day in days:
        rows = [r for r in data.daily_cost if r["request_date"] == day]
        requests = sum(r["requests"] for r in rows)
        unpriced = sum(r["unpriced_requests"] for r in rows)
        partial = day == data.partial_day
        unpriced_share.append(None if partial or not requests else unpriced / requests)
    figure.add_trace(
        go.Scatter(
            name="unpriced share of model calls (cost unknown, not in bars)",
            x=days,
            y=unpriced_share,
            mode="lines+markers",
            line={"dash": "dot", "color": "black"},
        ),
        secondary_y=True,
    )
    if data.partial_day in days:
        total = sum(costs[days.index(data.partial_day)] for costs in cost_by_family.values())
        figure.add_annotation(
            x=data.partial_day,
            y=total,
            text=f"today so far<br>(partial, to {data.now_local})",
            showarrow=True,
            arrowhead=2,
            ay=-40,
        )
    figure.update_layout(
        barmode="stack",
        title=f"Daily token cost by model family, USD ({_range(data)}"
        + ("; hatched: today, partial)" if data.partial_day else ")"),
        legend={"orientation": "h", "y": -0.25},
        updatemenus=[
            {
                "type": "buttons",
                "direction": "right",
                "x": 1,
                "xanchor": "right",
                "y": 1.18,
                "buttons": _view_buttons(
                    ("by model family", "by exact model name"),
                    (len(cost_by_family), len(cost_by_model)),
                    always=1,
                ),
            }
        ],
    )
    figure.update_yaxes(title_text="USD", secondary_y=False)
    figure.update_yaxes(title_text="unpriced share", tickformat=".1%", secondary_y=True)
    return figure


def latency_figure(data: DashboardData) -> go.Figure:
    figure = make_subplots(rows=2, cols=2, subplot_titles=STEPS, shared_xaxes=True)
    colors = {"p50_ms": "#1f77b4", "p95_ms": "#ff7f0e", "p99_ms": "#d62728"}
    for index, step in enumerate(STEPS):
        rows = [r for r in _complete_days(data, data.daily_latency) if r["step"] == step]
        for measure, color in colors.items():
            figure.add_trace(
                go.Scatter(
                    name=measure.replace("_ms", ""),
                    x=[r["request_date"] for r in rows],
                    y=[r[measure] for r in rows],
                    line={"color": color},
                    legendgroup=measure,
                    showlegend=index == 0,
                ),
                row=index // 2 + 1,
                col=index % 2 + 1,
            )
    figure.update_layout(
        title="Step latency p50 / p95 / p99, ms, successful requests "
        f"({_range(data)}{_partial_note(data)})",
        height=600,
    )
    return figure


def errors_figure(data: DashboardData) -> go.Figure:
    figure = make_subplots(
        rows=1, cols=2, column_widths=[0.65, 0.35],
        subplot_titles=("error rate per day by type", "errors by failed step (window)"),
    )  # fmt: skip
    days, rate_by_type = _daily_series(
        _complete_days(data, data.daily_errors), "error_type", "error_rate"
    )
    for error_type, rates in rate_by_type.items():
        figure.add_trace(
            go.Bar(name=error_type, x=days, y=rates, legendgroup=error_type),
            row=1,
            col=1,
        )
        rows = [r for r in data.errors_by_step if r["error_type"] == error_type]
        figure.add_trace(
            go.Bar(
                name=error_type,
                x=[r["failed_step"] for r in rows],
                y=[r["errors"] for r in rows],
                legendgroup=error_type,
                showlegend=False,
            ),
            row=1,
            col=2,
        )
    figure.update_layout(
        barmode="stack",
        title=f"Errors by type and failed step ({_range(data)}{_partial_note(data)} of the rate)",
    )
    figure.update_yaxes(tickformat=".1%", row=1, col=1)
    return figure


def off_topic_figure(data: DashboardData) -> go.Figure:
    rows = _complete_days(data, data.daily_off_topic)
    figure = go.Figure(
        go.Scatter(
            name="off-topic rate",
            x=[r["request_date"] for r in rows],
            y=[r["off_topic_rate"] for r in rows],
            mode="lines+markers",
        )
    )
    figure.update_layout(title=f"Off-topic rate per day ({_range(data)}{_partial_note(data)})")
    figure.update_yaxes(tickformat=".1%")
    return figure


def answer_quality_figure(data: DashboardData) -> go.Figure:
    """Empty results and re-asks per complete day: the share of SQL that ran and found
    nothing, and the share of failed or empty answers asked again within the re-ask window."""
    rows = _complete_days(data, data.daily_answer_quality)
    figure = go.Figure()
    for name, column, counts in (
        ("empty-result rate (of requests with SQL)", "empty_result_rate", "empty_results"),
        ("re-ask rate (of failed or empty answers)", "reask_rate", "reasked_requests"),
    ):
        figure.add_trace(
            go.Scatter(
                name=name,
                x=[r["request_date"] for r in rows],
                y=[r[column] for r in rows],
                customdata=[r[counts] for r in rows],
                hovertemplate="%{y:.1%} (%{customdata})",
                mode="lines+markers",
            )
        )
    figure.update_layout(title=f"Answer quality per day ({_range(data)}{_partial_note(data)})")
    figure.update_yaxes(tickformat=".1%")
    return figure


def empty_fingerprints_figure(data: DashboardData) -> go.Figure:
    rows = data.empty_fingerprints
    return _table(
        ["empty results", "occurrences", "most recent SQL"],
        [
            [r["empty_results"] for r in rows],
            [r["occurrences"] for r in rows],
            [_plotly_text(r["example_sql"], 300) for r in rows],
        ],
        "SQL fingerprints that most often return nothing (all history)",
    )


def today_figure(data: DashboardData) -> go.Figure:
    """Today so far, apart from the trend charts and titled as partial."""
    day = data.partial_day
    if day is None:
        return _table(
            ["today"],
            [[f"No rows for today ({data.today}) in the marts: every day shown is complete."]],
            f"Today so far ({data.today}, {data.timezone})",
            row_height=80,
        )
    requests = sum(r["requests"] for r in data.daily_off_topic if r["request_date"] == day)
    off_topic = sum(
        r["off_topic_requests"] for r in data.daily_off_topic if r["request_date"] == day
    )
    errors = sum(int(r["errors"]) for r in data.daily_errors if r["request_date"] == day)
    costs = [r["total_cost_usd"] for r in data.daily_cost if r["request_date"] == day]
    priced = [cost for cost in costs if cost is not None]
    return _table(
        ["requests", "cost so far USD", "errors", "error rate", "off-topic", "off-topic rate"],
        [
            [requests],
            [f"{sum(priced):.4f}" if priced else MISSING],
            [errors],
            [f"{errors / requests:.1%}" if requests else MISSING],
            [off_topic],
            [f"{off_topic / requests:.1%}" if requests else MISSING],
        ],
        f"Today so far ({day}, partial: until {data.now_local} {data.timezone}; "
        "few requests, so rates are not comparable with complete days)",
        row_height=80,
    )


# What a cell shows for a value that was not measured (no successful request, no price):
# never a 0, which would read as a measurement.
MISSING = "\u2014"


def _number(value: float | None, digits: int = 0) -> str:
    """A measured value rounded for display, or the dash when nothing was measured."""
    if value is None:
        return MISSING
    return f"{value:,.{digits}f}"


def _plotly_text(text: str | None, limit: int) -> str:
    """Free text made safe for a Plotly label: whitespace collapsed, cut, then escaped once.

    Plotly reads labels as a small HTML subset: `<...>` is a tag and `&amp;`, `&lt;`, `&gt;`
    and numeric entities are decoded (`&quot;` is not). So we cut first (never inside an
    entity) and escape only &, < and >, exactly once.
    """
    flat = " ".join((text or "").split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "\u2026"
    return flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _table(
    headers: list[str], columns: list[list[Any]], title: str, row_height: int = 30
) -> go.Figure:
    figure = go.Figure(
        go.Table(
            header={"values": headers, "align": "left", "fill_color": "#e8eef7"},
            cells={"values": columns, "align": "left"},
        )
    )
    rows = len(columns[0]) if columns else 0
    figure.update_layout(title=title, height=160 + row_height * max(rows, 1))
    return figure


def fingerprints_figure(data: DashboardData) -> go.Figure:
    rows = data.top_fingerprints
    return _table(
        ["occurrences", "errors", "avg exec ms", "example SQL (most recent)"],
        [
            [r["occurrences"] for r in rows],
            [r["errors"] for r in rows],
            [_number(r["avg_sql_execution_ms"], 1) for r in rows],
            [_plotly_text(r["example_sql"], 300) for r in rows],
        ],
        "Top SQL fingerprints, all history (times in UTC)",
        row_height=75,
    )


def _model_families(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Comparison rows added up per (SQL family, response family): what combines exactly.

    Requests, errors and priced cost add up across snapshots; percentiles do not, so the
    family view has no latency and the exact view keeps it.
    """
    families: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row["sql_model_family"], row["response_model_family"])
        family = families.setdefault(
            key, {"pairs": 0, "requests": 0, "errors": 0.0, "priced": 0, "cost": 0.0}
        )
        family["pairs"] += 1
        family["requests"] += row["requests"]
        family["errors"] += row["error_rate"] * row["requests"]
        if row["avg_cost_usd"] is not None:
            family["priced"] += row["priced_requests"]
            family["cost"] += row["avg_cost_usd"] * row["priced_requests"]
    return [
        {
            "sql_model_family": sql_family,
            "response_model_family": response_family,
            "pairs": family["pairs"],
            "requests": family["requests"],
            "error_rate": family["errors"] / family["requests"],
            "avg_cost_usd": family["cost"] / family["priced"] if family["priced"] else None,
        }
        for (sql_family, response_family), family in sorted(
            families.items(), key=lambda item: (-item[1]["requests"], item[0])
        )
    ]


def models_figure(data: DashboardData) -> go.Figure:
    """The comparison by model family, and one click away by exact model name."""
    rows = data.model_comparison
    families = _model_families(rows)
    header = {"align": "left", "fill_color": "#e8eef7"}
    figure = go.Figure(
        [
            go.Table(
                header={**header, "values": [
                    "SQL model family", "response model family", "exact pairs", "requests",
                    "error rate", "avg cost USD"]},
                cells={"align": "left", "values": [
                    [r["sql_model_family"] for r in families],
                    [r["response_model_family"] for r in families],
                    [r["pairs"] for r in families],
                    [r["requests"] for r in families],
                    [f"{r['error_rate']:.2%}" for r in families],
                    [_number(r["avg_cost_usd"], 6) for r in families],
                ]},
            ),
            go.Table(
                visible=False,
                header={**header, "values": [
                    "SQL model", "response model", "requests", "error rate", "p95 NL-to-SQL ms",
                    "p95 response ms", "p95 TTFB ms", "avg cost USD"]},
                cells={"align": "left", "values": [
                    [r["sql_model"] for r in rows],
                    [r["response_model"] for r in rows],
                    [r["requests"] for r in rows],
                    [f"{r['error_rate']:.2%}" for r in rows],
                    [_number(r["p95_nl_to_sql_ms"]) for r in rows],
                    [_number(r["p95_response_generation_ms"]) for r in rows],
                    [_number(r["p95_ttfb_ms"]) for r in rows],
                    [_number(r["avg_cost_usd"], 6) for r in rows],
                ]},
            ),
        ]
    )  # fmt: skip
    figure.update_layout(
        # Latency percentiles do not add up across snapshots: the exact view has them.
        title=f"Model comparison ({_range(data)})<br><sup>{MISSING}: not measured (no "
        "successful request for a latency, no priced request for a cost); latency: exact "
        "names view</sup>",
        height=160 + 30 * max(len(rows), 1),
        updatemenus=[
            {
                "type": "buttons",
                "direction": "right",
                "x": 1,
                "xanchor": "right",
                "y": 1.02,
                "yanchor": "bottom",
                "buttons": _view_buttons(
                    ("by model family", "by exact model name (with latency)"),
                    (1, 1),
                    always=0,
                ),
            }
        ],
    )
    return figure


def users_figure(data: DashboardData) -> go.Figure:
    rows = list(reversed(data.heaviest_users))
    figure = go.Figure(
        go.Bar(
            name="cost USD",
            orientation="h",
            y=[r["user_id"] for r in rows],
            # No bar, and a word, for a user whose usage is all unpriced: not a 0 USD bar.
            x=[r["total_cost_usd"] for r in rows],
            text=[
                f"{r['requests']} requests"
                + (", cost unpriced" if r["total_cost_usd"] is None else "")
                for r in rows
            ],
        )
    )
    figure.update_layout(
        title=f"Heaviest users by cost, last 30 days (user ids only; {_range(data)})",
        height=520,
        margin={"l": 320},
    )
    return figure


def alerts_figure(data: DashboardData) -> go.Figure:
    """The alerts of the window (rpt_alerts, what `make alerts` posts), newest first."""
    rows = data.alerts
    errors = sum(1 for r in rows if r["severity"] == "error")
    return _table(
        ["day", "severity", "rule", "subject", "what happened"],
        [
            [r["alert_date"] for r in rows],
            [r["severity"] for r in rows],
            [r["rule"] for r in rows],
            [_plotly_text(r["subject"], 60) for r in rows],
            [_plotly_text(r["message"], 220) for r in rows],
        ],
        f"Alerts, last 30 days: {len(rows)} ({errors} errors; {_range(data)})",
        row_height=45,
    )


FIGURES = (
    ("cost", cost_figure),
    ("today", today_figure),
    ("latency", latency_figure),
    ("errors", errors_figure),
    ("off_topic", off_topic_figure),
    ("answer_quality", answer_quality_figure),
    ("fingerprints", fingerprints_figure),
    ("empty_fingerprints", empty_fingerprints_figure),
    ("models", models_figure),
    ("users", users_figure),
    ("alerts", alerts_figure),
)


def build_figures(data: DashboardData) -> dict[str, go.Figure]:
    return {name: make(data) for name, make in FIGURES}


def render(data: DashboardData) -> str:
    """The whole page: Plotly's JavaScript once, then every chart, then the data as JSON."""
    figures = build_figures(data)
    parts = []
    for index, (name, figure) in enumerate(figures.items()):
        parts.append(
            f'<section id="chart-{name}">'
            + to_html(
                figure,
                full_html=False,
                include_plotlyjs=index == 0,
                div_id=f"plot-{name}",
                config={"displaylogo": False},
            )
            + "</section>"
        )
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    payload = json.dumps(data.__dict__, default=str).replace("</", "<\\/")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>chat-telemetry dashboard</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 24px; color: #222; }}
section {{ margin-bottom: 32px; }}
</style></head>
<body>
<h1>chat-telemetry</h1>
<p>From the marts in schema <code>{html.escape(marts_schema())}</code>, read with the BI role.
Window {data.window_start} to {data.window_end}; calendar days in {html.escape(data.timezone)}.
Generated {generated}.</p>
{_partial_banner(data)}
{"".join(parts)}
<script type="application/json" id="dashboard-data">{payload}</script>
</body></html>
"""


def _partial_banner(data: DashboardData) -> str:
    if data.partial_day is None:
        return ""
    return (
        f'<p id="partial-day"><strong>Today ({data.partial_day}) is a partial day</strong> '
        f"(until {data.now_local} {html.escape(data.timezone)}): hatched in the cost chart, "
        "left out of the latency, error-rate and off-topic trends, and shown apart under "
        "&ldquo;Today so far&rdquo;.</p>"
    )


def write(
    conninfo: str,
    output: Path,
    *,
    as_role: str | None,
    timezone_name: str,
    now: datetime | None = None,
) -> Path:
    data = collect(conninfo, as_role=as_role, timezone_name=timezone_name, now=now)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render(data), encoding="utf-8")
    return output

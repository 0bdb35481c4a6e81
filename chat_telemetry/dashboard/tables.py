"""The dashboard's tables (Plotly): today so far, SQL fingerprints, the model comparison
and the alerts.

A value that was not measured shows as MISSING, never as a 0 that would read as a
measurement; free text is cut and escaped exactly once for Plotly's label HTML.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from chat_telemetry.dashboard.data import DashboardData, window_label
from chat_telemetry.dashboard.figures import view_buttons

# What a cell shows for a value that was not measured (no successful request, no price):
# never a 0, which would read as a measurement.
MISSING = "\u2014"


def number(value: float | None, digits: int = 0) -> str:
    """A measured value rounded for display, or the dash when nothing was measured."""
    if value is None:
        return MISSING
    return f"{value:,.{digits}f}"


def plotly_text(text: str | None, limit: int) -> str:
    """Free text made safe for a Plotly label: whitespace collapsed, cut, then escaped once.

    Plotly reads labels as a small HTML subset: `<...>` is a tag and `&amp;`, `&lt;`, `&gt;`
    and numeric entities are decoded (`&quot;` is not). So we cut first (never inside an
    entity) and escape only &, < and >, exactly once.
    """
    flat = " ".join((text or "").split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "\u2026"
    return flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def table(
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


def empty_fingerprints_figure(data: DashboardData) -> go.Figure:
    rows = data.empty_fingerprints
    return table(
        ["empty results", "occurrences", "most recent SQL"],
        [
            [r["empty_results"] for r in rows],
            [r["occurrences"] for r in rows],
            [plotly_text(r["example_sql"], 300) for r in rows],
        ],
        "SQL fingerprints that most often return nothing (all history)",
    )


def today_figure(data: DashboardData) -> go.Figure:
    """Today so far, apart from the trend charts and titled as partial."""
    day = data.partial_day
    if day is None:
        return table(
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
    return table(
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


def fingerprints_figure(data: DashboardData) -> go.Figure:
    rows = data.top_fingerprints
    return table(
        ["occurrences", "errors", "avg exec ms", "example SQL (most recent)"],
        [
            [r["occurrences"] for r in rows],
            [r["errors"] for r in rows],
            [number(r["avg_sql_execution_ms"], 1) for r in rows],
            [plotly_text(r["example_sql"], 300) for r in rows],
        ],
        "Top SQL fingerprints, all history (times in UTC)",
        row_height=75,
    )


def models_figure(data: DashboardData) -> go.Figure:
    """The comparison by model family, and one click away by exact model name."""
    rows = data.model_comparison
    families = data.model_families
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
                    [number(r["avg_cost_usd"], 6) for r in families],
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
                    [number(r["p95_nl_to_sql_ms"]) for r in rows],
                    [number(r["p95_response_generation_ms"]) for r in rows],
                    [number(r["p95_ttfb_ms"]) for r in rows],
                    [number(r["avg_cost_usd"], 6) for r in rows],
                ]},
            ),
        ]
    )  # fmt: skip
    figure.update_layout(
        # Latency percentiles do not add up across snapshots: the exact view has them.
        title=f"Model comparison ({window_label(data)})<br><sup>{MISSING}: not measured (no "
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
                "buttons": view_buttons(
                    ("by model family", "by exact model name (with latency)"),
                    (1, 1),
                    always=0,
                ),
            }
        ],
    )
    return figure


def alerts_figure(data: DashboardData) -> go.Figure:
    """The alerts of the window (rpt_alerts, what `make alerts` posts), newest first."""
    rows = data.alerts
    errors = sum(1 for r in rows if r["severity"] == "error")
    return table(
        ["day", "severity", "rule", "subject", "what happened"],
        [
            [r["alert_date"] for r in rows],
            [r["severity"] for r in rows],
            [r["rule"] for r in rows],
            [plotly_text(r["subject"], 60) for r in rows],
            [plotly_text(r["message"], 220) for r in rows],
        ],
        f"Alerts, last 30 days: {len(rows)} ({errors} errors; {window_label(data)})",
        row_height=45,
    )

"""The dashboard's charts (Plotly): trends per day, by model family first.

Trend charts of rates and percentiles leave today's partial day out (a handful of early
requests would read as a trend); the cost chart keeps it, hatched, as a running total.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from chat_telemetry.dashboard.data import DashboardData, complete_days, partial_note, window_label

STEPS = ("nl_to_sql", "sql_execution", "response_generation", "ttfb")


def daily_series(
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


def view_buttons(labels: tuple[str, str], counts: tuple[int, int], always: int) -> list[Any]:
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
    days, cost_by_family = daily_series(data.daily_cost, "model_family", "total_cost_usd")
    _, cost_by_model = daily_series(data.daily_cost, "model", "total_cost_usd")
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
        title=f"Daily token cost by model family, USD ({window_label(data)}"
        + ("; hatched: today, partial)" if data.partial_day else ")"),
        legend={"orientation": "h", "y": -0.25},
        updatemenus=[
            {
                "type": "buttons",
                "direction": "right",
                "x": 1,
                "xanchor": "right",
                "y": 1.18,
                "buttons": view_buttons(
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
        rows = [r for r in complete_days(data, data.daily_latency) if r["step"] == step]
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
        f"({window_label(data)}{partial_note(data)})",
        height=600,
    )
    return figure


def errors_figure(data: DashboardData) -> go.Figure:
    figure = make_subplots(
        rows=1, cols=2, column_widths=[0.65, 0.35],
        subplot_titles=("error rate per day by type", "errors by failed step (window)"),
    )  # fmt: skip
    days, rate_by_type = daily_series(
        complete_days(data, data.daily_errors), "error_type", "error_rate"
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
        title=f"Errors by type and failed step ({window_label(data)}"
        f"{partial_note(data)} of the rate)",
    )
    figure.update_yaxes(tickformat=".1%", row=1, col=1)
    return figure


def off_topic_figure(data: DashboardData) -> go.Figure:
    rows = complete_days(data, data.daily_off_topic)
    figure = go.Figure(
        go.Scatter(
            name="off-topic rate",
            x=[r["request_date"] for r in rows],
            y=[r["off_topic_rate"] for r in rows],
            mode="lines+markers",
        )
    )
    figure.update_layout(title=f"Off-topic rate per day ({window_label(data)}{partial_note(data)})")
    figure.update_yaxes(tickformat=".1%")
    return figure


def answer_quality_figure(data: DashboardData) -> go.Figure:
    """Empty results and re-asks per complete day: the share of SQL that ran and found
    nothing, and the share of failed or empty answers asked again within the re-ask window."""
    rows = complete_days(data, data.daily_answer_quality)
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
    figure.update_layout(title=f"Answer quality per day ({window_label(data)}{partial_note(data)})")
    figure.update_yaxes(tickformat=".1%")
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
        title=f"Heaviest users by cost, last 30 days (user ids only; {window_label(data)})",
        height=520,
        margin={"l": 320},
    )
    return figure

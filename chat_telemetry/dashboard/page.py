"""The dashboard page: one self-contained HTML file, Plotly's JavaScript inlined once, every
chart in order, then the data as JSON (`<script id="dashboard-data">`) for checking."""

from __future__ import annotations

import html
import json
from datetime import datetime, timezone
from pathlib import Path

import plotly.graph_objects as go
from plotly.io import to_html

from chat_telemetry.dashboard import figures, tables
from chat_telemetry.dashboard.data import DashboardData, collect
from chat_telemetry.marts import marts_schema

DEFAULT_OUTPUT = Path("reports") / "dashboard.html"


# The charts and tables in page order, each by the name of its section.
FIGURES = (
    ("cost", figures.cost_figure),
    ("today", tables.today_figure),
    ("latency", figures.latency_figure),
    ("errors", figures.errors_figure),
    ("off_topic", figures.off_topic_figure),
    ("answer_quality", figures.answer_quality_figure),
    ("fingerprints", tables.fingerprints_figure),
    ("empty_fingerprints", tables.empty_fingerprints_figure),
    ("models", tables.models_figure),
    ("users", figures.users_figure),
    ("alerts", tables.alerts_figure),
)


def build_figures(data: DashboardData) -> dict[str, go.Figure]:
    """Every chart and table of the page, by section name, in page order."""
    return {name: make(data) for name, make in FIGURES}


def render(data: DashboardData) -> str:
    """The whole page: Plotly's JavaScript once, then every chart, then the data as JSON."""
    drawn = build_figures(data)
    parts = []
    for index, (name, figure) in enumerate(drawn.items()):
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

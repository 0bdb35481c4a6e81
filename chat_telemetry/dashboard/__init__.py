"""One self-contained HTML dashboard over the marts, read with the BI role's privileges.

`data` reads the marts (through `chat_telemetry.marts`), `figures` draws the trend charts,
`tables` the tables, and `page` puts them in one HTML file that opens with no network
(Plotly's JavaScript inlined), with the data each chart shows embedded as JSON.
"""

from chat_telemetry.dashboard.data import QUERIES, DashboardData, collect
from chat_telemetry.dashboard.figures import (
    STEPS,
    answer_quality_figure,
    cost_figure,
    errors_figure,
    latency_figure,
    off_topic_figure,
    users_figure,
)
from chat_telemetry.dashboard.page import DEFAULT_OUTPUT, FIGURES, build_figures, render, write
from chat_telemetry.dashboard.tables import (
    MISSING,
    alerts_figure,
    empty_fingerprints_figure,
    fingerprints_figure,
    models_figure,
    today_figure,
)
from chat_telemetry.marts import reporting_timezone

__all__ = [
    "DEFAULT_OUTPUT",
    "FIGURES",
    "MISSING",
    "QUERIES",
    "STEPS",
    "DashboardData",
    "alerts_figure",
    "answer_quality_figure",
    "build_figures",
    "collect",
    "cost_figure",
    "empty_fingerprints_figure",
    "errors_figure",
    "fingerprints_figure",
    "latency_figure",
    "models_figure",
    "off_topic_figure",
    "render",
    "reporting_timezone",
    "today_figure",
    "users_figure",
    "write",
]

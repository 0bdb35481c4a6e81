"""The HTML dashboard: built from the marts with the BI role, right figures, renders cleanly."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from datetime import date
from pathlib import Path

import pytest
from conftest import connect, run_dbt, scratch_database

from chat_telemetry import dashboard
from chat_telemetry.workload.generator import WorkloadSettings
from chat_telemetry.workload.loader import load_workload

END = date(2026, 10, 15)


@pytest.fixture(scope="module")
def built_db(server, template_database):
    """A database with a small workload and built marts, shared by this module's tests."""
    with scratch_database(server, template_database) as db:
        settings = WorkloadSettings(days=5, requests_per_day=200, users=25, seed=21, end_date=END)
        load_workload(db.conninfo(), settings, quiet=True)
        run_dbt(db, "build", "--vars", f"{{as_of_date: '{END.isoformat()}'}}")
        yield db


@pytest.fixture(scope="module")
def page(built_db) -> tuple[Path, str]:
    output = Path(tempfile.mkdtemp()) / "dashboard.html"
    dashboard.write(built_db.conninfo(), output, as_role="bi_reader", timezone_name="UTC")
    return output, output.read_text(encoding="utf-8")


def embedded_data(text: str) -> dict:
    match = re.search(
        r'<script type="application/json" id="dashboard-data">(.*?)</script>', text, re.S
    )
    assert match, "the page embeds its data"
    return json.loads(match.group(1).replace("<\\/", "</"))


def test_the_page_is_self_contained_and_has_every_chart(page):
    _, text = page
    for name, _ in dashboard.FIGURES:
        assert f'id="plot-{name}"' in text
    assert "<script src=" not in text  # no script fetched from the network
    assert text.count("plotly.js v") >= 1  # Plotly's library itself is inlined
    assert "days in UTC" in text
    assert f"{date(2026, 9, 16)} to {END}" in text


def test_embedded_figures_match_the_marts(page, built_db):
    _, text = page
    data = embedded_data(text)
    with connect(built_db) as connection:
        cost = connection.execute(
            "select request_date::text, model, sum(total_cost_usd)::float8, sum(unpriced_requests) "
            "from analytics.fct_daily_token_cost group by 1, 2 order by 1, 2"
        ).fetchall()
        latency = connection.execute(
            "select request_date::text, step, p50_ms, p95_ms, p99_ms "
            "from analytics.fct_daily_step_latency order by 1, 2"
        ).fetchall()
        off_topic = connection.execute(
            "select request_date::text, off_topic_rate "
            "from analytics.fct_daily_off_topic order by 1"
        ).fetchall()
        top = connection.execute(
            "select sql_fingerprint, occurrences from analytics.fct_sql_fingerprints "
            "order by occurrences desc, sql_fingerprint limit 10"
        ).fetchall()
        users = connection.execute(
            "select user_id::text from analytics.rpt_user_usage_30d "
            "order by total_cost_usd desc nulls last, requests desc, user_id limit 15"
        ).fetchall()
        errors = connection.execute(
            "select error_type, failed_step, sum(errors) from analytics.fct_daily_errors "
            "group by 1, 2 order by 1, 2"
        ).fetchall()
        models = connection.execute(
            "select sql_model, response_model, requests from analytics.fct_model_comparison "
            "order by requests desc, sql_model, response_model"
        ).fetchall()
    shown_cost = [
        (r["request_date"], r["model"], r["total_cost_usd"], r["unpriced_requests"])
        for r in data["daily_cost"]
    ]
    assert [row[:2] + row[3:] for row in shown_cost] == [row[:2] + row[3:] for row in cost]
    for shown, expected in zip(shown_cost, cost, strict=True):
        assert shown[2] == (None if expected[2] is None else pytest.approx(expected[2]))
    assert [(r["request_date"], r["step"], r["p50_ms"], r["p95_ms"], r["p99_ms"])
            for r in data["daily_latency"]] == [tuple(row) for row in latency]  # fmt: skip
    assert [(r["request_date"], r["off_topic_rate"]) for r in data["daily_off_topic"]] == [
        tuple(row) for row in off_topic
    ]
    assert [(r["sql_fingerprint"], r["occurrences"]) for r in data["top_fingerprints"]] == [
        tuple(row) for row in top
    ]
    assert [(r["user_id"],) for r in data["heaviest_users"]] == [tuple(row) for row in users]
    assert [(r["error_type"], r["failed_step"], r["errors"]) for r in data["errors_by_step"]] == [
        (a, b, int(c)) for a, b, c in errors
    ]
    assert [(r["sql_model"], r["response_model"], r["requests"])
            for r in data["model_comparison"]] == [tuple(row) for row in models]  # fmt: skip
    # The figures draw those numbers: the stacked cost bars add up to each day's total.
    figure = dashboard.cost_figure(dashboard.DashboardData(**{**data, "window_start": None}))
    bars = [trace for trace in figure.data if trace.type == "bar"]
    day_totals = [sum(values) for values in zip(*(trace.y for trace in bars), strict=True)]
    expected = {}
    for day, _, total, _ in cost:
        expected[day] = expected.get(day, 0) + (total or 0)
    assert day_totals == pytest.approx([expected[day] for day in sorted(expected)])


def find_chromium() -> str | None:
    return (
        shutil.which("chromium")
        or shutil.which("chromium-browser")
        or shutil.which("google-chrome")
    )


def test_the_page_renders_in_headless_chromium_without_console_errors(page):
    browser = find_chromium()
    if browser is None:
        pytest.skip(
            "no Chromium found: install Debian's package (apt-get install chromium) to run "
            "the dashboard render test; .ci/run does this when it runs as root on Debian"
        )
    path, _ = page
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    flags = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
        f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
        "--virtual-time-budget=10000", "--window-size=1400,4200",
    ]  # fmt: skip
    screenshot = path.with_suffix(".png")
    shot = subprocess.run(
        [*flags, f"--screenshot={screenshot}", path.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    dom = subprocess.run(
        [*flags, "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert screenshot.exists() and screenshot.stat().st_size > 50_000, shot.stderr[-2000:]
    console = [
        line for line in (shot.stderr + dom.stderr).splitlines()
        if "CONSOLE" in line and ("rror" in line or "Uncaught" in line)
    ]  # fmt: skip
    assert console == []
    # Every chart was drawn: Plotly replaces each div's content with an SVG (or a table).
    assert dom.stdout.count('class="main-svg"') >= len(dashboard.FIGURES)

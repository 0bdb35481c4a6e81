"""The HTML dashboard: built from the marts with the BI role, right figures, renders cleanly.

The module's data is the situation that misled readers: the page is made at 03:00 UTC, so the
last day holds a handful of requests; one model pair has only failed requests (no latency
was ever measured); the most frequent SQL holds quotes, &, < and > and is longer than the
table shows.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import connect, make_user, run_dbt, scratch_database

from chat_telemetry import dashboard, database, summary
from chat_telemetry.workload.generator import WorkloadSettings
from chat_telemetry.workload.loader import load_workload

END = date(2026, 10, 15)
# The page is made three hours into END: END is today, a partial day.
NOW = datetime(END.year, END.month, END.day, 3, 0, tzinfo=timezone.utc)
FAILED_ONLY_MODEL = "gpt-4.1-nano-failing"
# Quotes, &, < and > (what Plotly would mangle or double-escape), and an & right where the
# 300-character cut falls, so cutting after escaping would cut inside an entity.
TRICKY_SQL = (
    'SELECT name FROM "people" WHERE city = "Anthony" AND dept <> \'R&D\' AND age > 30 AND '
    + " AND ".join(f"c{n} < {n}" for n in range(40))
)
TRICKY_SQL = TRICKY_SQL[:296] + " & x & y & z"
TRICKY_ROWS = 120


def add_failed_only_pair(db: database.Connection) -> None:
    """Three requests of a pair in which every request failed: no latency to show."""
    user_id = make_user(db)
    with connect(db) as connection:
        for hour in (9, 10, 11):
            connection.execute(
                "insert into public.chat_telemetry_log (user_id, created_at, user_question, "
                "error_type, error_message, failed_step, sql_model, nl_to_sql_duration_ms, "
                "sql_input_tokens, sql_output_tokens) values (%s, %s, 'q', 'sql_generation', "
                "'refused', 'understanding', %s, 800, 1200, 0)",
                (user_id, NOW - timedelta(days=1, hours=-hour), FAILED_ONLY_MODEL),
            )


def add_tricky_sql(db: database.Connection) -> None:
    """The most frequent SQL of the window: successful requests that ran TRICKY_SQL."""
    user_id = make_user(db)
    with connect(db) as connection, connection.cursor() as cursor:
        cursor.executemany(
            "insert into public.chat_telemetry_log (user_id, created_at, user_question, "
            "generated_sql, ai_response, sql_model, response_model, nl_to_sql_duration_ms, "
            "sql_execution_duration_ms, response_generation_duration_ms, ttfb_ms, "
            "sql_input_tokens, sql_output_tokens, response_input_tokens, response_output_tokens) "
            "values (%s, %s, 'q', %s, 'a', 'gpt-4o-mini', 'gpt-4o-mini', 400, 50, 900, 700, "
            "1000, 20, 800, 100)",
            [
                (user_id, NOW - timedelta(days=2, minutes=number), TRICKY_SQL)
                for number in range(TRICKY_ROWS)
            ],
        )


@pytest.fixture(scope="module")
def built_db(server, template_database):
    """A database with a small workload and built marts, shared by this module's tests."""
    with scratch_database(server, template_database) as db:
        settings = WorkloadSettings(
            days=5, requests_per_day=200, users=25, seed=21, end_date=END, not_after=NOW
        )
        load_workload(db.conninfo(), settings, quiet=True)
        add_failed_only_pair(db)
        add_tricky_sql(db)
        # Models and seeds only: the data tests run in `make dbt-check`, not here again.
        run_dbt(
            db, "build", "--resource-type", "seed", "--resource-type", "model",
            "--vars", f"{{as_of_date: '{END.isoformat()}'}}",
        )  # fmt: skip
        yield db


@pytest.fixture(scope="module")
def page(built_db) -> tuple[Path, str]:
    output = Path(tempfile.mkdtemp()) / "dashboard.html"
    dashboard.write(built_db.conninfo(), output, as_role="bi_reader", timezone_name="UTC", now=NOW)
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
        alerts = connection.execute(
            "select alert_date::text, rule, subject, severity from analytics.rpt_alerts "
            "where alert_date >= %s order by alert_date desc, severity, rule, subject",
            (date(2026, 9, 16),),
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
    assert alerts, "the test data has an unpriced model: rpt_alerts has rows to show"
    assert [(r["alert_date"], r["rule"], r["subject"], r["severity"])
            for r in data["alerts"]] == [tuple(row) for row in alerts]  # fmt: skip
    # The figures draw those numbers: the stacked cost bars add up to each day's total.
    figure = dashboard.cost_figure(dashboard.DashboardData(**{**data, "window_start": None}))
    bars = [trace for trace in figure.data if trace.type == "bar" and trace.visible is not False]
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


class RenderedText(HTMLParser):
    """What a reader sees in a DOM dump, entities decoded once: text per chart section, and
    the body cells of each Plotly table, column by column (`g.y-column`, one `g.column-cell`
    per row)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hidden = 0
        self.section = "page"
        self.by_section: dict[str, list[str]] = defaultdict(list)
        self.table_columns: dict[str, list[list[str]]] = defaultdict(list)
        self.groups: list[str] = []  # classes of the open <g> elements
        self.in_cells = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag in ("script", "style"):
            self.hidden += 1
        if tag == "section":
            self.section = attributes.get("id") or "page"
        if tag != "g":
            return
        kind = attributes.get("class") or ""
        self.groups.append(kind)
        if kind == "y-column":
            self.table_columns[self.section].append([])
        elif kind == "column-block" and (attributes.get("id") or "").startswith("cells"):
            self.in_cells += 1
        elif kind == "column-cell" and self.in_cells:
            self.table_columns[self.section][-1].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.hidden -= 1
        if tag == "g" and self.groups:
            kind = self.groups.pop()
            if kind == "column-block" and self.in_cells and "column-block" not in self.groups:
                self.in_cells = 0

    def handle_data(self, data: str) -> None:
        if self.hidden or not data.strip():
            return
        self.by_section[self.section].append(data)
        if self.in_cells and self.table_columns[self.section]:
            column = self.table_columns[self.section][-1]
            if column:
                column[-1] += data

    def text(self, section: str | None = None) -> str:
        if section is not None:
            return " ".join(self.by_section[section])
        return " ".join(" ".join(parts) for parts in self.by_section.values())

    def table(self, section: str) -> list[list[str]]:
        """The shown table's body cells as rows (header rows are other blocks)."""
        columns = [column for column in self.table_columns[section] if column]
        return [list(row) for row in zip(*columns, strict=True)]


def squeeze(text: str) -> str:
    """Text without whitespace: Plotly wraps table cells into lines at its own places."""
    return "".join(text.split())


def render_in_chromium(path: Path, name: str) -> RenderedText:
    """Render `path` in headless Chromium: its DOM, and reports/<name>.png for a reviewer
    (reports/ is git-ignored; CI can archive it)."""
    browser = find_chromium()
    if browser is None:
        pytest.skip(
            "no Chromium found: install Debian's package (apt-get install chromium) to run "
            "the dashboard render test; .ci/run does this when it runs as root on Debian"
        )
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    flags = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
        f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
        "--virtual-time-budget=10000", "--window-size=1400,5600",
    ]  # fmt: skip
    reports = database.PROJECT_ROOT / "reports"
    reports.mkdir(exist_ok=True)
    shutil.copy(path, reports / f"{name}.html")
    screenshot = reports / f"{name}.png"
    screenshot.unlink(missing_ok=True)
    # One run writes the screenshot and prints the DOM once the page has settled.
    run = subprocess.run(
        [*flags, f"--screenshot={screenshot}", "--dump-dom", path.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert screenshot.exists() and screenshot.stat().st_size > 50_000, run.stderr[-2000:]
    console = [
        line for line in run.stderr.splitlines()
        if "CONSOLE" in line and ("rror" in line or "Uncaught" in line)
    ]  # fmt: skip
    assert console == []
    # Every chart was drawn: Plotly replaces each div's content with an SVG (or a table).
    assert run.stdout.count('class="main-svg"') >= len(dashboard.FIGURES)
    parser = RenderedText()
    parser.feed(run.stdout)
    return parser


@pytest.fixture(scope="module")
def rendered(page) -> RenderedText:
    """The page as it opens (screenshot: reports/test_dashboard.png)."""
    return render_in_chromium(page[0], "test_dashboard")


@pytest.fixture(scope="module")
def rendered_exact(page) -> RenderedText:
    """The page after a click on each chart's second view button ("by exact model name"):
    the button's own restyle arguments, applied once the page has loaded."""
    path, text = page
    data = dashboard.DashboardData(**embedded_data(text))
    clicks = []
    for name, make in (("cost", dashboard.cost_figure), ("models", dashboard.models_figure)):
        [menu] = make(data).layout.updatemenus
        arguments = json.dumps(menu.buttons[1].args[0])
        clicks.append(f"Plotly.restyle('plot-{name}', {arguments});")
    script = f"<script>window.addEventListener('load', () => {{ {' '.join(clicks)} }});</script>"
    clicked = path.with_name("dashboard-exact.html")
    clicked.write_text(text.replace("</body>", script + "</body>"), encoding="utf-8")
    return render_in_chromium(clicked, "test_dashboard_exact_models")


def test_the_page_renders_in_headless_chromium_without_console_errors(rendered):
    for name, _ in dashboard.FIGURES:
        assert rendered.text(f"chart-{name}"), f"chart {name} shows no text"
    assert (database.PROJECT_ROOT / "reports" / "test_dashboard.png").exists()


def test_rendered_text_is_escaped_exactly_once(rendered, page):
    text = rendered
    visible = text.text()
    for leftover in ("&amp;", "&quot;", "&#", "&lt;", "&gt;"):
        assert leftover not in visible
    data = embedded_data(page[1])
    assert data["top_fingerprints"][0]["example_sql"] == TRICKY_SQL  # the top one, for sure
    # Cut to 300 characters (the ellipsis is the 300th), then shown with its real characters.
    shown = TRICKY_SQL[:299] + "\u2026"
    assert 'city = "Anthony"' in shown and "'R&D'" in shown and shown.endswith("& \u2026")
    assert squeeze(shown) in squeeze(text.text("chart-fingerprints"))


def test_a_pair_with_only_failed_requests_shows_no_latency(rendered_exact, built_db):
    with connect(built_db) as connection:
        measured = connection.execute(
            "select requests, error_rate, p95_nl_to_sql_ms, p95_response_generation_ms, "
            "p95_ttfb_ms from analytics.fct_model_comparison where sql_model = %s",
            (FAILED_ONLY_MODEL,),
        ).fetchone()
        pairs = connection.execute("select count(*) from analytics.fct_model_comparison")
        pair_count = pairs.fetchone()[0]
    assert measured == (3, 1.0, None, None, None)  # the mart: nothing measured
    # The exact-name table as the browser drew it, one row per pair of the mart.
    rows = rendered_exact.table("chart-models")
    assert len(rows) == pair_count
    [failed] = [row for row in rows if row[0] == FAILED_ONLY_MODEL]
    assert failed[1:4] == ["(none)", "3", "100.00%"]
    assert failed[4:7] == [dashboard.MISSING] * 3  # p95 NL-to-SQL, response, TTFB
    # Pairs with successful requests show measured numbers in the same columns.
    measured_rows = [row for row in rows if row[3] != "100.00%"]
    assert measured_rows and all(re.fullmatch(r"[\d,]+", row[6]) for row in measured_rows)


def family_of(model: str) -> str:
    """The model without a -YYYY-MM-DD snapshot suffix (the test's own rule)."""
    return re.sub(r"-\d{4}-\d{2}-\d{2}$", "", model)


def test_cost_and_comparison_group_by_model_family_with_exact_names_one_click_away(
    page, rendered, rendered_exact
):
    data = dashboard.DashboardData(**embedded_data(page[1]))
    cost = dashboard.cost_figure(data)
    bars = [trace for trace in cost.data if trace.type == "bar"]
    shown = [bar for bar in bars if bar.visible is not False]
    hidden = [bar for bar in bars if bar.visible is False]
    models = {row["model"] for row in data.daily_cost}
    assert {bar.name for bar in hidden} == models
    assert {bar.name for bar in shown} == {family_of(model) for model in models}
    assert "gpt-4o-mini-2024-07-18" in models and "gpt-4o-mini-2024-07-18" not in {
        bar.name for bar in shown
    }
    # Each family's bar is the sum of its exact models' bars, day by day.
    by_name = {bar.name: list(bar.y) for bar in hidden}
    for bar in shown:
        members = [by_name[model] for model in models if family_of(model) == bar.name]
        assert list(bar.y) == pytest.approx([sum(day) for day in zip(*members, strict=True)])
    # The comparison: by family first (requests add up), exact pairs a click away.
    family_rows = rendered.table("chart-models")
    total = sum(row["requests"] for row in data.model_comparison)
    assert sum(int(row[3].replace(",", "")) for row in family_rows) == total
    expected_families = {
        (family_of(row["sql_model"]), family_of(row["response_model"]))
        for row in data.model_comparison
    }
    assert {(row[0], row[1]) for row in family_rows} == expected_families
    assert len(family_rows) < len(data.model_comparison)
    # In the browser: family names in the legend, exact names once the button is clicked.
    legend = {part.strip() for part in rendered.by_section["chart-cost"]}
    clicked_legend = {part.strip() for part in rendered_exact.by_section["chart-cost"]}
    assert "gpt-4o-mini" in legend and "gpt-4o-mini-2024-07-18" not in legend
    assert "by exact model name" in legend
    assert {"gpt-4o-mini", "gpt-4o-mini-2024-07-18"} <= clicked_legend


def test_todays_partial_day_is_marked_and_kept_out_of_trends(rendered, page, built_db):
    text = rendered
    data = dashboard.DashboardData(**embedded_data(page[1]))
    today = END.isoformat()
    assert data.partial_day == today
    # Cost: today's bars are hatched, and only today's; the unpriced rate leaves it out.
    cost = dashboard.cost_figure(data)
    bars = [trace for trace in cost.data if trace.type == "bar"]
    for bar in bars:
        assert list(bar.marker.pattern.shape) == ["/" if day == today else "" for day in bar.x]
    [share] = [trace for trace in cost.data if trace.type == "scatter"]
    assert share.y[list(share.x).index(today)] is None
    # Trend charts of rates and percentiles have no point on today.
    for figure in (
        dashboard.latency_figure(data),
        dashboard.errors_figure(data),
        dashboard.off_topic_figure(data),
    ):
        days = {str(x) for trace in figure.data for x in (trace.x or ())}
        assert today not in days and (END - timedelta(days=1)).isoformat() in days
    # Today so far, apart and labelled partial, with the raw table's counts (independent).
    with connect(built_db) as connection:
        requests, errors, off_topic = connection.execute(
            "select count(*), count(error_type), count(*) filter (where is_off_topic) "
            "from public.chat_telemetry_log where created_at >= %s and created_at < %s",
            (NOW.replace(hour=0), NOW.replace(hour=0) + timedelta(days=1)),
        ).fetchone()
    assert 0 < requests < 100  # three hours of a 200-a-day workload
    [table] = dashboard.today_figure(data).data
    cells = [column[0] for column in table.cells.values]
    assert (cells[0], cells[2], cells[4]) == (requests, errors, off_topic)
    assert cells[3] == f"{errors / requests:.1%}"
    today_text = text.text("chart-today")
    assert f"Today so far ({today}, partial: until 03:00 UTC" in today_text
    assert "is a partial day" in text.text("page")


def test_the_summary_compares_complete_days_and_shows_today_apart(built_db):
    sections = {
        section.title.split(" (")[0].split(",")[0]: section
        for section in summary.collect(
            built_db.conninfo(), as_role="bi_reader", timezone_name="UTC", now=NOW
        )
    }
    yesterday = END - timedelta(days=1)
    latency = sections["Step latency on the last complete day"]
    assert {row[0] for row in latency.rows} == {yesterday}
    cost = sections["Cost per day"]
    assert max(row[0] for row in cost.rows) == yesterday
    with connect(built_db) as connection:
        day_start = datetime(yesterday.year, yesterday.month, yesterday.day, tzinfo=timezone.utc)
        successful_yesterday, errors_before_today, today_requests = connection.execute(
            "select count(*) filter (where created_at >= %(y)s and created_at < %(t)s "
            "  and error_type is null and nl_to_sql_duration_ms is not null), "
            "count(error_type) filter (where created_at < %(t)s), "
            "count(*) filter (where created_at >= %(t)s)"
            "from public.chat_telemetry_log",
            {"y": day_start, "t": day_start + timedelta(days=1)},
        ).fetchone()
    assert dict((row[1], row[2]) for row in latency.rows)["nl_to_sql"] == successful_yesterday
    errors = sections["Error rate by type"]
    assert sum(row[1] for row in errors.rows) == errors_before_today
    [today_row] = sections["Today so far"].rows
    assert today_row[0] == END and today_row[1] == today_requests
    # Without a pinned clock, today (the real one) is after END: no partial section.
    real = summary.collect(built_db.conninfo(), as_role="bi_reader", timezone_name="UTC")
    assert not any(section.title.startswith("Today") for section in real)


def test_the_family_rollup_adds_up_the_exact_pairs(page):
    """The family view (added up in SQL, marts.py) is what the exact pairs add up to:
    requests and pairs summed, error rate weighted by requests, cost by priced requests."""
    data = embedded_data(page[1])
    expected: dict[tuple[str, str], dict[str, float]] = {}
    for row in data["model_comparison"]:
        key = (row["sql_model_family"], row["response_model_family"])
        family = expected.setdefault(
            key, {"pairs": 0, "requests": 0, "errors": 0.0, "priced": 0, "cost": 0.0}
        )
        family["pairs"] += 1
        family["requests"] += row["requests"]
        family["errors"] += row["error_rate"] * row["requests"]
        if row["avg_cost_usd"] is not None:
            family["priced"] += row["priced_requests"]
            family["cost"] += row["avg_cost_usd"] * row["priced_requests"]
    order = sorted(expected, key=lambda key: (-expected[key]["requests"], key))
    families = data["model_families"]
    assert [(r["sql_model_family"], r["response_model_family"]) for r in families] == order
    for row in families:
        family = expected[(row["sql_model_family"], row["response_model_family"])]
        assert (row["pairs"], row["requests"]) == (family["pairs"], family["requests"])
        assert row["error_rate"] == pytest.approx(family["errors"] / family["requests"])
        cost = family["cost"] / family["priced"] if family["priced"] else None
        assert row["avg_cost_usd"] == pytest.approx(cost)

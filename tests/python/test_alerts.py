"""Alerts: planted anomalies are found (and nothing else), and the alerts command posts each
alert once, through a webhook that fails and recovers.

One database is built once for the module (one `dbt build` of rpt_alerts and what it
reads): 21 stable days of generated traffic ending yesterday, plus today until five hours
ago, with planted events. Stable means every day has the same volume, the same error and
off-topic shares and latencies drawn from the same ranges, so the baseline is tight and only
what was planted can fire. The planted events, and the alert each must raise:

- yesterday, 40 successful requests become sql_execution errors: error_rate_anomaly;
- yesterday, gpt-4.1's NL-to-SQL tokens are five times larger: cost_anomaly (gpt-4.1), and
  the budgets set between a normal day and yesterday: daily_cost_budget (all, gpt-4.1);
- yesterday, response generation is 1.8 times slower: latency_p95_regression (a warn);
- two days ago, five requests use a model with no price: unpriced_model;
- nothing for the last five hours: telemetry_silence (silence_hours set to 3).

Every observed and expected value is checked against a Python computation on the same rows.
"""

from __future__ import annotations

import csv
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
import pytest
from conftest import connect, run_dbt, scratch_database
from test_marts import insert

from chat_telemetry import alerts, database, digest

PER_DAY = 400
HISTORY_DAYS = 21
SILENT_HOURS = 5
UNPRICED_MODEL = "acme-private-model"
ERROR_KINDS = [
    ("sql_generation", "understanding"),
    ("sql_validation", None),
    ("sql_execution", "looking_up"),
    ("response_generation", "response"),
    ("unexpected", None),
]


def today() -> date:
    return datetime.now(timezone.utc).date()


def percentile_cont(values: list[float], fraction: float) -> float:
    """Postgres' percentile_cont: linear interpolation between the closest ranks."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def generated_rows(rng: random.Random, users: list[uuid.UUID]) -> list[dict[str, Any]]:
    """Stable days, evenly spread over the 24 hours, with the planted events."""
    yesterday = today() - timedelta(days=1)
    latest = datetime.now(timezone.utc) - timedelta(hours=SILENT_HOURS)
    rows = []
    for offset in range(HISTORY_DAYS, -1, -1):
        day = today() - timedelta(days=offset)
        start = datetime.combine(day, time(0), tzinfo=timezone.utc)
        for index in range(PER_DAY):
            at = start + timedelta(seconds=(index + rng.random()) * 86_400 / PER_DAY)
            if at > latest:
                break
            # Each error type fails 7 requests of 400 (1.75%); yesterday, 40 more sql_execution.
            kind = ERROR_KINDS[index % 60] if index % 60 < len(ERROR_KINDS) else (None, None)
            if day == yesterday and index % 10 == 5:
                kind = ERROR_KINDS[2]
            sql_model = "gpt-4.1" if index % 10 < 3 else "gpt-4o-mini"
            if offset == 2 and index % 80 == 11:
                sql_model = UNPRICED_MODEL
            sql_input = rng.randint(1000, 2000)
            if day == yesterday and sql_model == "gpt-4.1":
                sql_input *= 5
            nl_to_sql = rng.randint(300, 900)
            sql_execution = rng.randint(10, 200)
            response_ms = rng.randint(800, 3000)
            if day == yesterday:
                response_ms = int(response_ms * 1.8)
            rows.append(
                {
                    "log_id": uuid.UUID(int=rng.getrandbits(128), version=4),
                    "user_id": rng.choice(users),
                    "created_at": at,
                    "user_question": "question",
                    "generated_sql": "select 1",
                    "error_type": kind[0],
                    "failed_step": kind[1],
                    "is_off_topic": index % 16 == 7,
                    "sql_model": sql_model,
                    "response_model": "gpt-4.1-mini",
                    "nl_to_sql_duration_ms": nl_to_sql,
                    "sql_execution_duration_ms": sql_execution,
                    "response_generation_duration_ms": response_ms,
                    "ttfb_ms": nl_to_sql + sql_execution + rng.randint(100, 300),
                    "sql_input_tokens": sql_input,
                    "sql_output_tokens": rng.randint(10, 40),
                    "sql_cached_tokens": 0,
                    "response_input_tokens": rng.randint(800, 1500),
                    "response_output_tokens": rng.randint(50, 200),
                    "response_cached_tokens": 0,
                }
            )
    return rows


def seed_prices() -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    """Default-tier prices in force today (read from the seed file, not from the warehouse):
    the generated rows report no service tier."""
    prices = {}
    with (database.PROJECT_ROOT / "seeds" / "token_prices.csv").open() as handle:
        for row in csv.DictReader(handle):
            in_force = not row["valid_to"] and date.fromisoformat(row["valid_from"]) <= today()
            if in_force and row["service_tier"] == "default":
                prices[row["model"]] = tuple(
                    Decimal(row[key])
                    for key in ("input_usd_per_1m", "cached_input_usd_per_1m", "output_usd_per_1m")
                )
    return prices  # type: ignore[return-value]


class Expected:
    """The daily metrics the rules read, computed in Python from the generated rows."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        prices = seed_prices()
        self.requests: dict[date, int] = defaultdict(int)
        self.errors: dict[tuple[date, str], int] = defaultdict(int)
        self.cost: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
        self.response_ms: dict[date, list[float]] = defaultdict(list)
        for row in rows:
            day = row["created_at"].date()
            self.requests[day] += 1
            if row["error_type"]:
                self.errors[day, row["error_type"]] += 1
            else:
                self.response_ms[day].append(row["response_generation_duration_ms"])
            for model, prefix in ((row["sql_model"], "sql"), (row["response_model"], "response")):
                if model in prices:
                    input_price, _, output_price = prices[model]
                    self.cost[day, model] += (
                        row[f"{prefix}_input_tokens"] * input_price
                        + row[f"{prefix}_output_tokens"] * output_price
                    ) / Decimal(1_000_000)

    def baseline_days(self, day: date) -> list[date]:
        return [day - timedelta(days=back) for back in range(1, 15)]

    def error_rate(self, day: date, error_type: str) -> float:
        return self.errors[day, error_type] / self.requests[day]

    def p95(self, day: date) -> float:
        return percentile_cont(self.response_ms[day], 0.95)

    def day_cost(self, day: date) -> Decimal:
        return sum((cost for (d, _), cost in self.cost.items() if d == day), Decimal(0))


class Built:
    def __init__(self, db: database.Connection, rows: list[dict[str, Any]], budgets: dict) -> None:
        self.db = db
        self.rows = rows
        self.expected = Expected(rows)
        self.budgets = budgets


@pytest.fixture(scope="module")
def built(server: database.Connection, template_database: str) -> Iterator[Built]:
    rng = random.Random(1313)
    users = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(12)]
    planted_on = today()
    rows = generated_rows(rng, users)
    expected = Expected(rows)
    yesterday = today() - timedelta(days=1)
    normal_days = [today() - timedelta(days=offset) for offset in range(2, HISTORY_DAYS + 1)]
    total_budget = (
        max(expected.day_cost(d) for d in normal_days) + expected.day_cost(yesterday)
    ) / 2
    model_budget = (
        max(expected.cost[d, "gpt-4.1"] for d in normal_days) + expected.cost[yesterday, "gpt-4.1"]
    ) / 2
    budgets = {
        "all": total_budget.quantize(Decimal("0.01")),
        "gpt-4.1": model_budget.quantize(Decimal("0.01")),
    }
    variables = {
        "reporting_timezone": "UTC",
        "silence_hours": 3,
        "daily_budget_usd": float(budgets["all"]),
        "model_budgets_usd": {"gpt-4.1": float(budgets["gpt-4.1"])},
    }
    with scratch_database(server, template_database) as db:
        insert(db, rows)
        run_dbt(
            db,
            "build",
            "--resource-type", "seed", "--resource-type", "model",
            "--select", "+rpt_alerts",
            "--full-refresh",
            "--vars", json.dumps(variables),
        )  # fmt: skip
        if today() != planted_on:
            # dbt dates the alerts by its run's start: across midnight UTC every planted
            # event sits a day earlier than the expectations (today()) say.
            pytest.skip("the data was planted before midnight UTC and the marts built after")
        yield Built(db, rows, budgets)


def read_alerts(db: database.Connection) -> dict[tuple[date, str, str], dict[str, Any]]:
    with connect(db) as connection:
        cursor = connection.execute("select * from analytics.rpt_alerts")
        names = [column.name for column in cursor.description or []]
        found = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return {(row["alert_date"], row["rule"], row["subject"]): row for row in found}


def close(actual: Decimal, expected: float | Decimal) -> bool:
    return abs(float(actual) - float(expected)) <= 1e-9 * max(1.0, abs(float(expected)))


def test_every_planted_alert_is_found_and_nothing_else_fires(built: Built) -> None:
    found = read_alerts(built.db)
    yesterday = today() - timedelta(days=1)
    planted = {
        (yesterday, "error_rate_anomaly", "sql_execution"),
        (yesterday, "cost_anomaly", "gpt-4.1"),
        (yesterday, "latency_p95_regression", "response_generation"),
        (yesterday, "daily_cost_budget", "all"),
        (yesterday, "daily_cost_budget", "gpt-4.1"),
        (today() - timedelta(days=2), "unpriced_model", UNPRICED_MODEL),
        (today(), "telemetry_silence", "all"),
    }
    assert set(found) == planted, {key: found[key]["message"] for key in set(found) ^ planted}

    expected = built.expected
    baseline = expected.baseline_days(yesterday)
    checks = {
        (yesterday, "error_rate_anomaly", "sql_execution"): (
            expected.error_rate(yesterday, "sql_execution"),
            statistics.median(expected.error_rate(d, "sql_execution") for d in baseline),
            "error",  # about 7 times the baseline: beyond 3 times both thresholds
        ),
        (yesterday, "cost_anomaly", "gpt-4.1"): (
            expected.cost[yesterday, "gpt-4.1"],
            statistics.median(float(expected.cost[d, "gpt-4.1"]) for d in baseline),
            "error",
        ),
        (yesterday, "latency_p95_regression", "response_generation"): (
            expected.p95(yesterday),
            statistics.median(expected.p95(d) for d in baseline),
            "warn",  # +80%: past the +50% minimum, short of 3 times it
        ),
        (yesterday, "daily_cost_budget", "all"): (
            expected.day_cost(yesterday),
            built.budgets["all"],
            "error",
        ),
        (yesterday, "daily_cost_budget", "gpt-4.1"): (
            expected.cost[yesterday, "gpt-4.1"],
            built.budgets["gpt-4.1"],
            "error",
        ),
        (today() - timedelta(days=2), "unpriced_model", UNPRICED_MODEL): (
            sum(1 for r in built.rows if r["sql_model"] == UNPRICED_MODEL),
            0,
            "warn",
        ),
    }
    for key, (observed, baseline_value, severity) in checks.items():
        row = found[key]
        assert close(row["observed"], observed), (key, row["observed"], observed)
        assert close(row["expected"], baseline_value), (key, row["expected"], baseline_value)
        assert row["severity"] == severity, (key, row["severity"], row["message"])
        assert key[2] in row["message"] or key[2] == "all", row["message"]

    silence = found[today(), "telemetry_silence", "all"]
    # Whole hours after the last row (5 hours before the build started, give or take).
    assert SILENT_HOURS - 1 <= silence["observed"] <= SILENT_HOURS + 1, silence["message"]
    assert silence["expected"] == 3 and silence["severity"] == "error"
    assert silence["message"].startswith("No telemetry row since "), silence["message"]


class Webhook:
    """A local Slack-compatible endpoint that answers 500 to the first `failures` POSTs."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.received: list[str] = []
        self.answered_500 = 0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if hook.failures > 0:
                    hook.failures -= 1
                    hook.answered_500 += 1
                    self.send_response(500)
                    self.end_headers()
                    return
                hook.received.append(json.loads(body)["text"])
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


def reset_state(db: database.Connection) -> None:
    with connect(db) as connection:
        connection.execute(f"drop table if exists analytics_internal.{alerts.STATE_TABLE}")


def alerts_command(db: database.Connection, *arguments: str) -> subprocess.CompletedProcess[str]:
    environ = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    environ.update(db.env())
    environ.pop("CHAT_TELEMETRY_WEBHOOK_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "chat_telemetry", "alerts", *arguments],
        cwd=database.PROJECT_ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_posts_each_alert_once_and_survives_a_500(built: Built, webhook: Webhook):
    reset_state(built.db)
    webhook.failures = 2  # the first alert's first two attempts fail, the third succeeds
    first = alerts_command(built.db, "--webhook", webhook.url)
    assert first.returncode == 1, first.stdout + first.stderr  # new alerts of severity error
    in_window = read_alerts(built.db)
    assert len(in_window) == 7  # all seven are dated within the last 3 days
    assert webhook.answered_500 == 2
    assert sorted(webhook.received) == sorted(
        f"[{row['severity'].upper()}] {key[0].isoformat()} {key[1]} ({key[2]}): {row['message']}"
        for key, row in in_window.items()
    )
    assert "7 new (5 error)" in first.stdout and "posted 7" in first.stdout, first.stdout
    assert webhook.url not in first.stdout + first.stderr  # the URL is a secret

    second = alerts_command(built.db, "--webhook", webhook.url)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "0 new" in second.stdout and "posted 0" in second.stdout, second.stdout
    assert len(webhook.received) == 7

    present = alerts_command(built.db, "--fail-on", "present")
    assert present.returncode == 1, present.stdout


def test_a_webhook_that_is_down_queues_alerts_until_it_recovers(built: Built, webhook: Webhook):
    reset_state(built.db)
    webhook.failures = 1_000

    def quick_post(url: str, text: str) -> str | None:
        return alerts.post_webhook(url, text, attempts=3, backoff_seconds=0.001)

    down = alerts.run(
        built.db.conninfo(), days=3, webhook_url=webhook.url, as_role="bi_reader", post=quick_post
    )
    assert down.read_as == "bi_reader"
    assert len(down.new) == 7 and not down.posted and len(down.failed) == 7
    assert all(problem == "HTTP 500 after 3 attempts" for _, problem in down.failed)
    assert webhook.answered_500 == 21 and not webhook.received
    assert down.exit_status("new") == 1

    webhook.failures = 0
    recovered = alerts.run(
        built.db.conninfo(), days=3, webhook_url=webhook.url, as_role="bi_reader", post=quick_post
    )
    assert not recovered.new and len(recovered.posted) == 7 and not recovered.failed
    assert recovered.exit_status("new") == 0  # nothing new: a scheduler sees success
    again = alerts.run(
        built.db.conninfo(), days=3, webhook_url=webhook.url, as_role="bi_reader", post=quick_post
    )
    assert not again.posted and len(webhook.received) == 7

    with connect(built.db) as connection:
        attempts = connection.execute(
            f"select post_attempts, posted_at is not null, last_post_error "
            f"from analytics_internal.{alerts.STATE_TABLE}"
        ).fetchall()
    assert sorted(attempts) == [(2, True, None)] * 7


def test_only_recent_alerts_are_considered_and_bi_cannot_read_the_state(built: Built):
    reset_state(built.db)
    outcome = alerts.run(built.db.conninfo(), days=1, as_role="bi_reader")
    assert [alert.key for alert in outcome.new] == [(today(), "telemetry_silence", "all")]
    with connect(built.db) as connection:
        connection.execute("set role bi_reader")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            connection.execute(f"select * from analytics_internal.{alerts.STATE_TABLE}")


def test_the_digest_reports_yesterday_from_the_marts(built: Built) -> None:
    yesterday = today() - timedelta(days=1)
    report = digest.collect(built.db.conninfo(), yesterday, as_role="bi_reader")
    spend = {row[0]: row[3] for row in report.sections["spend"]}
    for model in ("gpt-4.1", "gpt-4o-mini", "gpt-4.1-mini"):
        assert close(spend[model], built.expected.cost[yesterday, model]), model
    text = digest.render(report)
    total = built.expected.day_cost(yesterday)
    assert f"Spend: {total:,.4f} USD" in text, text
    assert f"Requests: {built.expected.requests[yesterday]:,};" in text, text
    assert text.splitlines()[0] == f"chat-telemetry digest for {yesterday.isoformat()}"
    # The alerts since yesterday: the five of yesterday and today's silence.
    assert len(report.sections["alerts"]) == 6, report.sections["alerts"]
    assert "[ERROR] telemetry_silence (all): No telemetry row since" in text

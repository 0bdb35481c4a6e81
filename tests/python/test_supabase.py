"""supabase/: the migrations are the bootstrap files, and the SQL editor snippets are the reports.

- `supabase/migrations/` holds byte-for-byte copies of `bootstrap_sql/` (all but the compat
  file), written by `make supabase-migrations`; any drift fails here. Applied alone, in
  timestamp order, on a database that has only what Supabase has, they give the same catalog
  as the bootstrap.
- `supabase/snippets/observability_reports.sql` holds the seven reports of `analyses/` as
  plain SQL: each one, run as the BI role on built marts, returns exactly the rows (same
  order, same values) of its analysis compiled by dbt with the default vars (report 1 with
  the 30-day window the snippet uses).
"""

from __future__ import annotations

import importlib.util
import json
import re
import uuid
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from types import ModuleType
from typing import Any

import pytest
from conftest import connect, run_dbt, scratch_database
from test_bootstrap import catalog_snapshot

from chat_telemetry import bootstrap, database
from chat_telemetry.workload.generator import WorkloadSettings
from chat_telemetry.workload.loader import load_workload

ROOT = database.PROJECT_ROOT
SNIPPETS = ROOT / "supabase" / "snippets" / "observability_reports.sql"
ANALYSES = ROOT / "analyses"
COMPILED = ROOT / "target" / "pytest" / "compiled" / "chat_telemetry" / "analyses"
REPORT_LINE = re.compile(r"^-- report: (\S+)\s*$", re.M)
WINDOW_DAYS = 30


def sync_migrations() -> ModuleType:
    path = ROOT / "supabase" / "sync_migrations.py"
    spec = importlib.util.spec_from_file_location("sync_migrations", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def snippet_reports() -> dict[str, str]:
    """Each report of the snippets file by name: from its `-- report:` line to the next one."""
    text = SNIPPETS.read_text(encoding="utf-8")
    marks = list(REPORT_LINE.finditer(text))
    reports: dict[str, str] = {}
    for mark, following in zip(marks, [*marks[1:], None], strict=True):
        end = following.start() if following else len(text)
        assert mark.group(1) not in reports, f"report {mark.group(1)} appears twice"
        reports[mark.group(1)] = text[mark.start() : end].strip()
    return reports


# Migrations ----------------------------------------------------------------------------------


def test_the_migrations_are_the_bootstrap_files_byte_for_byte():
    module = sync_migrations()
    assert module.problems() == [], "run `make supabase-migrations` and commit the result"
    # Every bootstrap file but the compat stand-in, in the bootstrap's order.
    bootstrap_names = [path.name for path in bootstrap.bootstrap_files()]
    assert list(module.MIGRATIONS.values()) == [
        name for name in bootstrap_names if name != "00_supabase_compat.sql"
    ]
    assert "20260204000000_create_chat_telemetry_log.sql" in module.MIGRATIONS
    for name in module.MIGRATIONS:
        assert re.fullmatch(r"\d{14}_[a-z0-9_]+\.sql", name), name


def test_the_drift_check_names_a_changed_migration(tmp_path, monkeypatch):
    module = sync_migrations()
    monkeypatch.setattr(module, "MIGRATIONS_DIR", tmp_path)
    assert module.write() == list(module.MIGRATIONS)
    assert module.problems() == []
    changed = tmp_path / "20260204000100_create_bi_reader_role.sql"
    changed.write_bytes(changed.read_bytes() + b"\n")
    (tmp_path / "20260301000000_extra.sql").write_text("select 1;\n")
    assert module.problems() == [
        "supabase/migrations/20260204000100_create_bi_reader_role.sql differs from "
        "bootstrap_sql/20_bi_reader_role.sql",
        "supabase/migrations/20260301000000_extra.sql comes from no bootstrap file",
    ]
    assert module.main(["--check"]) == 1
    assert module.write() == ["20260204000100_create_bi_reader_role.sql"]


def test_the_migrations_alone_give_the_bootstrap_catalog(server, template_database):
    """Like `supabase db push`: a database with only what Supabase has (here the compat
    stand-ins), then each migration in timestamp order, one transaction each, without the
    session setting that `bootstrap` adds. Same catalog as the bootstrap's."""
    module = sync_migrations()
    with scratch_database(server, "template0") as db:
        with connect(db) as connection:
            connection.execute((ROOT / "bootstrap_sql/00_supabase_compat.sql").read_bytes())
            for migration in sorted(module.MIGRATIONS):
                with connection.transaction():
                    connection.execute((module.MIGRATIONS_DIR / migration).read_bytes())
        bootstrapped = replace(server, database=template_database)
        with connect(db) as migrated, connect(bootstrapped) as reference:
            assert catalog_snapshot(migrated) == catalog_snapshot(reference)


# Snippets ------------------------------------------------------------------------------------


def test_the_snippets_file_has_one_report_per_analysis():
    analyses = sorted(path.stem for path in ANALYSES.glob("*.sql"))
    assert sorted(snippet_reports()) == analyses
    for name, report in snippet_reports().items():
        code = re.sub(r"--[^\n]*", "", report).strip()
        assert code.endswith(";") and code.count(";") == 1, f"{name}: one statement"
        assert "{{" not in code and "{%" not in code, f"{name} still has Jinja"
        assert f"analyses/{name}.sql" in report, f"{name}'s header names its analysis"
        # Only the marts: no raw table, no internal model.
        tables = set(re.findall(r"\b(?:from|join)\s+([a-z_]+\.[a-z_0-9]+)", code))
        assert tables and all(table.startswith("analytics.") for table in tables), tables


def add_rows(db: database.Connection, today: date) -> None:
    """What the reports must handle: NULL costs (an unpriced model, a user with only that),
    a pair with only failed requests (NULL latency; a frequent fingerprint with NULL
    averages), and rows
    on both sides of the 30-day window's first day."""
    unpriced_user, failing_user, edge_user = (uuid.uuid4() for _ in range(3))
    noon = time(12, tzinfo=timezone.utc)
    rows = [
        (unpriced_user, datetime.combine(today - timedelta(days=1), noon), None,
         "mystery-model-1", "mystery-model-1", None, None, 300, 900, 700),
        (unpriced_user, datetime.combine(today - timedelta(days=2), noon), None,
         "mystery-model-1", "mystery-model-1", None, None, 350, 950, 800),
        (failing_user, datetime.combine(today - timedelta(days=1), noon), "sql_execution",
         "gpt-4.1-failing-pair", None, "SELECT broken FROM nowhere", None, None, None, None),
        (failing_user, datetime.combine(today - timedelta(days=3), noon), "sql_execution",
         "gpt-4.1-failing-pair", None, "select  BROKEN from nowhere", None, None, None, None),
        (edge_user, datetime.combine(today - timedelta(days=WINDOW_DAYS - 1), noon), None,
         "gpt-4o-mini", "gpt-4o-mini", "select 29", 40, 400, 900, 600),
        (edge_user, datetime.combine(today - timedelta(days=WINDOW_DAYS), noon), "sql_execution",
         "gpt-4o-mini", "gpt-4o-mini", "select 30", None, 400, None, None),
        (edge_user, datetime.combine(today - timedelta(days=45), noon), "unexpected",
         "gpt-4o", "gpt-4o", None, None, 400, None, None),
    ]  # fmt: skip
    # Frequent enough for the top 20 patterns of report 5.
    rows += [row for row in rows if row[0] == failing_user] * 20
    with connect(db) as connection, connection.cursor() as cursor:
        cursor.executemany(
            "insert into auth.users (id) values (%s)",
            [(user,) for user in (unpriced_user, failing_user, edge_user)],
        )
        cursor.executemany(
            "insert into public.chat_telemetry_log (user_id, created_at, user_question, "
            "error_type, failed_step, sql_model, response_model, generated_sql, "
            "sql_execution_duration_ms, nl_to_sql_duration_ms, "
            "response_generation_duration_ms, ttfb_ms, sql_input_tokens, sql_output_tokens, "
            "response_input_tokens, response_output_tokens) "
            "values (%s, %s, 'q', %s, null, %s, %s, %s, %s, %s, %s, %s, 500, 40, 700, 90)",
            rows,
        )


def skip_if_the_windows_moved(db: database.Connection, today: date) -> None:
    """Skip when the UTC day the snippets read is no longer the day the fixture built for."""
    if database_today(db) != today:
        pytest.skip("the UTC day changed during the test: the windows moved")


def database_today(db: database.Connection) -> date:
    with connect(db) as connection:
        row = connection.execute(
            "select cast(current_timestamp at time zone 'UTC' as date)"
        ).fetchone()
    assert row is not None
    today: date = row[0]
    return today


@pytest.fixture(scope="module")
def built_db(server, template_database):
    """A small workload ending now, the rows of add_rows, the marts built with the default
    vars (days in UTC, today as as_of_date) and the analyses compiled with the same."""
    with scratch_database(server, template_database) as db:
        today = database_today(db)
        now = datetime.now(timezone.utc)
        settings = WorkloadSettings(
            days=4, requests_per_day=150, users=20, seed=31, end_date=today, not_after=now
        )
        load_workload(db.conninfo(), settings, quiet=True)
        add_rows(db, today)
        # Models and seeds only: the data tests run in `make dbt-check`.
        run_dbt(
            db, "build", "--resource-type", "seed", "--resource-type", "model",
            "--vars", json.dumps({"reporting_timezone": "UTC"}),
        )  # fmt: skip
        # Report 1's snippet reads the 30 days ending today: the same window as vars.
        window = {
            "reporting_timezone": "UTC",
            "start_date": (today - timedelta(days=WINDOW_DAYS - 1)).isoformat(),
            "end_date": today.isoformat(),
        }
        run_dbt(db, "compile", "--select", "analyses/*", "--vars", json.dumps(window))
        yield db, today


def run_as_bi_reader(db: database.Connection, statement: str) -> list[tuple[Any, ...]]:
    with connect(db) as connection:
        connection.execute("set role bi_reader")
        cursor = connection.execute(statement.encode())
        names = [column.name for column in cursor.description or []]
        return [tuple(names), *cursor.fetchall()]


@pytest.mark.parametrize("name", sorted(path.stem for path in ANALYSES.glob("*.sql")))
def test_each_snippet_returns_the_rows_of_its_compiled_analysis(built_db, name):
    db, today = built_db
    snippet = snippet_reports()[name]
    compiled = (COMPILED / f"{name}.sql").read_text(encoding="utf-8")
    expected = run_as_bi_reader(db, compiled)
    actual = run_as_bi_reader(db, snippet)
    skip_if_the_windows_moved(db, today)
    assert len(expected) > 1, f"{name}: the analysis returned no row, nothing compared"
    assert actual[0] == expected[0], f"{name}: columns differ"
    # Exact: same SQL on the same marts, so the same values in the same order (floats too).
    for number, (got, want) in enumerate(zip(actual[1:], expected[1:], strict=True)):
        assert got == want, f"{name}: row {number} differs: {got} != {want}"
    assert len(actual) == len(expected), f"{name}: {len(actual) - 1} rows, not {len(expected) - 1}"


def test_the_snippets_exercise_nulls_and_the_window_edges(built_db):
    """The comparison above is not vacuous: NULL costs and latencies are in the rows, and
    the window keeps its first day and leaves the day before it out."""
    db, today = built_db
    reports = snippet_reports()
    cost = run_as_bi_reader(db, reports["01_token_cost_over_time_range"])
    skip_if_the_windows_moved(db, today)
    header, rows = cost[0], cost[1:]
    days = {row[header.index("request_date")] for row in rows}
    assert today - timedelta(days=WINDOW_DAYS - 1) in days
    assert min(days) == today - timedelta(days=WINDOW_DAYS - 1)
    assert any(row[header.index("total_cost_usd")] is None for row in rows)
    usage = run_as_bi_reader(db, reports["04_user_usage_30d"])
    assert usage[-1][usage[0].index("total_cost_usd")] is None  # NULL costs sort last
    patterns = run_as_bi_reader(db, reports["05_top_sql_patterns"])
    assert any(row[patterns[0].index("avg_sql_execution_ms")] is None for row in patterns[1:])
    models = run_as_bi_reader(db, reports["07_model_comparison"])
    failing = [row for row in models[1:] if row[0] == "gpt-4.1-failing-pair"]
    assert failing and failing[0][models[0].index("p50_nl_to_sql_ms")] is None


def test_the_whole_file_runs_as_is_as_the_bi_role(built_db):
    """What the SQL editor does with the whole file: every statement runs, in one go."""
    db, _ = built_db
    with connect(db) as connection:
        connection.execute("set role bi_reader")
        cursor = connection.execute(SNIPPETS.read_bytes())
        statements = 1
        while cursor.nextset():
            statements += 1
    assert statements == len(snippet_reports()) == 7

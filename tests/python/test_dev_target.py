"""dbt targets and exposures: `--target dev` writes dev_<user>_* schemas and leaves the
production schemas (what BI tools read) untouched; the default target is unchanged; the
exposures name exactly the marts the dashboard and the summary read.

Small on purpose: one tiny day of traffic, and one mart with what it depends on.
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import date
from pathlib import Path

import pytest
from conftest import connect, run_dbt, scratch_database

from chat_telemetry import cli, dashboard, database, digest, summary
from chat_telemetry.workload.generator import WorkloadSettings
from chat_telemetry.workload.loader import load_workload

DEV_USER = "Jane.Doe-42"  # as a developer might spell it: case, dot and dash get sanitized
PREFIX = "dev_jane_doe_42"
SELECTION = "+fct_daily_off_topic"
END = date(2026, 10, 10)
PRODUCTION_SCHEMAS = {"analytics", "analytics_internal"}
DEV_SCHEMAS = {f"{PREFIX}_analytics", f"{PREFIX}_analytics_internal"}


def manifest(target: str) -> dict:
    path = database.PROJECT_ROOT / "target" / f"pytest-{target}" / "manifest.json"
    return json.loads(path.read_text(encoding="utf-8"))


def run(db: database.Connection, target: str) -> None:
    """`dbt run` of the small selection; each target keeps its own artifacts."""
    run_dbt(
        db, "run", "--target", target, "--select", SELECTION,
        "--target-path", str(Path("target") / f"pytest-{target}"),
        "--vars", f"{{as_of_date: '{END.isoformat()}'}}",
    )  # fmt: skip


def relations(db: database.Connection) -> dict[tuple[str, str], tuple]:
    """Every table and view dbt could have made, with what changes when it is rewritten:
    oid and file (recreated), and the rows' xmin (rows deleted or inserted in place)."""
    with connect(db) as connection:
        found = connection.execute(
            "select n.nspname, c.relname, c.oid::int, c.relfilenode::int, c.relkind "
            "from pg_class as c join pg_namespace as n on n.oid = c.relnamespace "
            "where c.relkind in ('r', 'v', 'm', 'p') "
            "and n.nspname like any (array['analytics%%', 'dev\\_%%'])"
        ).fetchall()
        result = {}
        for schema, name, oid, filenode, kind in found:
            rows = ()
            if kind == "r":
                rows = tuple(
                    sorted(
                        row[0]
                        for row in connection.execute(
                            f'select xmin::text from "{schema}"."{name}"'
                        ).fetchall()
                    )
                )
            result[(schema, name)] = (oid, filenode, rows)
    return result


@pytest.fixture(scope="module")
def builds(server, template_database):
    """The production build, then a dev build of the same selection, in one database."""
    with scratch_database(server, template_database) as db:
        settings = WorkloadSettings(days=2, requests_per_day=60, users=8, seed=3, end_date=END)
        load_workload(db.conninfo(), settings, quiet=True)
        run(db, "default")
        production = relations(db)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("DBT_DEV_USER", DEV_USER)
            run(db, "dev")
        yield db, production, relations(db)


def test_the_default_target_writes_the_production_schemas(builds):
    _, production, _ = builds
    assert {schema for schema, _ in production} == PRODUCTION_SCHEMAS
    assert ("analytics", "fct_daily_off_topic") in production
    nodes = manifest("default")["nodes"].values()
    schemas = {node["schema"] for node in nodes if node["resource_type"] in ("model", "seed")}
    assert schemas == PRODUCTION_SCHEMAS


def test_the_dev_target_writes_prefixed_schemas_and_leaves_production_alone(builds):
    db, production, after = builds
    # Production relations are the same objects with the same row versions: not rewritten.
    assert {key: after[key] for key in production} == production
    created = {key for key in after if key not in production}
    assert {schema for schema, _ in created} == DEV_SCHEMAS
    assert (f"{PREFIX}_analytics", "fct_daily_off_topic") in created
    assert (f"{PREFIX}_analytics_internal", "stg_chat_telemetry__requests") in created
    # The dev mart holds the same numbers as production (same rows, same code).
    with connect(db) as connection:
        query = "select request_date, requests, off_topic_requests from {}.fct_daily_off_topic "
        query += "order by request_date"
        dev_rows = connection.execute(query.format(f'"{PREFIX}_analytics"')).fetchall()
        production_rows = connection.execute(query.format("analytics")).fetchall()
        bi_can_use_dev = connection.execute(
            "select has_schema_privilege('bi_reader', %s, 'usage')", (f"{PREFIX}_analytics",)
        ).fetchone()[0]
    assert dev_rows == production_rows and len(dev_rows) == 2
    assert bi_can_use_dev is False  # BI tools never see a developer's work in progress
    # Every node of the project, not only the selection, resolves to the prefixed schemas.
    nodes = manifest("dev")["nodes"].values()
    schemas = {node["schema"] for node in nodes if node["resource_type"] in ("model", "seed")}
    assert schemas == DEV_SCHEMAS


def marts_read_by(queries: list[str]) -> set[str]:
    """The marts a piece of code reads: every `{schema}.<name>` in its queries."""
    return {name for query in queries for name in re.findall(r"\{schema\}\.(\w+)", query)}


def test_exposures_name_exactly_the_marts_their_code_reads(builds):
    exposures = manifest("default")["exposures"]

    def depends_on(name: str) -> set[str]:
        exposure = exposures[f"exposure.chat_telemetry.{name}"]
        assert exposure["owner"]["name"]
        return {node.split(".")[-1] for node in exposure["depends_on"]["nodes"]}

    dashboard_reads = marts_read_by(list(dashboard.QUERIES.values()))
    summary_reads = marts_read_by([query for _, _, query in summary.QUERIES.values()])
    assert len(dashboard_reads) == 9 and len(summary_reads) == 7
    assert depends_on("chat_telemetry_dashboard") == dashboard_reads
    assert depends_on("chat_telemetry_terminal_summary") == summary_reads
    assert exposures["exposure.chat_telemetry.chat_telemetry_dashboard"]["type"] == "dashboard"
    # An alerts command, once it exists, needs an exposure of its own.
    [commands] = [
        action.choices
        for action in cli.build_parser()._actions
        if isinstance(action, argparse._SubParsersAction)
    ]
    if "alerts" in commands:
        assert "exposure.chat_telemetry.chat_telemetry_alerts" in exposures
        alerts_reads = marts_read_by(list(digest.QUERIES.values())) | {"rpt_alerts"}
        assert depends_on("chat_telemetry_alerts") == alerts_reads

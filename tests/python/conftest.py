"""Fixtures: a real Postgres (the embedded server unless PG* is set) and scratch databases.

Each test that needs a clean catalog or whole-table state gets its own database, cloned from
a bootstrapped template; tests that only add rows of their own share one database and never
look at rows they did not write.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from chat_telemetry import bootstrap, database, dbt

TEMPLATE_DATABASE = "chat_telemetry_pytest_template"
SHARED_DATABASE = "chat_telemetry_pytest_shared"


@pytest.fixture(scope="session")
def server() -> database.Connection:
    environ = {k: v for k, v in os.environ.items() if k != "CHAT_TELEMETRY_DATABASE"}
    return database.resolve(environ)


def _admin(server: database.Connection) -> psycopg.Connection:
    return psycopg.connect(server.conninfo(), autocommit=True)


def recreate_database(server: database.Connection, name: str, template: str | None = None) -> None:
    with _admin(server) as admin:
        admin.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )
        statement = sql.SQL("create database {}").format(sql.Identifier(name))
        if template:
            statement += sql.SQL(" template {}").format(sql.Identifier(template))
        admin.execute(statement)


@pytest.fixture(scope="session")
def template_database(server: database.Connection) -> str:
    recreate_database(server, TEMPLATE_DATABASE)
    bootstrap.apply(server.conninfo(TEMPLATE_DATABASE))
    return TEMPLATE_DATABASE


@pytest.fixture(scope="session")
def shared_db(server: database.Connection, template_database: str) -> database.Connection:
    recreate_database(server, SHARED_DATABASE, template_database)
    return replace(server, database=SHARED_DATABASE)


@pytest.fixture
def fresh_db(server: database.Connection, template_database: str) -> Iterator[database.Connection]:
    with scratch_database(server, template_database) as db:
        yield db


@contextmanager
def scratch_database(
    server: database.Connection, template: str, name: str | None = None
) -> Iterator[database.Connection]:
    """A bootstrapped database of its own (a clone of the template), dropped afterwards."""
    name = name or f"pytest_{uuid.uuid4().hex[:12]}"
    recreate_database(server, name, template)
    try:
        yield replace(server, database=name)
    finally:
        with _admin(server) as admin:
            admin.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )


def connect(db: database.Connection) -> psycopg.Connection:
    return psycopg.connect(db.conninfo(), autocommit=True)


def make_user(db: database.Connection) -> uuid.UUID:
    user_id = uuid.uuid4()
    with connect(db) as connection:
        connection.execute("insert into auth.users (id) values (%s)", (user_id,))
    return user_id


def make_conversation(db: database.Connection, user_id: uuid.UUID) -> uuid.UUID:
    conversation_id = uuid.uuid4()
    with connect(db) as connection:
        connection.execute(
            "insert into public.chat_conversations (conversation_id, user_id) values (%s, %s)",
            (conversation_id, user_id),
        )
    return conversation_id


def run_dbt(
    db: database.Connection,
    *arguments: str,
    project_dir: Path | None = None,
    expect_failure: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run dbt against `db`; fails the test with dbt's output when dbt fails (or, with
    `expect_failure`, when it succeeds). `project_dir`: a copy of the project to run instead."""
    project = project_dir or database.PROJECT_ROOT
    result = dbt.run(
        db,
        *arguments,
        project=project,
        # Keep pytest's dbt artifacts apart from those of `make` targets.
        target_path=project / "target" / "pytest",
        log_path=project / "logs" / "pytest",
        timeout=600,
    )
    if expect_failure and result.returncode == 0:
        pytest.fail(f"dbt {' '.join(arguments)} succeeded but should have failed")
    if not expect_failure and result.returncode != 0:
        pytest.fail(f"dbt {' '.join(arguments)} failed:\n{result.stdout[-6000:]}\n{result.stderr}")
    return result

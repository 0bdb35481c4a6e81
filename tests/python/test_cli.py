"""The commands behind the Makefile: they reach the project's database through PG*."""

from __future__ import annotations

import subprocess
import sys

from chat_telemetry import database


def run(*arguments: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "chat_telemetry", *arguments],
        cwd=database.PROJECT_ROOT, capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip


def test_exec_passes_the_database_and_every_option_through(server):
    script = "import os, sys; print(os.environ['PGHOST'], sys.argv[1:])"
    printed = run("exec", "--", sys.executable, "-c", script, "-x", "--flag")
    assert printed.split(" ", 1)[0] == server.host
    assert "['-x', '--flag']" in printed


def test_psql_and_db_url_reach_the_same_server(server):
    assert run("psql", "-X", "-At", "-c", "select 40 + 2").strip() == "42"
    exports = run("db-url")
    assert f"export PGHOST='{server.host}'" in exports
    assert f"export PGPORT='{server.port}'" in exports
    assert "PGPASSWORD" not in exports or "export PGPASSWORD='***'" in exports

"""A BI tool on this machine reaches the marts with the URL `make db-url` prints, and only them.

The embedded server listens on 127.0.0.1 (password only) besides its unix socket; the URL
names the demo's BI login (a member of bi_reader). Everything here is about the embedded
server: with PG* pointing at your own server, the module is skipped.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path
from urllib.parse import unquote, urlsplit

import psycopg
import pytest
from conftest import connect, run_dbt, scratch_database

from chat_telemetry import bi_login, database
from chat_telemetry.workload.generator import WorkloadSettings
from chat_telemetry.workload.loader import load_workload

END = date(2026, 10, 20)
MARTS = sorted(path.stem for path in (database.PROJECT_ROOT / "models" / "marts").glob("*.sql"))


def db_url_output(environ: dict[str, str]) -> str:
    return subprocess.run(
        [sys.executable, "-m", "chat_telemetry", "db-url"],
        cwd=database.PROJECT_ROOT, env=environ, capture_output=True, text=True, check=True,
        timeout=120,
    ).stdout  # fmt: skip


@pytest.fixture(scope="module")
def built_db(server, template_database):
    if not server.is_embedded:
        pytest.skip("PG* points at an external server: the TCP endpoint is the embedded one's")
    with scratch_database(server, template_database) as db:
        settings = WorkloadSettings(days=2, requests_per_day=120, users=15, seed=5, end_date=END)
        load_workload(db.conninfo(), settings, quiet=True)
        run_dbt(
            db, "build", "--resource-type", "seed", "--resource-type", "model",
            "--vars", f"{{as_of_date: '{END.isoformat()}'}}",
        )  # fmt: skip
        yield db


@pytest.fixture(scope="module")
def printed_url(built_db) -> str:
    """Exactly what `make db-url` prints for the BI tool, for the test's database."""
    environ = {k: v for k, v in os.environ.items() if k not in database.LIBPQ_VARIABLES}
    environ["CHAT_TELEMETRY_DATABASE"] = built_db.database
    printed = db_url_output(environ)
    urls = [line for line in printed.splitlines() if line.startswith("postgresql://")]
    assert len(urls) == 1, printed
    return urls[0]


def test_the_url_names_the_bi_login_on_localhost_tcp(printed_url, built_db):
    url = urlsplit(printed_url)
    assert (url.hostname, url.port) == (database.TCP_HOST, database.tcp_port())
    assert url.username == bi_login.login_name() and url.path == f"/{built_db.database}"
    password_file = bi_login.password_path()
    assert unquote(url.password or "") == password_file.read_text().strip()
    assert len(url.password or "") >= 32
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600


def test_the_bi_login_reads_every_mart_over_tcp(printed_url, built_db):
    assert len(MARTS) >= 8
    with connect(built_db) as admin:
        expected = {
            mart: admin.execute(f"select count(*) from analytics.{mart}").fetchone()[0]
            for mart in MARTS
        }
    with psycopg.connect(printed_url, autocommit=True) as bi:
        user, address, is_superuser = bi.execute(
            "select current_user, host(inet_server_addr()), "
            "(select rolsuper from pg_roles where rolname = current_user)"
        ).fetchone()
        assert (user, address, is_superuser) == (bi_login.login_name(), "127.0.0.1", False)
        counted = {
            mart: bi.execute(f"select count(*) from analytics.{mart}").fetchone()[0]
            for mart in MARTS
        }
    assert counted == expected
    assert all(count > 0 for count in counted.values()), counted


@pytest.mark.parametrize(
    "statement",
    [
        "select * from public.chat_telemetry_log limit 1",
        "select * from analytics_internal.stg_chat_telemetry__requests limit 1",
        "select * from auth.users limit 1",
        "set role service_role",
        "create table public.bi_was_here (id int)",
    ],
)
def test_the_bi_login_cannot_reach_raw_telemetry_or_do_more(printed_url, statement):
    with (
        psycopg.connect(printed_url, autocommit=True) as bi,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        bi.execute(statement)


def test_tcp_asks_a_password_and_listens_on_localhost_only(printed_url, built_db):
    url = urlsplit(printed_url)
    wrong = printed_url.replace(f":{url.password}@", ":not-the-password@")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong)
    superuser = f"host=127.0.0.1 port={url.port} user=postgres password=x dbname=postgres"
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(superuser)
    with connect(built_db) as admin:
        assert admin.execute("show listen_addresses").fetchone()[0] == "127.0.0.1"
        rules = admin.execute(
            "select type, auth_method from pg_hba_file_rules where error is null"
        ).fetchall()
    assert {method for kind, method in rules if kind == "local"} == {"trust"}
    assert {method for kind, method in rules if kind != "local"} == {"scram-sha-256"}


def test_with_pg_variables_db_url_prints_how_to_connect_but_no_url(server):
    if not server.is_embedded:
        pytest.skip("needs the embedded server to stand in for an external one")
    environ = {**os.environ, **server.env()}
    environ.pop("CHAT_TELEMETRY_DATABASE", None)
    printed = db_url_output(environ)
    assert "external server" in printed
    assert not any(line.startswith("postgresql://") for line in printed.splitlines())


def test_a_server_keeps_its_port_across_restarts_and_moves_when_it_is_taken():
    folder = Path(tempfile.mkdtemp(prefix="bi-endpoint-")) / "pgdata"
    folder.parent.chmod(0o755)  # the server may run as another system user (root's case)
    try:
        first = database.start_embedded(folder)
        port = database.tcp_port(folder)
        assert port is not None and first.port == str(port)
        database.stop_embedded(folder)
        assert database.tcp_port(folder) is None
        again = database.start_embedded(folder)
        assert database.tcp_port(folder) == port and again.port == str(port)
        with psycopg.connect(again.conninfo(), autocommit=True) as admin:  # the socket: trust
            assert admin.execute("select 1").fetchone() == (1,)
        database.stop_embedded(folder)
        with socket.socket() as squatter:
            squatter.bind((database.TCP_HOST, port))
            squatter.listen()
            moved = database.start_embedded(folder)
        new_port = database.tcp_port(folder)
        assert new_port not in (None, port) and moved.port == str(new_port)
        database.stop_embedded(folder)
        assert database.start_embedded(folder).port == str(new_port)  # remembered
    finally:
        database.stop_embedded(folder)
        subprocess.run(["rm", "-rf", str(folder.parent)], check=False)

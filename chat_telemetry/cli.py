"""`python -m chat_telemetry`: the commands behind the Makefile's targets."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from chat_telemetry import bootstrap, database


def _environment_for(connection: database.Connection) -> dict[str, str]:
    environ = dict(os.environ)
    environ.update(connection.env())
    environ.setdefault("DBT_PROFILES_DIR", str(database.PROJECT_ROOT))
    return environ


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
    connection = database.resolve()
    print(f"# {connection.describe()}")
    for name, value in connection.env().items():
        shown = "***" if name == "PGPASSWORD" else value
        print(f"export {name}='{shown}'")
    print(f'# psql "{connection.conninfo()}"')
    return 0


def command_exec(arguments: argparse.Namespace) -> int:
    """Run a command with the `PG*` variables of the project's database set."""
    command = [part for part in arguments.command if part != "--"]
    if not command:
        print("exec: give a command to run", file=sys.stderr)
        return 2
    environ = _environment_for(database.resolve())
    os.execvpe(command[0], command, environ)
    return 0  # not reached


def command_bootstrap(_: argparse.Namespace) -> int:
    connection = database.resolve()
    print(f"bootstrapping {connection.describe()}")
    for applied in bootstrap.apply(connection.conninfo()):
        print(f"  applied {applied.name} ({applied.statements_ms:.0f} ms)")
    print(f"  BI role: {bootstrap.bi_role_name()}")
    return 0


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    return int(arguments.handler(arguments))

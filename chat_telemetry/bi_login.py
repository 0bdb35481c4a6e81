"""The BI tools' way in to the embedded server: a login role and a `postgresql://` URL.

`bi_reader` (bootstrap_sql/20) is NOLOGIN on purpose: on Supabase, each BI tool gets its own
login. For the embedded server, the demo makes one, `bi_demo` (`CHAT_TELEMETRY_BI_LOGIN`),
a member of `bi_reader` and nothing else, with a generated password kept in the git-ignored
data folder (mode 0600). It is created here, by the project's commands, never by
bootstrap_sql/, which is a Supabase migration and must not create logins with passwords.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

from chat_telemetry import database, settings
from chat_telemetry.bootstrap import bi_role_name

DEFAULT_LOGIN = settings.BI_LOGIN.default
PASSWORD_FILE = "bi_password"


@dataclass(frozen=True)
class BiLogin:
    """How a BI tool connects: a read-only login over localhost TCP."""

    user: str
    password: str
    host: str
    port: int
    database: str

    def url(self) -> str:
        """The URL to paste in Metabase, Superset, DBeaver, Grafana or a notebook."""
        return (
            f"postgresql://{quote(self.user, safe='')}:{quote(self.password, safe='')}"
            f"@{self.host}:{self.port}/{quote(self.database, safe='')}"
        )


def login_name() -> str:
    """The BI login's name: `CHAT_TELEMETRY_BI_LOGIN`, else `bi_demo`."""
    return settings.BI_LOGIN.get()


def password_path(folder: Path | None = None, file_name: str = PASSWORD_FILE) -> Path:
    """Where the password lives: in the data folder, next to the server it opens."""
    return (folder or database.data_dir()) / file_name


def read_or_create_password(folder: Path | None = None, file_name: str = PASSWORD_FILE) -> str:
    """The stored password, generated on first use; the file is created 0600, never wider.

    `O_EXCL` makes two processes racing on first use agree on one password (the loser reads
    the winner's file), and the mode is set at creation, so there is no moment it is readable.
    """
    path = password_path(folder, file_name)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        stored = path.read_text(encoding="ascii").strip()
        if stored:
            return stored
        path.unlink()  # an empty file from an interrupted first run
        return read_or_create_password(folder, file_name)
    password = secrets.token_urlsafe(24)  # URL-safe, so the URL needs no escaping
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(password + "\n")
    return password


def ensure(connection: database.Connection, folder: Path | None = None) -> BiLogin | None:
    """Create or refresh the BI login on the embedded server; None where there is none.

    None on an external server (we never create roles there: give your BI tool its own
    login, README) and before the bootstrap (no `bi_reader` to be a member of yet).
    """
    return ensure_member_login(connection, login_name(), bi_role_name(), PASSWORD_FILE, folder)


def ensure_member_login(
    connection: database.Connection,
    user: str,
    member_of: str,
    file_name: str,
    folder: Path | None = None,
) -> BiLogin | None:
    """Create or refresh a password login on the embedded server, a member of one role only.

    None on an external server and while `member_of` does not exist (before the bootstrap).
    The password is hashed client side (SCRAM verifier), so its text reaches neither the
    server nor its logs. Every run resets the attributes to the least privilege: no
    superuser, no create, no bypass of row-level security, member of `member_of` only.
    """
    port = database.tcp_port(folder) if connection.is_embedded else None
    if port is None:
        return None
    role = member_of
    with psycopg.connect(connection.conninfo(), autocommit=True) as admin:
        found = admin.execute("select 1 from pg_catalog.pg_roles where rolname = %s", (role,))
        if found.fetchone() is None:
            return None
        password = read_or_create_password(folder, file_name)
        verifier = admin.pgconn.encrypt_password(
            password.encode(), user.encode(), b"scram-sha-256"
        ).decode()
        exists = admin.execute("select 1 from pg_catalog.pg_roles where rolname = %s", (user,))
        if exists.fetchone() is None:
            admin.execute(sql.SQL("create role {} login").format(sql.Identifier(user)))
        admin.execute(
            sql.SQL(
                "alter role {} login inherit nosuperuser nocreatedb nocreaterole noreplication "
                "nobypassrls password {}"
            ).format(sql.Identifier(user), sql.Literal(verifier))
        )
        granted = admin.execute(
            "select 1 from pg_catalog.pg_auth_members as m "
            "join pg_catalog.pg_roles as r on r.oid = m.roleid "
            "join pg_catalog.pg_roles as u on u.oid = m.member "
            "where r.rolname = %s and u.rolname = %s",
            (role, user),
        ).fetchone()
        if granted is None:
            admin.execute(
                sql.SQL("grant {} to {}").format(sql.Identifier(role), sql.Identifier(user))
            )
    return BiLogin(user, password, database.TCP_HOST, port, connection.database)

"""Write `supabase/migrations/` from `bootstrap_sql/`: byte-for-byte copies, timestamped names.

    python supabase/sync_migrations.py           # write the migrations (make supabase-migrations)
    python supabase/sync_migrations.py --check   # exit 1 and say why when they drifted

`bootstrap_sql/` is the source: edit it, then run `make supabase-migrations` and commit both.
tests/python/test_supabase.py runs the check, so a migration that differs from its bootstrap
file (or a bootstrap file that is neither migrated nor listed in NOT_MIGRATED) fails the tests.
Standard library only: it runs without the virtualenv.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOOTSTRAP_DIR = ROOT / "bootstrap_sql"
MIGRATIONS_DIR = ROOT / "supabase" / "migrations"

# Migration file name -> the bootstrap file it copies, in the order bootstrap applies them
# (Supabase applies migrations in the order of their timestamps).
MIGRATIONS: dict[str, str] = {
    "20260204000000_create_chat_telemetry_log.sql": "10_chat_telemetry_log.sql",
    "20260204000100_create_bi_reader_role.sql": "20_bi_reader_role.sql",
    "20260204000200_create_chat_telemetry_retention.sql": "30_retention.sql",
    "20260204000300_create_telemetry_loader_role.sql": "40_telemetry_loader_role.sql",
}

# Bootstrap files that are not migrations, and why.
NOT_MIGRATED: dict[str, str] = {
    "00_supabase_compat.sql": (
        "stand-ins for what Supabase already has (anon, authenticated, service_role, "
        "auth.users) and for the chat's own public.chat_conversations, which the chat's "
        "migrations create; on Supabase it would change nothing or shadow the chat's table"
    ),
}


def expected() -> dict[str, bytes]:
    """Every migration's name and the exact bytes it must hold."""
    return {name: (BOOTSTRAP_DIR / source).read_bytes() for name, source in MIGRATIONS.items()}


def problems() -> list[str]:
    """What differs between `supabase/migrations/` and `bootstrap_sql/`; empty when in sync."""
    found: list[str] = []
    bootstrap = sorted(path.name for path in BOOTSTRAP_DIR.glob("*.sql"))
    for name in bootstrap:
        if name not in MIGRATIONS.values() and name not in NOT_MIGRATED:
            found.append(
                f"bootstrap_sql/{name} is neither a migration nor in NOT_MIGRATED "
                "(supabase/sync_migrations.py)"
            )
    for name in NOT_MIGRATED:
        if name not in bootstrap:
            found.append(f"NOT_MIGRATED names bootstrap_sql/{name}, which does not exist")
    sources = list(MIGRATIONS.values())
    if sorted(MIGRATIONS) != list(MIGRATIONS) or sorted(sources) != sources:
        found.append("MIGRATIONS must follow the bootstrap order with increasing timestamps")
    for name, content in expected().items():
        path = MIGRATIONS_DIR / name
        if not path.exists():
            found.append(f"supabase/migrations/{name} is missing")
        elif path.read_bytes() != content:
            source = MIGRATIONS[name]
            found.append(f"supabase/migrations/{name} differs from bootstrap_sql/{source}")
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        if path.name not in MIGRATIONS:
            found.append(f"supabase/migrations/{path.name} comes from no bootstrap file")
    return found


def write() -> list[str]:
    """Write every migration whose bytes differ; the names written."""
    MIGRATIONS_DIR.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in expected().items():
        path = MIGRATIONS_DIR / name
        if not path.exists() or path.read_bytes() != content:
            path.write_bytes(content)
            written.append(name)
    return written


def main(arguments: list[str]) -> int:
    if arguments == ["--check"]:
        found = problems()
        for problem in found:
            print(f"supabase migrations: {problem}", file=sys.stderr)
        if found:
            print("run `make supabase-migrations` and commit the result", file=sys.stderr)
        return 1 if found else 0
    if arguments:
        print(__doc__, file=sys.stderr)
        return 2
    written = write()
    for name in written:
        print(f"wrote supabase/migrations/{name} from bootstrap_sql/{MIGRATIONS[name]}")
    left = problems()
    for problem in left:
        print(f"supabase migrations: {problem}", file=sys.stderr)
    if not written and not left:
        print("supabase/migrations/ is up to date")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

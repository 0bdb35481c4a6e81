"""The raw columns that leave Postgres are spelled in five places; they must not drift.

The loader's column grants (bootstrap_sql/40 and its Supabase migration), the Spark landing
query (chat_telemetry/spark/landing.py), the staging model, int_requests_dated and the
writer's COPY_COLUMNS each list them. A column added to the table and the writer but not to
the grants, or granted but not landed, or landed but not staged, used to show only in the
Spark parity test (Java, `make test-spark`); this test reads the files as text and needs
neither Java nor a database.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from telemetry_writer.repair import COPY_COLUMNS

from chat_telemetry.database import PROJECT_ROOT
from chat_telemetry.spark.landing import LOG_COLUMNS_SQL, PARTITION_COLUMN

# Free text (personal data): written to the raw table, never granted, landed or staged.
PRIVATE_TEXT = {"user_question", "ai_response", "follow_up_suggestions", "error_message"}
# Filled by the raw table's trigger (bootstrap_sql/10), never by the writer.
SET_BY_TRIGGER = {"sql_fingerprint"}
# Hashes of that text, computed by Postgres (the loader's view, or the staging macros).
TEXT_HASHES = ["question_hash", "follow_up_suggestion_hashes"]
# Staging columns int_requests_dated leaves out on purpose, and the ones it derives.
NOT_DATED = {"response_id"}
DERIVED_BY_DATED = {"request_date", "pricing_date", "is_error"}


def model_file(name: str) -> Path:
    """A model's SQL wherever it sits under models/ (folders may be regrouped)."""
    [path] = (PROJECT_ROOT / "models").rglob(f"{name}.sql")
    return path


def without_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)


def split_top_level(text: str) -> list[str]:
    """The comma-separated items of a select list, commas inside (), {} or quotes ignored."""
    items, depth, quote, current = [], 0, "", []
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "({":
            depth += 1
        elif char in ")}":
            depth -= 1
        elif char == "," and depth == 0:
            items.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    items.append("".join(current).strip())
    return [item for item in items if item]


def select_list(sql: str, cte: str, relation: str) -> list[str]:
    """The select list of `<cte> as ( select ... from <relation> )`."""
    found = re.search(
        rf"\b{cte}\s+as\s*\(\s*select\s+(.*?)\s+from\s+{relation}\b", without_comments(sql), re.S
    )
    assert found, f"no `{cte} as (select ... from {relation})` found"
    return split_top_level(found.group(1))


def output_name(item: str) -> str:
    """What a select item is called: its alias, else the bare column."""
    alias = re.search(r"\bas\s+(\w+)$", item, re.S)
    if alias:
        return alias.group(1)
    assert re.fullmatch(r"\w+", item), f"neither a bare column nor aliased: {item!r}"
    return item


def source_column(item: str) -> str | None:
    """The raw column a select item reads, when it reads one as is (renamed or cast)."""
    column = re.fullmatch(r"(\w+)(?:::\w+)?(?:\s+as\s+\w+)?", item, re.S)
    return column.group(1) if column else None


def granted_columns(path: Path) -> list[str]:
    found = re.search(
        r"grant\s+select\s*\((.*?)\)\s*on\s+table\s+public\.chat_telemetry_log\s+to\s+"
        r"telemetry_loader",
        without_comments(path.read_text(encoding="utf-8")),
        re.S | re.I,
    )
    assert found, f"{path.name}: no column grant to telemetry_loader"
    return split_top_level(found.group(1))


def landing_items() -> list[str]:
    return split_top_level(without_comments(LOG_COLUMNS_SQL))


def staging_items() -> list[str]:
    sql = model_file("stg_chat_telemetry__requests").read_text(encoding="utf-8")
    return select_list(sql, "renamed", "source")


def dated_names() -> list[str]:
    sql = model_file("int_requests_dated").read_text(encoding="utf-8")
    return [output_name(item) for item in select_list(sql, "dated", "requests")]


@pytest.fixture(scope="module")
def granted() -> list[str]:
    """The landed raw columns, as the loader's grant spells them (bootstrap_sql/40)."""
    return granted_columns(PROJECT_ROOT / "bootstrap_sql" / "40_telemetry_loader_role.sql")


def test_the_supabase_migration_grants_the_same_columns(granted):
    [migration] = (PROJECT_ROOT / "supabase" / "migrations").glob("*_telemetry_loader_role.sql")
    assert granted_columns(migration) == granted


def test_landing_reads_exactly_the_granted_columns_then_the_hashes(granted):
    items = landing_items()
    names = [output_name(item) for item in items]
    assert names == [*granted, *TEXT_HASHES, PARTITION_COLUMN]
    # Each granted column lands under its own name (cast at most): no renaming at landing.
    assert [source_column(item) for item in items[: len(granted)]] == granted


def test_staging_reads_exactly_the_landed_columns(granted):
    items = staging_items()
    read = [source_column(item) for item in items]
    assert [column for column in read if column] == granted
    # What staging adds is the text hashes, by macro, never the text, and the UTC day
    # (created_date: Spark's landed partition column, computed on Postgres).
    added = [output_name(item) for item, column in zip(items, read, strict=True) if not column]
    assert added == [*TEXT_HASHES, PARTITION_COLUMN]


def test_int_requests_dated_keeps_every_staged_column(granted):
    staged = {output_name(item) for item in staging_items()}
    dated = dated_names()
    assert len(dated) == len(set(dated)), "a column is listed twice"
    assert set(dated) == (staged - NOT_DATED) | DERIVED_BY_DATED


def test_the_writer_copies_the_landed_columns_and_only_private_text_besides(granted):
    assert set(COPY_COLUMNS) - set(granted) == PRIVATE_TEXT
    assert set(granted) - set(COPY_COLUMNS) == SET_BY_TRIGGER

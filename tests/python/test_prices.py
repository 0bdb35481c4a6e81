"""`prices check`: the price seed against the pinned genai-prices (issue 18).

The check is a report, never a gate; these tests make sure it reports what it claims to: a
price that differs, a tier the seed lacks, a model the package does not know, and nothing
else on the seed as reviewed.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from chat_telemetry import database, prices

# Every difference between the seed and genai-prices 0.2.3, reviewed one by one (the seed is
# right in each; docs/operations.md, "Checking prices against genai-prices").
REVIEWED_DIFFERENCES = {
    # OpenAI's launch price of gpt-4o (2024-05-13) was 5/15; the package starts at 2.50/10.
    ("gpt-4o", "default", "2024-05-13"),
    # Exact halves of the standard rates; the package rounds them (0.13, 0.138).
    ("gpt-5.4", "flex", "2026-10-12"),
    ("o4-mini", "flex", "2026-10-12"),
    # The package has no threshold for these tiers; the seed keeps the model's threshold and
    # no long-context price, so a long call on them is unknown cost, never short-priced.
    ("gpt-5.4", "priority", "2026-10-12"),
    ("gpt-5.5", "priority", "2026-10-12"),
    ("gpt-5.5-pro", "flex", "2026-10-12"),
    # o3's cached rate before its 2025-06-10 cut was 2.50 (a quarter of 10.00); the package
    # back-dates the later 0.50.
    ("o3", "default", "2025-04-16"),
}


def report(seed: Path) -> list[str]:
    return list(prices.check(prices.read_seed(seed), prices.PackagePrices()))


def differing_rows(lines: list[str]) -> set[tuple[str, str, str]]:
    found = set()
    for line in lines:
        if line.startswith("  differs: "):
            model, tier, _, valid_from = line.removeprefix("  differs: ").split(":")[0].split()
            found.add((model, tier, valid_from))
    return found


def edited_seed(tmp_path: Path, edit) -> Path:
    with prices.SEED_PATH.open(newline="") as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        rows = edit(list(reader))
    path = tmp_path / "token_prices.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fields)
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_the_seed_differs_from_the_package_only_where_it_was_reviewed():
    lines = report(prices.SEED_PATH)
    assert differing_rows(lines) == REVIEWED_DIFFERENCES, "\n".join(lines)
    assert not [line for line in lines if line.startswith("  not in the package")]
    assert not [line for line in lines if line.startswith("  tier the seed lacks")]


def test_an_edited_price_a_missing_tier_and_an_unknown_model_are_reported(tmp_path):
    def edit(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        for row in rows:
            if (row["model"], row["service_tier"], row["valid_from"]) == (
                "gpt-4.1-mini", "default", "2025-04-14"
            ):  # fmt: skip
                assert row["input_usd_per_1m"] == "0.40"  # OpenAI's price (issue 18)
                row["input_usd_per_1m"] = "0.41"
        rows = [
            row for row in rows if (row["model"], row["service_tier"]) != ("gpt-5-mini", "flex")
        ]
        unknown = dict(rows[0], model="acme-private-model", service_tier="default")
        return [*rows, unknown]

    lines = report(edited_seed(tmp_path, edit))
    assert differing_rows(lines) == REVIEWED_DIFFERENCES | {
        ("gpt-4.1-mini", "default", "2025-04-14")
    }
    assert any(
        line.startswith("  differs: gpt-4.1-mini default from 2025-04-14:")
        and "input_usd_per_1m 0.41 vs 0.4" in line
        for line in lines
    ), lines
    assert "  tier the seed lacks: gpt-5-mini flex" in lines
    assert "  not in the package: acme-private-model" in lines


def test_the_command_reports_and_never_fails():
    done = subprocess.run(
        [sys.executable, "-m", "chat_telemetry", "prices", "check"],
        cwd=database.PROJECT_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"{len(REVIEWED_DIFFERENCES)} of " in done.stdout and "rows differ" in done.stdout

"""The dbt Semantic Layer (models/marts/semantic_layer/): `mf query` against the real marts.

Every ratio metric is checked, by day, by week and over the whole history, against ratios of
sums computed in Python from the rows (reference_marts.py), never against the marts. A metric
defined as an average of daily ratios would fail: the data have busy and quiet days, and the
test shows that the average of the daily error rates differs from the metric.
"""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
import uuid
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import run_dbt
from reference_marts import Reference
from test_marts import TIMEZONE, insert, varied_rows

from chat_telemetry import dbt

RATIO_METRICS = (
    "error_rate",
    "off_topic_rate",
    "cache_hit_rate",
    "cost_per_request_usd",
    "empty_result_rate",
    "reask_rate",
    "suggestion_follow_rate",
)
# Answer-quality ratios: (numerator, denominator) columns of the reference's daily rows.
ANSWER_QUALITY_PARTS = {
    "empty_result_rate": ("empty_results", "requests_with_sql"),
    "reask_rate": ("reasked_requests", "failed_or_empty_requests"),
    "suggestion_follow_rate": ("suggestions_followed", "requests_with_suggestions"),
}


def project_environment(db, project: Path) -> dict[str, str]:
    # mf reads <project>/target/semantic_manifest.json: no DBT_TARGET_PATH elsewhere.
    return dbt.environment(db, profiles_dir=project, unset=("DBT_TARGET_PATH",))


def parsed_project(db, destination: Path) -> Path:
    """A copy of the project whose semantic manifest names the test's database (mf reads the
    manifest `dbt parse` wrote; the checkout's may name another database)."""
    from test_marts_over_time import copy_of_project

    project = copy_of_project(destination)
    done = dbt.run(db, "parse", project=project, unset=("DBT_TARGET_PATH",), timeout=300)
    assert done.returncode == 0, done.stdout[-4000:]
    return project


def mf_query(
    built: tuple, tmp_path: Path, metrics: tuple[str, ...], group_by: str | None
) -> list[dict]:
    """Rows of `mf query` (the CLI a user runs), as dicts of strings."""
    db, _reference, project = built
    cache: dict = built_queries.setdefault(id(built), {})
    if (metrics, group_by) in cache:
        return cache[metrics, group_by]
    output = tmp_path / f"{'_'.join(metrics)}_{group_by or 'all'}.csv"
    command = [str(Path(sys.executable).with_name("mf")), "query", "--metrics", ",".join(metrics)]
    if group_by:
        command += ["--group-by", group_by]
    done = subprocess.run(
        [*command, "--csv", str(output)],
        cwd=project,
        env=project_environment(db, project),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0 and output.exists(), done.stdout[-4000:] + done.stderr[-4000:]
    with output.open() as handle:
        cache[metrics, group_by] = list(csv.DictReader(handle))
    return cache[metrics, group_by]


# Query results per built database, so that tests asking the same query run `mf` once.
built_queries: dict[int, dict] = {}


class Sums:
    """Numerators and denominators of the ratio metrics per period, from the reference."""

    def __init__(self, reference: Reference, period) -> None:
        self.parts: dict[str, dict[Any, list[Decimal]]] = {
            name: defaultdict(lambda: [Decimal(0), Decimal(0)]) for name in RATIO_METRICS
        }
        for (day,), row in reference.daily_off_topic().items():
            self.add("off_topic_rate", period(day), row["off_topic_requests"], row["requests"])
            self.add("error_rate", period(day), 0, row["requests"])
        for (day, _type, _step), row in reference.daily_errors().items():
            self.add("error_rate", period(day), row["errors"], 0)
        for (day, _step, _model), row in reference.daily_token_cost().items():
            self.add("cache_hit_rate", period(day), row["cached_input_tokens"], row["input_tokens"])
        for (day, _sql_model), row in reference.daily_answer_quality().items():
            for metric, (numerator, denominator) in ANSWER_QUALITY_PARTS.items():
                self.add(metric, period(day), row[numerator], row[denominator])
        for (day, _user), row in reference.daily_user_usage().items():
            self.add(
                "cost_per_request_usd",
                period(day),
                row["priced_requests_cost_usd"] or 0,
                row["requests"] - row["unpriced_requests"],
            )

    def add(self, metric: str, key: Any, numerator: Any, denominator: Any) -> None:
        self.parts[metric][key][0] += Decimal(numerator)
        self.parts[metric][key][1] += Decimal(denominator)

    def ratio(self, metric: str, key: Any) -> float | None:
        numerator, denominator = self.parts[metric][key]
        return None if denominator == 0 else float(numerator / denominator)


def week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())  # MetricFlow's weeks start on Monday


def assert_close(found: str, expected: float | None, where: str) -> None:
    if expected is None:
        assert found in ("", None), (where, found)
        return
    assert found not in ("", None), (where, found, expected)
    assert abs(float(found) - expected) <= 1e-9 * max(1.0, abs(expected)), (where, found, expected)


@pytest.fixture(scope="module")
def built(server, template_database, tmp_path_factory):
    from conftest import scratch_database

    rng = random.Random(2222)
    users = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(8)]
    # Busy weekdays and quiet weekends over three weeks: daily rates weigh days unequally.
    days = [date(2026, 11, 2) + timedelta(days=offset) for offset in range(19)]
    rows = []
    for day in days:
        rows += varied_rows(rng, users, [day], per_day=80 if day.weekday() < 5 else 12)
    as_of = days[-1]
    with scratch_database(server, template_database) as db:
        insert(db, rows)
        variables = json.dumps({"reporting_timezone": TIMEZONE, "as_of_date": as_of.isoformat()})
        run_dbt(
            db, "build", "--resource-type", "seed", "--resource-type", "model", "--vars", variables
        )
        project = parsed_project(db, tmp_path_factory.mktemp("semantic") / "project")
        yield db, Reference(rows, TIMEZONE, as_of), project


@pytest.mark.parametrize(
    ("group_by", "period"),
    [
        ("metric_time__day", lambda day: day),
        ("metric_time__week", week_of),
        (None, lambda day: "all"),
    ],
    ids=["day", "week", "all history"],
)
def test_ratio_metrics_are_ratios_of_sums_at_every_grain(built, tmp_path, group_by, period):
    _db, reference, _project = built
    sums = Sums(reference, period)
    found = mf_query(built, tmp_path, RATIO_METRICS, group_by)
    expected_keys = set(sums.parts["error_rate"])
    if group_by is None:
        assert len(found) == 1
        keyed = {"all": found[0]}
    else:
        keyed = {date.fromisoformat(row[group_by][:10]): row for row in found}
    assert set(keyed) == expected_keys
    for key, row in keyed.items():
        for metric in RATIO_METRICS:
            assert_close(row[metric], sums.ratio(metric, key), f"{metric} {key}")


def test_an_average_of_daily_error_rates_is_not_the_error_rate(built, tmp_path):
    _db, reference, _project = built
    sums = Sums(reference, lambda day: day)
    daily_rates = [sums.ratio("error_rate", day) for day in sums.parts["error_rate"]]
    average_of_days = sum(rate for rate in daily_rates if rate is not None) / len(daily_rates)
    (whole,) = mf_query(built, tmp_path, RATIO_METRICS, None)
    errors = sum(sums.parts["error_rate"][day][0] for day in sums.parts["error_rate"])
    requests = sum(sums.parts["error_rate"][day][1] for day in sums.parts["error_rate"])
    ratio_of_sums = float(errors / requests)
    assert_close(whole["error_rate"], ratio_of_sums, "error_rate over all history")
    assert abs(average_of_days - ratio_of_sums) > 1e-4, (average_of_days, ratio_of_sums)

"""The marts stay true while production happens to them, with only the plain scheduled build.

Each scenario builds the marts, applies one event of production (a price added or corrected,
a user erased, a row from a skewed clock, raw rows purged, the reporting time zone changed),
runs the plain `dbt run`/`dbt build` a schedule runs (never `--full-refresh` unless the
scenario is about it), and compares every mart with the independent Python computation of
what the marts should now say (reference_marts.py).
"""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
import sys
import uuid
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import connect, run_dbt
from reference_marts import Reference
from test_bootstrap import python_fingerprint
from test_marts import assert_mart_matches, insert, read_mart, varied_rows, with_billing_modes

from chat_telemetry import database

# A dozen dbt builds: `make test-slow` runs them (and .ci/run, after `make test`).
pytestmark = pytest.mark.slow

LOOKBACK_DAYS = 3
DAILY_MARTS_WITHOUT_USERS = ("fct_daily_step_latency", "fct_daily_errors", "fct_daily_off_topic")


def today_in(zone: str) -> date:
    return datetime.now(ZoneInfo(zone)).date()


def rows_until_now(rng: random.Random, users: list[uuid.UUID], days: list[date], per_day: int):
    """Rows on the given UTC days, none later than a minute ago (today is a partial day)."""
    latest = datetime.now(timezone.utc) - timedelta(minutes=1)
    return [row for row in varied_rows(rng, users, days, per_day) if row["created_at"] <= latest]


def skip_if_the_day_changed(as_of: date, zone: str) -> None:
    """Skip a scenario whose builds or commands read the clock after midnight passed in zone
    since it pinned as_of: dbt's run date, the purge's cutoff and "today" moved with it."""
    if today_in(zone) != as_of:
        pytest.skip(f"the day in {zone} changed during the test: it pinned {as_of}")


def rows_of_today_so_far(rng: random.Random, users: list[uuid.UUID], per_day: int, today: date):
    """per_day rows on today (UTC), spread over the part of the day that has passed (up to a
    minute ago), so that a scenario about today keeps its rows just after midnight too;
    none in the first two minutes of the day. `today`: the day the scenario pinned (it is
    skipped if the UTC day is another one by now)."""
    now = datetime.now(timezone.utc)
    if now.date() != today:
        pytest.skip(f"the UTC day changed during the test: it pinned {today}")
    midnight = datetime.combine(now.date(), datetime.min.time(), tzinfo=timezone.utc)
    elapsed = now - timedelta(minutes=1) - midnight
    if elapsed < timedelta(minutes=1):
        return []
    share_of_day = elapsed / timedelta(days=1)
    rows = varied_rows(rng, users, [now.date()], per_day)
    for row in rows:
        row["created_at"] = midnight + (row["created_at"] - midnight) * share_of_day
    return rows


def last_days(count: int, zone: str = "UTC") -> list[date]:
    today = today_in(zone)
    return [today - timedelta(days=offset) for offset in range(count - 1, -1, -1)]


def dbt_vars(zone: str, as_of: date) -> str:
    return json.dumps({"reporting_timezone": zone, "as_of_date": as_of.isoformat()})


def assert_marts_match(db, reference: Reference, only: tuple[str, ...] | None = None) -> None:
    expected = {
        "fct_daily_token_cost": reference.daily_token_cost,
        "fct_daily_step_latency": reference.daily_step_latency,
        "fct_daily_errors": reference.daily_errors,
        "fct_daily_user_usage": reference.daily_user_usage,
        "rpt_user_usage_30d": reference.user_usage_30d,
        "fct_sql_fingerprints": lambda: reference.sql_fingerprints(python_fingerprint),
        "fct_daily_off_topic": reference.daily_off_topic,
        "fct_model_comparison": reference.model_comparison,
        "fct_conversations": reference.conversations,
    }
    for name, compute in expected.items():
        if only is None or name in only:
            assert_mart_matches(db, name, compute())


def build_models(db, *arguments: str, **options):
    """`dbt build` of seeds and models only (data and unit tests run in `make dbt-check`)."""
    return run_dbt(
        db, "build", "--resource-type", "seed", "--resource-type", "model", *arguments, **options
    )


def copy_of_project(destination: Path) -> Path:
    """A copy of the dbt project whose seed a test may edit without touching the checkout."""
    root = database.PROJECT_ROOT
    for folder in ("models", "macros", "seeds", "tests", "analyses"):
        shutil.copytree(
            root / folder, destination / folder, ignore=shutil.ignore_patterns("python")
        )
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(root / name, destination / name)
    return destination


COST_MARTS = ("fct_daily_token_cost", "fct_daily_user_usage")
# The internal models that keep a user_id (rows_of_user reads analytics_internal).
PER_USER_INTERNAL_MODELS = (
    "int_requests_retained",
    "int_requests_sequenced",
    "int_token_usage_aggregated_daily",
    "int_conversation_token_usage_aggregated_daily",
)


def days_rebuilt_before_start(dbt_output: str, mart: str) -> tuple[date | None, list[date]]:
    """The start date and the extra days a cost mart said it rebuilt
    (macros/incremental/repriced_days.sql logs
    `<relation>: rebuilding N day(s) before <start>: <days>`); (None, []) if none."""
    pattern = rf'{mart}"?: rebuilding \d+ day\(s\) before (\S+): ([0-9, -]+)'
    found = re.search(pattern, dbt_output)
    if found is None:
        return None, []
    days = [date.fromisoformat(day.strip()) for day in found.group(2).split(",")]
    return date.fromisoformat(found.group(1)), days


def test_a_price_added_or_corrected_reprices_all_history(fresh_db, tmp_path):
    """Before: only the last lookback_days days were repriced after a seed edit."""
    zone = "UTC"
    rng = random.Random(101)
    users = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(6)]
    rows = rows_until_now(rng, users, last_days(12), per_day=30)
    insert(fresh_db, rows)
    project = copy_of_project(tmp_path / "project")
    as_of = today_in(zone)
    variables = dbt_vars(zone, as_of)
    build_models(fresh_db, "--full-refresh", "--vars", variables, project_dir=project)
    seed = project / "seeds" / "token_prices.csv"
    assert_marts_match(fresh_db, Reference(rows, zone, as_of, prices_csv=seed))

    # A model that had no price gets one from a past valid_from, and a typo is corrected in
    # the base model's row, which also prices its dated snapshot.
    text = seed.read_text()
    old_row = "gpt-4o-mini,default,2024-07-18,,0.15,0.075,,0.60,"
    assert old_row in text
    text = text.replace(old_row, "gpt-4o-mini,default,2024-07-18,,0.17,0.08,,0.66,")
    text += "mystery-model-1,default,2020-01-01,,3.00,1.50,,12.00,,,,,,test: a price added\n"
    seed.write_text(text)
    run_dbt(fresh_db, "build", "--vars", variables, project_dir=project)
    reference = Reference(rows, zone, as_of, prices_csv=seed)
    assert_marts_match(fresh_db, reference)
    old_day = min(row["created_at"] for row in rows).date()
    costs = read_mart(fresh_db, "fct_daily_token_cost")
    assert any(key[0] == old_day and key[2] == "mystery-model-1" and row["total_cost_usd"]
               for key, row in costs.items()), "the oldest day was not repriced"  # fmt: skip


def test_a_seed_edit_reprices_only_the_days_that_used_the_edited_price(fresh_db, tmp_path):
    """Issue 19: a price cut from a date in the past rebuilds exactly the older days that used
    it (and the lookback), a run with nothing changed rebuilds only the lookback, and a run
    that died after the seed load is finished by the next plain run."""
    zone = "America/New_York"  # request days (New York) are not pricing days (UTC)
    rng = random.Random(1919)
    users = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(6)]
    as_of = today_in(zone)
    days = last_days(16)
    rows = rows_until_now(rng, users, days, per_day=30)
    insert(fresh_db, rows)
    project = copy_of_project(tmp_path / "project")
    seed = project / "seeds" / "token_prices.csv"
    variables = dbt_vars(zone, as_of)
    build_models(fresh_db, "--full-refresh", "--vars", variables, project_dir=project)

    unchanged = run_dbt(fresh_db, "build", "--vars", variables, project_dir=project)
    for mart in COST_MARTS:
        assert days_rebuilt_before_start(unchanged.stdout, mart) == (None, []), mart

    # o3 gets a new price from a UTC day ten days ago: its old row now ends there.
    cut = days[-10]
    text = seed.read_text()
    old_row = "o3,default,2025-06-10,,2.00,0.50,,8.00,"
    assert old_row in text
    text = text.replace(old_row, f"o3,default,2025-06-10,{cut},2.00,0.50,,8.00,")
    text += f"o3,default,{cut},,1.60,0.40,,6.40,,,,,,test: a price cut\n"
    seed.write_text(text)
    # The independent mapping of pricing days to request days: the New York day of every row
    # that used o3 on a UTC day on or after the cut.
    touched = {
        row["created_at"].astimezone(ZoneInfo(zone)).date()
        for row in rows
        if row["created_at"].date() >= cut and "o3" in (row["sql_model"], row["response_model"])
    }
    # A run that dies after loading the seed (as if killed before the cost marts)...
    run_dbt(fresh_db, "seed", "--vars", variables, project_dir=project)
    # ...and one that got as far as the first cost mart (only it and its parents selected:
    # the marts' records of applied prices now differ, one query compares them all)...
    first = run_dbt(
        fresh_db, "run", "-s", "+fct_daily_token_cost", "--vars", variables, project_dir=project
    )
    first_start, first_extra = days_rebuilt_before_start(first.stdout, "fct_daily_token_cost")
    assert first_extra == sorted(day for day in touched if day < first_start)
    # ...are finished by the next plain run: the user mart reprices the touched days, the
    # token cost mart, already repriced, only its lookback.
    repriced = run_dbt(fresh_db, "build", "--vars", variables, project_dir=project)
    assert days_rebuilt_before_start(repriced.stdout, "fct_daily_token_cost") == (None, [])
    start, extra = days_rebuilt_before_start(repriced.stdout, "fct_daily_user_usage")
    assert start is not None, "fct_daily_user_usage rebuilt no day before the lookback"
    for mart, mart_start, mart_extra in (
        ("fct_daily_token_cost", first_start, first_extra),
        ("fct_daily_user_usage", start, extra),
    ):
        assert len(mart_extra) >= 5, f"{mart}: the price cut should reach days before the lookback"
        assert mart_extra == sorted(day for day in touched if day < mart_start), mart
        assert all(day >= cut - timedelta(days=1) for day in mart_extra), mart
    assert_marts_match(fresh_db, Reference(rows, zone, as_of, prices_csv=seed))

    again = run_dbt(fresh_db, "build", "--vars", variables, project_dir=project)
    for mart in COST_MARTS:
        assert days_rebuilt_before_start(again.stdout, mart) == (None, []), mart
    assert_marts_match(fresh_db, Reference(rows, zone, as_of, prices_csv=seed))


def test_an_erased_user_leaves_every_per_user_mart_and_every_rebuilt_day(fresh_db):
    """Before: a day inside the lookback made by the erased user alone stayed in the marts."""
    zone = "UTC"
    rng = random.Random(202)
    users = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(5)]
    gone = users[0]
    days = last_days(10)
    only_theirs = days[-2]  # yesterday: inside the lookback, made by the erased user alone
    others = rows_until_now(rng, users[1:], [d for d in days if d != only_theirs], per_day=25)
    theirs = rows_until_now(rng, [gone], [days[0], days[3], only_theirs], per_day=20)
    # Every billing mode, so that forgetting a user also forgets their tiered, cache-write and
    # long-context sums (the token cost rebuilds the days they were forgotten on).
    others, theirs = with_billing_modes(rng, others), with_billing_modes(rng, theirs)
    insert(fresh_db, others + theirs)
    as_of = today_in(zone)
    variables = dbt_vars(zone, as_of)
    build_models(fresh_db, "--full-refresh", "--vars", variables)
    assert (only_theirs,) in read_mart(fresh_db, "fct_daily_off_topic")
    # Who the per-user models hold, from which each run finds the erased: every user.
    assert users_seen(fresh_db) == set(users)

    with connect(fresh_db) as connection:
        connection.execute("delete from auth.users where id = %s", (gone,))
    # A run of one per-user model (and the users seen it depends on) forgets the user there;
    # the others did not run, so the users seen keep them for the next complete run.
    build_models(
        fresh_db, "--vars", variables, "--select", "int_users_seen_daily", "int_requests_retained"
    )
    assert rows_of_user(fresh_db, "int_requests_retained", gone) == 0
    assert rows_of_user(fresh_db, "int_token_usage_aggregated_daily", gone) > 0
    assert gone in users_seen(fresh_db)
    build_models(fresh_db, "--vars", variables)
    assert users_seen(fresh_db) == set(users[1:])

    # Per-user data (and the cost and model marts built from it) forget the user on every day.
    assert_marts_match(
        fresh_db,
        Reference(others, zone, as_of),
        only=(
            "fct_daily_token_cost",
            "fct_daily_user_usage",
            "rpt_user_usage_30d",
            "fct_model_comparison",
        ),
    )
    # Anonymous daily counts rebuild the lookback; older days may keep the contribution.
    start = as_of - timedelta(days=LOOKBACK_DAYS - 1)
    kept = [row for row in theirs if row["created_at"].date() < start]
    assert_marts_match(
        fresh_db,
        Reference(others + kept, zone, as_of),
        only=(*DAILY_MARTS_WITHOUT_USERS, "fct_sql_fingerprints"),
    )
    assert (only_theirs,) not in read_mart(fresh_db, "fct_daily_off_topic")
    assert all(key[1] != gone for key in read_mart(fresh_db, "fct_daily_user_usage"))


def test_a_user_erased_while_a_run_is_under_way_leaves_every_per_user_table(fresh_db, tmp_path):
    """Postgres builds the record of users seen alongside the per-user models. Before: a
    model whose forget hook searched its table before a user was erased kept their rows, the
    record found the user later in the same run and dropped them at its end, so no later run
    looked for them again. The run is made deterministic in a copy of the project: the record
    is built after int_requests_retained and erases the user in a pre-hook."""
    zone = "UTC"
    rng = random.Random(404)
    users = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(4)]
    gone = users[0]
    days = last_days(6)
    rows = rows_until_now(rng, users, days, per_day=20)
    insert(fresh_db, rows)
    as_of = today_in(zone)
    variables = dbt_vars(zone, as_of)
    build_models(fresh_db, "--full-refresh", "--vars", variables)
    assert rows_of_user(fresh_db, "int_requests_retained", gone) > 0

    project = copy_of_project(tmp_path / "project")
    record = project / "models" / "intermediate" / "int_users_seen_daily.sql"
    record.write_text(
        record.read_text()
        + "\n-- depends_on: {{ ref('int_requests_retained') }}\n"
        + "{{ config(pre_hook=\"delete from auth.users where id = '"
        + str(gone)
        + "'\") }}\n"
    )
    # The pre-hook's delete commits with the record's model; its find_erased_users, in the same
    # transaction, sees it first. A hook in the other thread in between searches and still
    # sees the user: that can only add tables that hold them, which no assertion counts.
    run = build_models(fresh_db, "--vars", variables, project_dir=project)
    # The race happened: int_requests_retained searched before the erasure and kept the user,
    # whom the record found; it keeps them for the next run instead of dropping them.
    assert rows_of_user(fresh_db, "int_requests_retained", gone) > 0
    assert gone in users_seen(fresh_db)
    assert "keeps 1 erased user(s) that a per-user table still holds" in run.stdout

    build_models(fresh_db, "--vars", variables)
    for model in PER_USER_INTERNAL_MODELS:
        assert rows_of_user(fresh_db, model, gone) == 0, model
    assert users_seen(fresh_db) == set(users[1:])
    assert_marts_match(
        fresh_db,
        Reference([row for row in rows if row["user_id"] != gone], zone, as_of),
        only=("fct_daily_user_usage", "rpt_user_usage_30d", "fct_conversations"),
    )


def test_a_user_a_run_without_the_record_wrote_is_found_when_erased(fresh_db):
    """A --select of a per-user model without int_users_seen_daily writes a new user; the
    user is erased (raw rows gone by cascade) on a day that model no longer rebuilds. The next
    complete run must still find them: the record reads what that model wrote, not only the
    raw rows."""
    zone = "UTC"
    rng = random.Random(303)
    users = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(4)]
    newcomer = uuid.UUID(int=rng.getrandbits(128), version=4)
    days = last_days(10)
    variables = dbt_vars(zone, today_in(zone))
    # History up to three days ago: the record's newest day, so its own start is D-5.
    insert(fresh_db, rows_until_now(rng, users, days[:-3], per_day=20))
    build_models(fresh_db, "--full-refresh", "--vars", variables)
    # The newcomer on D-3 and today, written by a run of one per-user model only: its newest
    # day becomes today, so its next run rebuilds from D-2 and no longer touches D-3.
    insert(fresh_db, rows_until_now(rng, [newcomer], [days[-4], days[-1]], per_day=5))
    build_models(fresh_db, "--vars", variables, "--select", "int_requests_retained")
    assert rows_of_user(fresh_db, "int_requests_retained", newcomer) > 0
    assert newcomer not in users_seen(fresh_db)

    with connect(fresh_db) as connection:
        connection.execute("delete from auth.users where id = %s", (newcomer,))
    build_models(fresh_db, "--vars", variables)
    assert rows_of_user(fresh_db, "int_requests_retained", newcomer) == 0
    assert newcomer not in users_seen(fresh_db)


def users_seen(db) -> set[uuid.UUID]:
    """The users of int_users_seen_daily (the record of who the per-user models hold)."""
    with connect(db) as connection:
        query = "select distinct user_id from analytics_internal.int_users_seen_daily"
        return {row[0] for row in connection.execute(query).fetchall()}


def rows_of_user(db, model: str, user_id: uuid.UUID) -> int:
    """Rows of a user in one of the internal per-user models."""
    with connect(db) as connection:
        query = f"select count(*) from analytics_internal.{model} where user_id = %s"
        return int(connection.execute(query, (user_id,)).fetchone()[0])


def test_a_row_from_a_skewed_clock_is_in_no_mart_and_new_rows_still_count(fresh_db):
    """Before: a row from 2099 moved the incremental start to 2098 and nothing new counted."""
    zone = "UTC"
    rng = random.Random(303)
    users = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(4)]
    days = last_days(5)
    rows = rows_until_now(rng, users, days[:-1], per_day=25)
    skewed = dict(rows_until_now(rng, users, [days[0]], per_day=1)[0])
    skewed.update(log_id=uuid.uuid4(), created_at=datetime(2099, 1, 1, 12, tzinfo=timezone.utc))
    insert(fresh_db, [*rows, skewed])
    as_of = today_in(zone)
    variables = dbt_vars(zone, as_of)
    build_models(fresh_db, "--full-refresh", "--vars", variables)

    new_rows = rows_until_now(rng, users, days[-2:], per_day=20)
    insert(fresh_db, new_rows)
    build_models(fresh_db, "--vars", variables)
    trusted = datetime.now(timezone.utc) + timedelta(hours=1)
    reference = Reference(rows + new_rows + [skewed], zone, as_of, latest_trusted_at=trusted)
    assert len(reference.rows) == len(rows) + len(new_rows)
    assert_marts_match(fresh_db, reference)

    warned = run_dbt(
        fresh_db, "test", "--select", "assert_no_telemetry_from_the_future", "--vars", variables
    )
    assert "WARN 1 assert_no_telemetry_from_the_future" in warned.stdout, warned.stdout[-2000:]


def purge_command(db, *arguments: str) -> subprocess.CompletedProcess[str]:
    environ = {key: value for key, value in db.env().items()}
    environ["PATH"] = str(Path(sys.executable).parent)
    return subprocess.run(
        [sys.executable, "-m", "chat_telemetry", "purge", *arguments],
        cwd=database.PROJECT_ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_purged_raw_rows_leave_mart_history_intact(fresh_db):
    """Before: the post-hook took "no raw rows any more" for "deleted" and dropped real users."""
    zone = "UTC"
    rng = random.Random(404)
    users = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(5)]
    days = last_days(20)
    rows = rows_until_now(rng, users[1:], days, per_day=20)
    old_timer = rows_until_now(rng, users[:1], days[:3], per_day=15)  # only in purged days
    insert(fresh_db, rows + old_timer)
    as_of = today_in(zone)
    variables = dbt_vars(zone, as_of)
    build_models(fresh_db, "--full-refresh", "--vars", variables)

    refused = purge_command(fresh_db, "--older-than-days", "5")
    assert refused.returncode == 2 and "below 10" in refused.stderr, refused.stderr
    dry = purge_command(fresh_db, "--older-than-days", "12", "--dry-run")
    cutoff = datetime.combine(as_of - timedelta(days=12), datetime.min.time(), timezone.utc)
    purged = [row for row in rows + old_timer if row["created_at"] < cutoff]
    done = purge_command(fresh_db, "--older-than-days", "12", "--batch-size", "50")
    skip_if_the_day_changed(as_of, zone)  # each purge dates its cutoff by its own clock
    assert dry.returncode == 0 and f"would delete {len(purged):,} raw" in dry.stdout, dry.stdout
    assert done.returncode == 0 and f"deleted {len(purged):,} raw" in done.stdout, done.stdout
    with connect(fresh_db) as connection:
        remaining = connection.execute(
            "select count(*), min(created_at) from public.chat_telemetry_log"
        ).fetchone()
        watermark = connection.execute(
            "select purged_before, rows_deleted from public.chat_telemetry_purges"
        ).fetchall()
    assert remaining[0] == len(rows) + len(old_timer) - len(purged) and remaining[1] >= cutoff
    assert watermark == [(cutoff, len(purged))]

    run_dbt(fresh_db, "build", "--vars", variables)
    assert_marts_match(fresh_db, Reference(rows + old_timer, zone, as_of))

    refusal = build_models(fresh_db, "--full-refresh", "--vars", variables, expect_failure=True)
    assert "Refusing --full-refresh" in refusal.stdout and "allow_history_loss" in refusal.stdout
    assert_marts_match(fresh_db, Reference(rows + old_timer, zone, as_of))


def built_then_purged(db, seed: int) -> tuple[list[dict], str, date, str]:
    """20 days of rows of 5 users, a full build in UTC, then the raw rows of the 8 oldest
    days purged: (rows, zone, as_of, dbt vars), the start of the upgrade scenarios."""
    zone = "UTC"
    rng = random.Random(seed)
    users = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(5)]
    rows = rows_until_now(rng, users, last_days(20), per_day=20)
    insert(db, rows)
    as_of = today_in(zone)
    variables = dbt_vars(zone, as_of)
    build_models(db, "--full-refresh", "--vars", variables)
    done = purge_command(db, "--older-than-days", "12")
    assert done.returncode == 0, done.stderr
    return rows, zone, as_of, variables


def test_upgrading_to_billing_modes_after_a_purge_keeps_every_cost(fresh_db):
    """Issue 18's upgrade path: sums built before the billing-mode columns existed (NULL tier,
    long-context flag and cache writes, as `append_new_columns` leaves them), no record of
    applied prices and no table of the models used, raw rows already purged. The plain build
    prices every day, purged ones too, as default tier and short context."""
    rows, zone, as_of, variables = built_then_purged(fresh_db, seed=1818)
    with connect(fresh_db) as connection:
        connection.execute(
            """
            update analytics_internal.int_token_usage_aggregated_daily
            set sql_service_tier = null, response_service_tier = null,
                is_sql_long_context = null, is_response_long_context = null,
                sql_long_context_threshold_tokens = null,
                response_long_context_threshold_tokens = null,
                sql_cache_write_input_tokens = null, response_cache_write_input_tokens = null
            """
        )
        for table in (
            "int_model_tiers_used_daily",
            "fct_daily_token_cost__applied_prices",
            "fct_daily_user_usage__applied_prices",
        ):
            connection.execute(f"drop table analytics_internal.{table} cascade")
    upgraded = run_dbt(fresh_db, "build", "--vars", variables)
    assert "no record of the prices applied: repricing every day" in upgraded.stdout
    assert_marts_match(fresh_db, Reference(rows, zone, as_of), only=COST_MARTS)
    costs = read_mart(fresh_db, "fct_daily_token_cost")
    purged_day = min(row["created_at"] for row in rows).date()
    assert any(key[0] == purged_day and row["total_cost_usd"] for key, row in costs.items())


def test_a_cost_mart_built_before_its_newest_column_reprices_every_day_once(fresh_db):
    """fct_daily_token_cost as a version before unpriced_model_requests left it, raw rows of
    the oldest days purged: the plain build adds the column to every day (purged ones too,
    from the retained token sums), and the unpriced_model alert, which now reads it, counts
    the steps with no price in force exactly as the reference does."""
    rows, zone, as_of, variables = built_then_purged(fresh_db, seed=1206)
    with connect(fresh_db) as connection:
        # cascade: the alert views that read the mart go too, as dbt's own drop would take them
        connection.execute(
            "alter table analytics.fct_daily_token_cost drop column unpriced_model_requests cascade"
        )
    upgraded = run_dbt(fresh_db, "build", "--vars", variables)
    assert "built before column(s) unpriced_model_requests existed" in upgraded.stdout
    reference = Reference(rows, zone, as_of)
    assert_marts_match(fresh_db, reference, only=COST_MARTS)
    # Once: the next run finds the column and rebuilds its lookback only.
    again = build_models(fresh_db, "--vars", variables)
    assert "built before column(s)" not in again.stdout
    assert "repricing every day" not in again.stdout
    assert_marts_match(fresh_db, reference, only=COST_MARTS)

    unpriced_steps: Counter[tuple[date, str]] = Counter(
        (reference.local_day(step.request["created_at"]), step.model)
        for step in reference.steps()
        if not step.has_price
    )
    expected = {
        key: count
        for key, count in unpriced_steps.items()
        if as_of - timedelta(days=30) <= key[0] < as_of
    }
    purged_day = min(row["created_at"] for row in rows).date()
    assert any(day == purged_day for day, _ in expected), "the purged days hold unpriced steps"
    # rpt_alerts ends on the day its run started (no var pins it), checked after the builds.
    skip_if_the_day_changed(as_of, zone)
    with connect(fresh_db) as connection:
        alerts = connection.execute(
            "select alert_date, subject, observed from analytics.rpt_alerts"
            " where rule = 'unpriced_model'"
        ).fetchall()
    assert {(day, model): int(observed) for day, model, observed in alerts} == expected


def test_changing_the_reporting_time_zone_fails_clearly_then_rebuilds_every_day(fresh_db):
    """Before: only the lookback moved to the new zone and the boundary day double-counted."""
    rng = random.Random(505)
    users = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(4)]
    rows = rows_until_now(rng, users, last_days(8), per_day=30)
    insert(fresh_db, rows)
    utc_as_of = today_in("UTC")
    build_models(fresh_db, "--full-refresh", "--vars", dbt_vars("UTC", utc_as_of))
    assert_marts_match(fresh_db, Reference(rows, "UTC", utc_as_of))

    new_zone = "America/New_York"
    as_of = today_in(new_zone)
    failed = run_dbt(fresh_db, "build", "--vars", dbt_vars(new_zone, as_of), expect_failure=True)
    for needle in ("reporting_timezone", "'UTC'", f"'{new_zone}'", "dbt build --full-refresh"):
        assert needle in failed.stdout, (needle, failed.stdout[-3000:])
    assert_marts_match(fresh_db, Reference(rows, "UTC", utc_as_of))  # nothing was built

    build_models(fresh_db, "--full-refresh", "--vars", dbt_vars(new_zone, as_of))
    assert_marts_match(fresh_db, Reference(rows, new_zone, as_of))
    # Yesterday and today: today alone holds no row in the first minutes after midnight UTC.
    more = rows_until_now(rng, users, last_days(2), per_day=15)
    insert(fresh_db, more)
    build_models(fresh_db, "--vars", dbt_vars(new_zone, as_of))
    assert_marts_match(fresh_db, Reference(rows + more, new_zone, as_of))


def settling_boundary(db) -> date | None:
    with connect(db) as connection:
        found = connection.execute(
            "select max(settled_before_date) from analytics_internal.int_sql_fingerprints_settled"
        ).fetchone()
    return None if found is None else found[0]


def test_all_time_fingerprints_settle_day_by_day_and_survive_the_newest_day_vanishing(fresh_db):
    """Issue 19: fct_sql_fingerprints adds settled totals and the unsettled days, not every
    daily row. The boundary moves forward as new days arrive (late rows of a day about to
    settle are in its totals), and back when the newest day vanishes (its only user erased):
    a fingerprint of the day that is unsettled again is then counted once, not twice."""
    zone = "UTC"
    rng = random.Random(1990)
    users = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(5)]
    gone = users[0]
    today = today_in(zone)
    days = last_days(13)
    variables = dbt_vars(zone, today)

    # 1. Full build over days up to four days ago: days before today-6 are settled.
    rows = rows_until_now(rng, users[1:], days[:-4], per_day=20)
    insert(fresh_db, rows)
    build_models(fresh_db, "--full-refresh", "--vars", variables)
    assert settling_boundary(fresh_db) == today - timedelta(days=4 + LOOKBACK_DAYS - 1)
    assert_marts_match(fresh_db, Reference(rows, zone, today), only=("fct_sql_fingerprints",))

    # 2. Two new days, one of them with a SQL seen on no other day, and a late row of the day
    # about to settle: the boundary moves forward and the late row is in the settled totals.
    new_days = rows_until_now(rng, users[1:], [today - timedelta(days=3)], per_day=20)
    new_days += rows_until_now(rng, users[1:], [today - timedelta(days=2)], per_day=20)
    one_day_sql = "select 'seen on one day only' from t"
    for row in new_days[:3]:
        row["generated_sql"] = one_day_sql
    late = rows_until_now(rng, users[1:], [today - timedelta(days=5)], per_day=2)
    insert(fresh_db, new_days + late)
    rows += new_days + late
    build_models(fresh_db, "--vars", variables)
    assert settling_boundary(fresh_db) == today - timedelta(days=2 + LOOKBACK_DAYS - 1)
    assert_marts_match(fresh_db, Reference(rows, zone, today), only=("fct_sql_fingerprints",))

    # 3. Today, made by one user alone: the boundary reaches today - 2, so the day with the
    # one-day SQL (today - 3) is settled.
    theirs = rows_of_today_so_far(rng, [gone], per_day=15, today=today)
    if not theirs:  # the first two minutes after midnight UTC
        pytest.skip("no minute of today has passed yet")
    insert(fresh_db, theirs)
    build_models(fresh_db, "--vars", variables)
    assert settling_boundary(fresh_db) == today - timedelta(days=LOOKBACK_DAYS - 1)
    assert_marts_match(
        fresh_db, Reference(rows + theirs, zone, today), only=("fct_sql_fingerprints",)
    )

    # 4. Their erasure empties today: the newest day is today - 2 (yesterday has no row), the
    # boundary moves back two days and the totals are recomputed, so today - 3 is counted once.
    with connect(fresh_db) as connection:
        connection.execute("delete from auth.users where id = %s", (gone,))
    build_models(fresh_db, "--vars", variables)
    assert settling_boundary(fresh_db) == today - timedelta(days=2 + LOOKBACK_DAYS - 1)
    assert_marts_match(fresh_db, Reference(rows, zone, today), only=("fct_sql_fingerprints",))
    fingerprints = read_mart(fresh_db, "fct_sql_fingerprints")
    assert fingerprints[(python_fingerprint(one_day_sql),)]["occurrences"] == 3


# The views built by macros/materializations/stable_view.sql, by schema.
STABLE_VIEWS = {
    "metricflow_time_spine": "analytics",
    "stg_auth__users": "analytics_internal",
    "stg_chat_telemetry__requests": "analytics_internal",
    "int_token_prices_matched": "analytics_internal",
    "int_token_usage_priced": "analytics_internal",
    "int_conversation_token_usage_priced": "analytics_internal",
    "int_alert_daily_metrics": "analytics_internal",
}


def view_oids(db) -> dict[str, int]:
    """The object id of each stable view (a view created again gets a new one)."""
    with connect(db) as connection:
        found = connection.execute(
            "select c.relname, c.oid::bigint from pg_class as c"
            " join pg_namespace as n on n.oid = c.relnamespace"
            " where c.relkind = 'v' and (n.nspname, c.relname) in"
            " (select * from unnest(%s::text[], %s::text[]))",
            (list(STABLE_VIEWS.values()), list(STABLE_VIEWS)),
        ).fetchall()
    return dict(found)


def response_codes(project: Path) -> dict[str, str]:
    """Each model's adapter response code in the last run (UNCHANGED: a view kept as it was)."""
    results = json.loads((project / "target" / "pytest" / "run_results.json").read_text())
    return {
        entry["unique_id"].rsplit(".", 1)[-1]: entry["adapter_response"].get("code")
        for entry in results["results"]
        if entry["unique_id"].startswith("model.")
    }


def test_a_stable_view_is_replaced_only_when_its_definition_changes(fresh_db, tmp_path):
    """Issue 19: a scheduled run leaves the views whose definition did not change as they are
    (no statement on them: a fixed cost of every run), and replaces a view whose SQL, or the
    code of a model upstream of it, changed, one that was dropped, one whose recorded
    fingerprint is not its own, and every view on --full-refresh. The marts stay true."""
    zone = "America/New_York"
    rng = random.Random(2222)
    users = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(4)]
    as_of = today_in(zone)
    rows = rows_until_now(rng, users, last_days(6), per_day=20)
    insert(fresh_db, rows)
    project = copy_of_project(tmp_path / "project")
    variables = dbt_vars(zone, as_of)
    build_models(fresh_db, "--full-refresh", "--vars", variables, project_dir=project)
    built = view_oids(fresh_db)
    assert set(built) == set(STABLE_VIEWS)

    # Nothing changed but the rows: every stable view is kept (same object) and reads the new
    # rows, the BI grant of the time spine (a post-hook, revoked here) runs again, the plain
    # views are created again as dbt always does.
    late = rows_until_now(rng, users, last_days(2), per_day=5)
    insert(fresh_db, late)
    rows += late
    with connect(fresh_db) as connection:
        connection.execute("revoke select on analytics.metricflow_time_spine from bi_reader")
    run_dbt(fresh_db, "run", "--vars", variables, project_dir=project)
    codes = response_codes(project)
    assert {name: codes[name] for name in STABLE_VIEWS} == dict.fromkeys(STABLE_VIEWS, "UNCHANGED")
    assert codes["int_requests_dated"] != "UNCHANGED"  # a plain view (run-time cutoff in its SQL)
    assert view_oids(fresh_db) == built
    with connect(fresh_db) as connection:
        granted = connection.execute(
            "select has_table_privilege('bi_reader', 'analytics.metricflow_time_spine', 'select')"
        ).fetchone()
    assert granted == (True,)
    assert_marts_match(fresh_db, Reference(rows, zone, as_of))

    # The code of a model upstream of int_token_usage_priced changes (a comment is enough):
    # the views downstream of it are replaced (the priced sums, and the alert metrics that
    # read the cost mart built from them); so is the time spine, whose own SQL changed; the
    # others, the conversation sums among them, are kept.
    upstream = project / "models" / "intermediate" / "int_token_usage_aggregated_daily.sql"
    upstream.write_text(upstream.read_text() + "\n-- test: an upstream change\n")
    spine = project / "models" / "marts" / "semantic_layer" / "metricflow_time_spine.sql"
    spine.write_text(spine.read_text() + "\n-- test: a change of its own SQL\n")
    run_dbt(fresh_db, "run", "--vars", variables, project_dir=project)
    codes, oids = response_codes(project), view_oids(fresh_db)
    downstream = {"int_token_usage_priced", "int_alert_daily_metrics", "metricflow_time_spine"}
    assert {name: codes[name] for name in downstream} == dict.fromkeys(downstream, "CREATE VIEW")
    assert all(oids[name] != built[name] for name in downstream)
    kept = set(STABLE_VIEWS) - downstream
    assert {name: codes[name] for name in kept} == dict.fromkeys(kept, "UNCHANGED")
    assert {name: oids[name] for name in kept} == {name: built[name] for name in kept}
    built = oids

    # A dropped view (and, by cascade, the priced views that read it) and a view whose
    # recorded fingerprint is not its own are created again; the marts stay true.
    with connect(fresh_db) as connection:
        connection.execute("drop view analytics_internal.int_token_prices_matched cascade")
        connection.execute(
            "comment on view analytics_internal.stg_auth__users"
            " is 'chat_telemetry stable_view 00000000000000000000000000000000'"
        )
    run_dbt(fresh_db, "run", "--vars", variables, project_dir=project)
    codes, oids = response_codes(project), view_oids(fresh_db)
    replaced = {
        "int_token_prices_matched",
        "int_token_usage_priced",
        "int_conversation_token_usage_priced",
        "stg_auth__users",
    }
    assert {name: codes[name] for name in replaced} == dict.fromkeys(replaced, "CREATE VIEW")
    assert all(oids[name] != built[name] for name in replaced)
    assert set(oids) == set(STABLE_VIEWS)
    assert_marts_match(fresh_db, Reference(rows, zone, as_of))

    # --full-refresh replaces a stable view whatever its fingerprint.
    run_dbt(
        fresh_db, "run", "--full-refresh", "-s", "metricflow_time_spine", "--vars", variables,
        project_dir=project,
    )  # fmt: skip
    assert response_codes(project)["metricflow_time_spine"] == "CREATE VIEW"
    assert view_oids(fresh_db)["metricflow_time_spine"] != oids["metricflow_time_spine"]

"""The demo workload: deterministic, faithful to the traces it claims, loadable end to end."""

from __future__ import annotations

import dataclasses
import itertools
import statistics
from collections import Counter
from datetime import date
from decimal import Decimal

import pytest
from conftest import connect, run_dbt
from test_bootstrap import python_fingerprint

from chat_telemetry import summary
from chat_telemetry.workload import generator, sources
from chat_telemetry.workload.generator import WorkloadGenerator, WorkloadSettings
from chat_telemetry.workload.loader import load_workload

END = date(2026, 11, 1)


@pytest.fixture(scope="module")
def workload():
    settings = WorkloadSettings(days=14, requests_per_day=800, users=200, seed=3, end_date=END)
    return WorkloadGenerator(settings).generate()


def test_the_same_seed_gives_the_same_workload_and_another_seed_does_not():
    settings = WorkloadSettings(days=2, requests_per_day=200, users=30, seed=5, end_date=END)
    first = [dataclasses.asdict(r) for r in WorkloadGenerator(settings).iter_records()]
    again = [dataclasses.asdict(r) for r in WorkloadGenerator(settings).iter_records()]
    other = [
        dataclasses.asdict(r)
        for r in WorkloadGenerator(dataclasses.replace(settings, seed=6)).iter_records()
    ]
    assert first == again
    assert first != other


def test_token_medians_follow_the_azure_traces(workload):
    data = sources.load()
    sql_inputs = [r.sql_input_tokens for r in workload.records if r.sql_input_tokens is not None]
    response_outputs = [
        r.response_output_tokens for r in workload.records if r.response_output_tokens is not None
    ]
    trace_sql_inputs = statistics.median(pair.input_tokens for pair in data.sql_step_tokens)
    trace_response_outputs = statistics.median(
        pair.output_tokens for pair in data.response_step_tokens
    )
    assert trace_sql_inputs == 1469  # the code trace's context median (shared/ MANIFEST)
    assert trace_response_outputs == 129  # the conversation trace's generated median
    assert abs(statistics.median(sql_inputs) / trace_sql_inputs - 1) < 0.1
    assert abs(statistics.median(response_outputs) / trace_response_outputs - 1) < 0.1
    cached_share = sum(r.sql_cached_tokens or 0 for r in workload.records) / sum(sql_inputs)
    assert 0.15 < cached_share < 0.5  # Mooncake: 36.6% of blocks repeat an earlier one


def test_error_and_off_topic_rates_are_near_their_settings(workload):
    records = workload.records
    off_topic = sum(r.is_off_topic for r in records) / len(records)
    on_topic = [r for r in records if not r.is_off_topic]
    errors = sum(r.error_type is not None for r in on_topic) / len(on_topic)
    assert abs(off_topic - 0.06) < 0.01
    assert abs(errors - 0.045) < 0.01
    kinds = Counter((r.error_type, r.failed_step) for r in on_topic if r.error_type)
    assert {kind for kind, _ in kinds} == {
        "sql_generation", "sql_validation", "sql_execution", "response_generation", "unexpected",
    }  # fmt: skip
    # A step that never ran leaves its columns empty.
    for record in on_topic:
        if record.error_type in ("sql_generation", "sql_validation", "sql_execution"):
            assert record.response_generation_duration_ms is None
            assert record.ai_response is None
        if record.error_type == "sql_generation":
            assert record.generated_sql is None


def test_the_workload_bills_in_every_mode_the_seed_prices(workload):
    """Issue 18: flex and priority tiers (from the seed's tier prices on), cache writes on
    gpt-5.6 models only, and long-context calls over the 272k threshold."""
    responses = [r for r in workload.records if r.response_input_tokens is not None]
    tiers = Counter(r.response_service_tier for r in responses)
    assert tiers["flex"] > 0 and tiers["priority"] > 0 and tiers[None] > len(responses) / 2
    assert all(
        r.created_at.date() >= generator.TIER_PRICES_FROM
        for r in responses
        if r.response_service_tier in ("flex", "priority")
    )
    assert all(
        r.response_model.startswith(("gpt-5", "o3", "o4-mini"))
        for r in responses
        if r.response_service_tier == "flex"
    )
    writes = [r for r in responses if r.response_cache_write_tokens]
    assert writes and all(r.response_model.startswith("gpt-5.6") for r in writes)
    assert all(
        (r.response_cached_tokens or 0) + (r.response_cache_write_tokens or 0)
        <= r.response_input_tokens
        for r in responses
    )
    long_calls = [r for r in responses if r.response_input_tokens > 272_000]
    assert long_calls and {r.response_model for r in long_calls} <= {"gpt-5.4", "gpt-5.6-terra"}


def test_fingerprints_repeat_and_a_few_users_make_most_requests(workload):
    fingerprints = Counter(
        python_fingerprint(r.generated_sql) for r in workload.records if r.generated_sql
    )
    assert sum(1 for count in fingerprints.values() if count >= 20) >= 10
    per_user = sorted(Counter(r.user_id for r in workload.records).values(), reverse=True)
    top_fifth = sum(per_user[: len(per_user) // 5])
    assert top_fifth / sum(per_user) > 0.5


def test_models_include_snapshots_and_one_the_price_seed_does_not_know(workload):
    models = Counter(r.sql_model for r in workload.records) + Counter(
        r.response_model for r in workload.records if r.response_model
    )
    assert "gpt-4o-mini-2024-07-18" in models
    assert "gpt-4.1-mini-2025-04-14" in models
    assert any(model.startswith("ft:") for model in models)


def test_weekends_are_quieter_and_latencies_are_consistent(workload):
    per_weekday = Counter(r.created_at.weekday() for r in workload.records)
    assert per_weekday[5] + per_weekday[6] < 0.7 * (per_weekday[0] + per_weekday[1])
    for record in workload.records:
        if record.error_type is None and record.ttfb_ms is not None:
            before = (record.nl_to_sql_duration_ms or 0) + (record.sql_execution_duration_ms or 0)
            assert before < record.ttfb_ms < before + record.response_generation_duration_ms + 41


def test_loading_creates_every_user_and_conversation_it_refers_to(fresh_db):
    settings = WorkloadSettings(days=2, requests_per_day=300, users=25, seed=4, end_date=END)
    result = load_workload(fresh_db.conninfo(), settings, quiet=True)
    assert sum(result.writer_stats["dropped"].values()) == 0
    with connect(fresh_db) as connection:
        total, orphan_users, orphan_conversations, without_conversation = connection.execute(
            """
            select count(*),
                   count(*) filter (where u.id is null),
                   count(*) filter (where t.conversation_id is not null
                                    and c.conversation_id is null),
                   count(*) filter (where t.conversation_id is null)
            from public.chat_telemetry_log as t
            left join auth.users as u on u.id = t.user_id
            left join public.chat_conversations as c on c.conversation_id = t.conversation_id
            """
        ).fetchone()
    assert total == result.requests == result.writer_stats["written"]
    assert (orphan_users, orphan_conversations, without_conversation) == (0, 0, 0)


def test_a_small_demo_end_to_end_and_its_summary_agrees_with_the_marts(fresh_db):
    settings = WorkloadSettings(days=3, requests_per_day=250, users=30, seed=8, end_date=END)
    load_workload(fresh_db.conninfo(), settings, quiet=True)
    run_dbt(fresh_db, "build", "--vars", f"{{as_of_date: '{END.isoformat()}'}}")
    sections = {
        section.title: section
        for section in summary.collect(fresh_db.conninfo(), as_role="bi_reader")
    }
    with connect(fresh_db) as connection:
        cost_by_day = dict(
            connection.execute(
                "select request_date, round(sum(total_cost_usd), 4) "
                "from analytics.fct_daily_token_cost group by request_date"
            ).fetchall()
        )
        requests, off_topic = connection.execute(
            "select sum(requests), sum(off_topic_requests) from analytics.fct_daily_off_topic"
        ).fetchone()
        top = connection.execute(
            "select occurrences from analytics.fct_sql_fingerprints "
            "order by occurrences desc, sql_fingerprint limit 5"
        ).fetchall()
        raw_requests = connection.execute(
            "select count(*) from public.chat_telemetry_log"
        ).fetchone()[0]
        empty_top = connection.execute(
            "select empty_results from analytics.fct_sql_fingerprints where empty_results > 0 "
            "order by empty_results desc, sql_fingerprint limit 5"
        ).fetchall()
        quality = dict(
            connection.execute(
                "select request_date, sum(empty_results) "
                "from analytics.fct_daily_answer_quality group by request_date"
            ).fetchall()
        )
    cost = next(s for title, s in sections.items() if title.startswith("Cost per day"))
    assert {row[0]: row[2] for row in cost.rows} == cost_by_day
    assert all(isinstance(row[2], Decimal) for row in cost.rows)
    off = next(s for title, s in sections.items() if title.startswith("Off-topic"))
    assert off.rows[0][:2] == (requests, off_topic)
    assert requests == raw_requests
    fingerprints = next(s for title, s in sections.items() if title.startswith("Top 5"))
    assert [row[0] for row in fingerprints.rows] == [row[0] for row in top]
    by_empty = next(s for title, s in sections.items() if "by empty results" in title)
    assert [row[0] for row in by_empty.rows] == [row[0] for row in empty_top] and empty_top
    answers = next(s for title, s in sections.items() if title.startswith("Answer quality"))
    assert answers.rows and all(row[2] == quality[row[0]] for row in answers.rows)
    latency = next(s for title, s in sections.items() if title.startswith("Step latency"))
    assert [row[1] for row in latency.rows] == [
        "nl_to_sql", "sql_execution", "response_generation", "ttfb",
    ]  # fmt: skip
    rendered = summary.render(list(sections.values()))
    assert "Model comparison" in rendered and "gpt-4o-mini" in rendered


def test_users_ask_again_after_bad_answers_and_take_suggestions(workload):
    """Answer quality has something to measure: failed or empty answers re-asked within the
    5-minute window (not all), and suggestions taken, some only equal once normalised."""
    from reference_marts import normalise

    by_conversation: dict = {}
    for record in workload.records:
        by_conversation.setdefault(record.conversation_id, []).append(record)
    bad = reasked = good = quick_after_good = 0
    offered = followed = followed_only_normalised = 0
    for records in by_conversation.values():
        records.sort(key=lambda r: r.created_at)
        for earlier, later in itertools.pairwise(records):
            empty = (
                earlier.generated_sql is not None
                and earlier.error_type is None
                and earlier.result_row_count == 0
            )
            quick = (later.created_at - earlier.created_at).total_seconds() <= 300
            if earlier.error_type is not None or empty:
                bad += 1
                reasked += quick
            else:
                good += 1
                quick_after_good += quick
            if earlier.follow_up_suggestions:
                offered += 1
                if normalise(later.user_question) in map(normalise, earlier.follow_up_suggestions):
                    followed += 1
                    followed_only_normalised += (
                        later.user_question not in earlier.follow_up_suggestions
                    )
    # Bursty traffic puts many next turns within 5 minutes anyway; bad answers, more so.
    assert reasked / bad > quick_after_good / good + 0.15, (reasked, bad, quick_after_good, good)
    assert reasked < bad
    # Of the answers with suggestions that got a next turn in their conversation.
    assert 0.1 < followed / offered < 0.7, (followed, offered)
    assert followed_only_normalised > 0

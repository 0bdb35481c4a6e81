"""Property-based: arbitrary values in every field never make persist raise, and every
repairable record lands exactly once. Also the helpers the backend uses (usage, timer)."""

from __future__ import annotations

import time
import uuid

import pytest
from conftest import connect, make_user
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telemetry_writer import StepTimer, TelemetryRecord, TelemetryWriter, TokenUsage
from telemetry_writer.record import RECORD_FIELDS
from writer_fixtures import balanced_books  # noqa: F401  (autouse: the books balance)

# Anything a buggy backend could put in a field: text with NULs and lone surrogates, huge and
# negative numbers, floats, NaN, booleans, nested lists and dicts, bytes, dates.
ANY_VALUE = st.recursive(
    st.none()
    | st.text()
    | st.integers()
    | st.floats()
    | st.booleans()
    | st.binary(max_size=20)
    | st.datetimes()
    | st.uuids().map(str),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
OPTIONAL_FIELDS = [name for name in RECORD_FIELDS if name not in ("user_id", "user_question")]


@pytest.fixture(scope="module")
def property_writer(shared_db):
    writer = TelemetryWriter(shared_db.conninfo(), flush_interval_s=0.01, batch_size=50)
    yield writer
    writer.close(10)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    question=st.text(min_size=1),
    fields=st.fixed_dictionaries({}, optional={name: ANY_VALUE for name in OPTIONAL_FIELDS}),
)
def test_arbitrary_fields_never_raise_and_repairable_records_land_once(
    shared_db, property_writer, question, fields
):
    user_id = make_user(shared_db)
    record = TelemetryRecord(user_id=user_id, user_question=question)
    for name, value in fields.items():
        setattr(record, name, value)
    property_writer.persist(record)
    assert property_writer.flush(20)
    cleaned = question.replace("\x00", "")
    with connect(shared_db) as connection:
        (count,) = connection.execute(
            "select count(*) from public.chat_telemetry_log where user_id = %s", (user_id,)
        ).fetchone()
    # A record is repairable when it has a user and a question left after removing NULs.
    assert count == (1 if cleaned else 0), property_writer.stats()


@settings(max_examples=200, deadline=None)
@given(
    user_id=ANY_VALUE,
    question=ANY_VALUE,
    fields=st.dictionaries(st.sampled_from(OPTIONAL_FIELDS), ANY_VALUE),
)
def test_persist_never_raises_whatever_the_record(user_id, question, fields):
    writer = TelemetryWriter("host=/nonexistent dbname=none", max_queue_size=5)
    try:
        record = TelemetryRecord(user_id=user_id, user_question=question)
        for name, value in fields.items():
            setattr(record, name, value)
        writer.persist(record)
        writer.persist(fields)
        writer.persist(question)
    finally:
        writer.close(0)
    stats = writer.stats()
    assert stats["enqueued"] + stats["dropped"]["invalid"] + stats["dropped"]["queue_full"] >= 2


def test_usage_from_the_responses_api_shape():
    usage = {
        "input_tokens": 1800,
        "output_tokens": 42,
        "input_tokens_details": {"cached_tokens": 1024},
    }
    assert TokenUsage.from_openai(usage) == TokenUsage(1800, 42, 1024, 0)


def test_usage_with_cache_writes_and_the_served_tier():
    """gpt-5.6 reports prompt-cache writes beside cached tokens; both are part of the input.
    The tier is the one the response says served it (an SDK enum or text)."""

    class Tier:
        value = "priority"

    usage = {
        "input_tokens": 5000,
        "output_tokens": 300,
        "input_tokens_details": {"cached_tokens": 1024, "cache_write_tokens": 2048},
    }
    assert TokenUsage.from_openai(usage) == TokenUsage(5000, 300, 1024, 2048)
    record = TelemetryRecord(user_id=uuid.uuid4(), user_question="q")
    record.set_sql_usage(usage, service_tier="flex")
    record.set_response_usage(
        {"prompt_tokens": 10, "completion_tokens": 5, "prompt_tokens_details": {}}, Tier()
    )
    assert (record.sql_cache_write_tokens, record.sql_service_tier) == (2048, "flex")
    assert (record.response_cache_write_tokens, record.response_service_tier) == (0, "priority")
    record.set_sql_usage(usage)
    assert record.sql_service_tier is None  # not reported: read as default by the marts


def test_usage_from_the_chat_completions_shape_as_an_object():
    class Details:
        cached_tokens = 256

    class Usage:
        prompt_tokens = 900
        completion_tokens = 77
        prompt_tokens_details = Details()

    record = TelemetryRecord(user_id=uuid.uuid4(), user_question="q")
    record.set_sql_usage(Usage())
    record.set_response_usage({"prompt_tokens": 10, "completion_tokens": 5})
    assert (record.sql_input_tokens, record.sql_output_tokens, record.sql_cached_tokens) == (
        900,
        77,
        256,
    )
    assert (record.response_input_tokens, record.response_cached_tokens) == (10, 0)


def test_usage_of_nothing_is_all_none():
    assert TokenUsage.from_openai(None) == TokenUsage(None, None, None, None)


def test_step_timer_measures_each_step_and_names_the_failed_one():
    timer = StepTimer()
    with timer.step("nl_to_sql"):
        time.sleep(0.03)
    with timer.step("sql_execution"):
        time.sleep(0.01)
    timer.mark_first_byte()
    with pytest.raises(RuntimeError), timer.step("response_generation"):
        time.sleep(0.02)
        raise RuntimeError("stream broke")
    record = TelemetryRecord(user_id=uuid.uuid4(), user_question="q")
    timer.apply_to(record)
    assert 25 <= record.nl_to_sql_duration_ms < 1000
    assert 5 <= record.sql_execution_duration_ms < 1000
    assert 15 <= record.response_generation_duration_ms < 1000
    assert record.ttfb_ms >= record.nl_to_sql_duration_ms + record.sql_execution_duration_ms
    assert record.failed_step == "response"
    # An unknown step name is a telemetry typo: counted, untimed, never raised into the request.
    from telemetry_writer.timing import unknown_step_count

    before = unknown_step_count()
    ran = False
    with timer.step("not_a_step"):
        ran = True
    assert ran and timer.unknown_steps == 1 and unknown_step_count() == before + 1
    assert "not_a_step" not in str(timer.durations_ms())

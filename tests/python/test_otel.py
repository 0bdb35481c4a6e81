"""telemetry_writer.otel: a backend traced with OpenTelemetry writes its rows through
TelemetrySpanProcessor, with no telemetry_writer call of its own.

The backend below is a real one in miniature: the real `openai` client (its HTTP answered
from the JSON bodies in otel_responses/ by an httpx2 mock transport), instrumented by the real
`opentelemetry-instrumentation-openai-v2` or `openinference-instrumentation-openai`, its SQL
run on the real Postgres, and its own spans for the request and the steps. Each row is then
read back from the table and compared with what the JSON answers and the exported spans say.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
from conftest import connect, make_conversation, make_user
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer, set_span_in_context
from telemetry_writer import TelemetryWriter
from telemetry_writer.otel import TelemetrySpanProcessor
from telemetry_writer.otel import conventions as names
from test_writer import rows_of
from writer_fixtures import (  # noqa: F401  (balanced_books is an autouse fixture)
    balanced_books,
    new_writer,
)

# openai 3 sends through httpx2; opentelemetry-instrumentation-openai-v2 2.4b0 still imports
# `httpx` (for `httpx.URL`). An application on openai 3 does what the README says: make
# `httpx` the same module as `httpx2`, before anything imports it (a no-op when repeated).
httpx2.alias_httpx()

RESPONSES = Path(__file__).parent / "otel_responses"
SQL_MODEL = "gpt-4.1-mini"
ANSWER_MODEL = "gpt-4o"
RESPONSES_MODEL = "gpt-4.1"
FOLLOW_UPS = ["Which day had the most orders?", "Compare with last week"]


def recorded(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((RESPONSES / f"{name}.json").read_text())
    return loaded


# ---------------------------------------------------------------- the backend under test


@dataclass
class Backend:
    """A chat backend traced the way the README's example says: its own request and step
    spans, and an instrumented OpenAI client. `answers` maps a model to the recorded JSON
    body its calls get (`error_500`: the API fails)."""

    tracer: Tracer
    db: Any
    answers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.client = openai.OpenAI(
            api_key="sk-test",
            base_url="https://api.openai.test/v1",
            max_retries=0,
            http_client=httpx2.Client(transport=httpx2.MockTransport(self._answer)),
        )

    def _answer(self, request: httpx2.Request) -> httpx2.Response:
        model = json.loads(request.content)["model"]
        name = self.answers[model]
        status = 500 if name == "error_500" else 200
        return httpx2.Response(status, json=recorded(name))

    def handle(
        self,
        user_id: uuid.UUID,
        question: str,
        *,
        conversation_id: uuid.UUID | None = None,
        api: str = "chat",
        off_topic: bool = False,
        fail_outside_steps: bool = False,
    ) -> None:
        step = names.STEP
        attributes = {names.USER_ID: str(user_id), "chat_telemetry.user_question": question}
        if conversation_id is not None:
            attributes["gen_ai.conversation.id"] = str(conversation_id)
        with self.tracer.start_as_current_span("chat request", attributes=attributes) as request:
            with self.tracer.start_as_current_span("nl_to_sql", attributes={step: "nl_to_sql"}):
                completion = self.client.chat.completions.create(
                    model=SQL_MODEL, messages=[{"role": "user", "content": question}]
                )
            sql = completion.choices[0].message.content or ""
            request.set_attribute("chat_telemetry.generated_sql", sql)
            if off_topic:
                request.set_attribute("chat_telemetry.is_off_topic", True)
                return
            if fail_outside_steps:
                raise RuntimeError("the handler failed between two steps")
            with (
                self.tracer.start_as_current_span(
                    "sql_execution", attributes={step: "sql_execution"}
                ),
                connect(self.db) as connection,
            ):
                rows = connection.execute(sql).fetchall()
            request.set_attribute("chat_telemetry.result_row_count", len(rows))
            with self.tracer.start_as_current_span(
                "response_generation", attributes={step: "response_generation"}
            ):
                if api == "responses":
                    text = self.client.responses.create(
                        model=RESPONSES_MODEL, input=f"{question}\n{rows}"
                    ).output_text
                else:
                    answer = self.client.chat.completions.create(
                        model=ANSWER_MODEL, messages=[{"role": "user", "content": str(rows)}]
                    )
                    text = answer.choices[0].message.content or ""
                request.add_event(names.FIRST_BYTE_EVENT)
            request.set_attribute("chat_telemetry.ai_response", text)
            request.set_attribute("chat_telemetry.follow_up_suggestions", FOLLOW_UPS)


@dataclass
class Traced:
    provider: TracerProvider
    processor: TelemetrySpanProcessor
    exporter: InMemorySpanExporter
    writer: TelemetryWriter

    def spans_of(self, user_id: uuid.UUID) -> list[ReadableSpan]:
        """The exported spans of the user's request (what any exporter saw)."""
        spans = self.exporter.get_finished_spans()
        [request] = [
            span for span in spans if (span.attributes or {}).get(names.USER_ID) == str(user_id)
        ]
        assert request.context is not None
        return [span for span in spans if span.context.trace_id == request.context.trace_id]


@pytest.fixture
def traced(shared_db: Any) -> Iterator[Traced]:
    writer = new_writer(shared_db.conninfo())
    provider = TracerProvider()
    processor = TelemetrySpanProcessor(writer)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(processor)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield Traced(provider, processor, exporter, writer)
    provider.shutdown()
    writer.close(5)


@pytest.fixture
def openai_v2(traced: Traced) -> Iterator[Traced]:
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=traced.provider)
    yield traced
    instrumentor.uninstrument()


@pytest.fixture
def openinference(traced: Traced) -> Iterator[Traced]:
    from openinference.instrumentation.openai import OpenAIInstrumentor

    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=traced.provider)
    yield traced
    instrumentor.uninstrument()


def step_ms(spans: list[ReadableSpan], step: str) -> int | None:
    found = [span for span in spans if (span.attributes or {}).get(names.STEP) == step]
    if not found:
        return None
    return sum((span.end_time or 0) - (span.start_time or 0) for span in found) // 1_000_000


def usage(name: str) -> tuple[int, int, int]:
    """(input, output, cached) tokens of a recorded answer, in either API's shape."""
    body = recorded(name)["usage"]
    if "input_tokens" in body:
        return (
            body["input_tokens"],
            body["output_tokens"],
            body["input_tokens_details"]["cached_tokens"],
        )
    return (
        body["prompt_tokens"],
        body["completion_tokens"],
        body["prompt_tokens_details"]["cached_tokens"],
    )


def row_of(db: Any, user_id: uuid.UUID) -> dict[str, Any]:
    [row] = rows_of(db, user_id)
    return row


def assert_durations_match_spans(row: dict[str, Any], spans: list[ReadableSpan]) -> None:
    for step, column in (
        ("nl_to_sql", "nl_to_sql_duration_ms"),
        ("sql_execution", "sql_execution_duration_ms"),
        ("response_generation", "response_generation_duration_ms"),
    ):
        assert row[column] == step_ms(spans, step), column


# ---------------------------------------------------------------- real instrumentations


def test_openai_v2_spans_fill_every_column_of_the_row(openai_v2, shared_db):
    traced = openai_v2
    backend = Backend(traced.provider.get_tracer("backend"), shared_db)
    backend.answers = {SQL_MODEL: "chat_sql", ANSWER_MODEL: "chat_answer"}
    user_id = make_user(shared_db)
    conversation_id = make_conversation(shared_db, user_id)
    question = "How many orders per day this week?"

    started = time.time()
    backend.handle(user_id, question, conversation_id=conversation_id)
    assert traced.provider.force_flush(10_000)
    row = row_of(shared_db, user_id)
    spans = traced.spans_of(user_id)
    sql_answer, answer = recorded("chat_sql"), recorded("chat_answer")
    [request_span] = [span for span in spans if span.name == "chat request"]

    assert row["user_question"] == question
    assert row["conversation_id"] == conversation_id
    assert abs(row["created_at"].timestamp() - started) < 5
    assert row["created_at"].timestamp() == pytest.approx(request_span.start_time / 1e9, abs=1e-5)
    assert row["generated_sql"] == sql_answer["choices"][0]["message"]["content"]
    with connect(shared_db) as connection:
        expected_rows = len(connection.execute(row["generated_sql"]).fetchall())
    assert row["result_row_count"] == expected_rows
    assert row["ai_response"] == answer["choices"][0]["message"]["content"]
    assert row["follow_up_suggestions"] == FOLLOW_UPS
    # The dated snapshot the API answered with, not the alias asked for.
    assert (row["sql_model"], row["response_model"]) == (sql_answer["model"], answer["model"])
    sql_input, sql_output, _ = usage("chat_sql")
    answer_input, answer_output, _ = usage("chat_answer")
    assert (row["sql_input_tokens"], row["sql_output_tokens"]) == (sql_input, sql_output)
    assert (row["response_input_tokens"], row["response_output_tokens"]) == (
        answer_input,
        answer_output,
    )
    # openai-v2 2.4b0 reports no cached or cache-write tokens: unknown, not 0.
    assert (row["sql_cached_tokens"], row["response_cached_tokens"]) == (None, None)
    assert (row["sql_cache_write_tokens"], row["response_cache_write_tokens"]) == (None, None)
    assert row["response_id"] == answer["id"]
    assert (row["sql_service_tier"], row["response_service_tier"]) == (
        sql_answer["service_tier"],
        answer["service_tier"],
    )
    assert_durations_match_spans(row, spans)
    [first_byte] = [e for e in request_span.events if e.name == names.FIRST_BYTE_EVENT]
    assert row["ttfb_ms"] == (first_byte.timestamp - request_span.start_time) // 1_000_000
    assert (row["error_type"], row["failed_step"], row["error_message"]) == (None, None, None)
    assert row["is_off_topic"] is False
    # What the exporter saw is what the app and the instrumentation set, nothing added.
    assert set(request_span.attributes or {}) == {
        names.USER_ID,
        "chat_telemetry.user_question",
        "gen_ai.conversation.id",
        "chat_telemetry.generated_sql",
        "chat_telemetry.result_row_count",
        "chat_telemetry.ai_response",
        "chat_telemetry.follow_up_suggestions",
    }


def test_openai_v2_failures_in_each_step_off_topic_and_the_responses_api(openai_v2, shared_db):
    """One request per case, each its own user; openai-v2 2.4b0 does not trace the responses
    API, so a response step made with it leaves the response columns unknown."""
    traced = openai_v2
    backend = Backend(traced.provider.get_tracer("backend"), shared_db)
    cases: dict[str, uuid.UUID] = {}

    def run(case: str, answers: dict[str, str], **options: Any) -> None:
        cases[case] = user_id = make_user(shared_db)
        backend.answers = answers
        try:
            backend.handle(user_id, f"question of {case}", **options)
        except Exception as error:
            assert case.startswith("fails"), (case, error)
        else:
            assert not case.startswith("fails"), case

    ok = {SQL_MODEL: "chat_sql", ANSWER_MODEL: "chat_answer", RESPONSES_MODEL: "responses_answer"}
    run("fails in nl_to_sql", {**ok, SQL_MODEL: "error_500"})
    run("fails in sql_execution", {**ok, SQL_MODEL: "chat_sql_broken"})
    run("fails in response_generation", {**ok, ANSWER_MODEL: "error_500"})
    run("fails outside steps", ok, fail_outside_steps=True)
    run("off topic", ok, off_topic=True)
    run("responses api", ok, api="responses")
    assert traced.provider.force_flush(10_000)
    rows = {case: row_of(shared_db, user_id) for case, user_id in cases.items()}

    expected = {
        "fails in nl_to_sql": ("sql_generation", "understanding", "InternalServerError"),
        "fails in sql_execution": ("sql_execution", "looking_up", "UndefinedTable"),
        "fails in response_generation": ("response_generation", "response", "InternalServerError"),
        "fails outside steps": ("unexpected", None, "RuntimeError"),
    }
    for case, (error_type, failed_step, exception) in expected.items():
        row = rows[case]
        assert (row["error_type"], row["failed_step"]) == (error_type, failed_step), case
        assert row["error_message"].startswith(f"{exception}: "), (case, row["error_message"])
        assert_durations_match_spans(row, traced.spans_of(cases[case]))
    # A call that failed reported no usage: its step has the model asked for and no tokens.
    failed_sql = rows["fails in nl_to_sql"]
    assert (failed_sql["sql_model"], failed_sql["sql_input_tokens"]) == (SQL_MODEL, None)
    assert rows["fails in sql_execution"]["sql_input_tokens"] == usage("chat_sql_broken")[0]
    failed_answer = rows["fails in response_generation"]
    assert (failed_answer["response_model"], failed_answer["response_id"]) == (ANSWER_MODEL, None)

    off_topic = rows["off topic"]
    assert off_topic["is_off_topic"] is True and off_topic["error_type"] is None
    assert off_topic["sql_input_tokens"] == usage("chat_sql")[0]
    assert off_topic["sql_execution_duration_ms"] is None
    assert off_topic["response_model"] is None

    responses = rows["responses api"]
    assert (
        responses["ai_response"] == recorded("responses_answer")["output"][0]["content"][0]["text"]
    )
    assert responses["response_generation_duration_ms"] is not None
    assert (responses["response_model"], responses["response_input_tokens"]) == (None, None)


def test_openinference_spans_fill_the_row_with_cached_tokens(openinference, shared_db):
    traced = openinference
    backend = Backend(traced.provider.get_tracer("backend"), shared_db)
    backend.answers = {SQL_MODEL: "chat_sql", RESPONSES_MODEL: "responses_answer"}
    user_id = make_user(shared_db)
    backend.handle(user_id, "How many orders per day?", api="responses")
    assert traced.provider.force_flush(10_000)
    row = row_of(shared_db, user_id)
    sql_answer, answer = recorded("chat_sql"), recorded("responses_answer")

    assert (row["sql_model"], row["response_model"]) == (sql_answer["model"], answer["model"])
    assert (row["sql_input_tokens"], row["sql_output_tokens"], row["sql_cached_tokens"]) == usage(
        "chat_sql"
    )
    assert (
        row["response_input_tokens"],
        row["response_output_tokens"],
        row["response_cached_tokens"],
    ) == usage("responses_answer")
    assert row["response_cached_tokens"] > 0
    # OpenInference 0.1.66 records no response id and no service tier.
    assert (row["response_id"], row["sql_service_tier"], row["response_service_tier"]) == (
        None,
        None,
        None,
    )
    assert row["ai_response"] == answer["output"][0]["content"][0]["text"]
    assert_durations_match_spans(row, traced.spans_of(user_id))
    assert row["error_type"] is None


def test_retries_add_tokens_nested_steps_blame_the_innermost_and_billing_fields_fill(
    traced, shared_db
):
    """Spans as other instrumentations write them (older and OpenLLMetry names, cache writes,
    the openai.* tier): a retried call adds its tokens and the last call names the model and
    tier; a cached count one call did not report leaves the sum unknown; the innermost step
    that failed is the one blamed; explicit attributes on the request span win."""
    tracer = traced.provider.get_tracer("other instrumentations")
    user_id = make_user(shared_db)
    first = {
        "gen_ai.request.model": "gpt-5.6",
        "gen_ai.response.model": "gpt-5.6-2026-03-05",
        "gen_ai.usage.prompt_tokens": 1200,
        "gen_ai.usage.completion_tokens": 30,
        "gen_ai.usage.cache_read_input_tokens": 1000,
        "gen_ai.usage.cache_creation_input_tokens": 150,
        "gen_ai.openai.response.service_tier": "flex",
    }
    retry = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-5.6",
        "gen_ai.response.model": "gpt-5.6-2026-04-01",
        "gen_ai.usage.input_tokens": 1300,
        "gen_ai.usage.output_tokens": 35,
        "gen_ai.usage.cache_read.input_tokens": 1024,
        "gen_ai.usage.cache_creation.input_tokens": 200,
        "openai.response.service_tier": "default",
    }
    answer = {
        "gen_ai.request.model": "gpt-5.6-mini",
        "gen_ai.usage.input_tokens": 800,
        "gen_ai.usage.output_tokens": 90,
        "gen_ai.usage.cache_read.input_tokens": 512,
        "gen_ai.response.id": "resp_first",
    }
    answer_retry = {**answer, "gen_ai.response.id": "resp_second"}
    del answer_retry["gen_ai.usage.cache_read.input_tokens"]
    embedding = {"gen_ai.operation.name": "embeddings", "gen_ai.request.model": "emb-3"}
    request_attributes = {
        names.USER_ID: str(user_id),
        "chat_telemetry.user_question": "retried",
        "chat_telemetry.response_model": "set-by-the-app",
    }
    step = names.STEP
    with (
        pytest.raises(ValueError),
        tracer.start_as_current_span("chat", attributes=request_attributes),
    ):
        with tracer.start_as_current_span("nl_to_sql", attributes={step: "nl_to_sql"}):
            tracer.start_span("embed question", attributes=embedding).end()
            with tracer.start_as_current_span("agent"):  # a model call at depth 2
                tracer.start_span("chat gpt-5.6", attributes=first).end()
            tracer.start_span("chat gpt-5.6", attributes=retry).end()
        with tracer.start_as_current_span(
            "response_generation", attributes={step: "response_generation"}
        ):
            tracer.start_span("chat", attributes=answer).end()
            tracer.start_span("chat", attributes=answer_retry).end()
            with tracer.start_as_current_span("run sql again", attributes={step: "sql_execution"}):
                raise ValueError("nested failure")
    assert traced.provider.force_flush(10_000)
    row = row_of(shared_db, user_id)

    assert row["sql_model"] == retry["gen_ai.response.model"]
    assert row["sql_service_tier"] == retry["openai.response.service_tier"]
    assert row["sql_input_tokens"] == 1200 + 1300
    assert row["sql_output_tokens"] == 30 + 35
    assert row["sql_cached_tokens"] == 1000 + 1024
    assert row["sql_cache_write_tokens"] == 150 + 200
    assert row["response_model"] == "set-by-the-app"
    assert row["response_input_tokens"] == 800 + 800
    assert row["response_cached_tokens"] is None  # the retry did not report it: unknown
    assert row["response_id"] == "resp_second"
    assert (row["error_type"], row["failed_step"]) == ("sql_execution", "looking_up")
    assert row["error_message"] == "ValueError: nested failure"
    spans = traced.spans_of(user_id)
    assert row["response_generation_duration_ms"] == step_ms(spans, "response_generation")


# ---------------------------------------------------------------- the conventions' names


def test_attribute_names_are_those_of_the_installed_conventions():
    from openinference.semconv.trace import SpanAttributes
    from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
    from opentelemetry.semconv._incubating.attributes import openai_attributes

    assert names.INPUT_TOKENS[:2] == (
        gen_ai.GEN_AI_USAGE_INPUT_TOKENS,
        gen_ai.GEN_AI_USAGE_PROMPT_TOKENS,
    )
    assert names.OUTPUT_TOKENS[:2] == (
        gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS,
        gen_ai.GEN_AI_USAGE_COMPLETION_TOKENS,
    )
    assert names.CACHED_TOKENS[0] == gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS
    assert names.CACHE_WRITE_TOKENS[0] == gen_ai.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS
    assert names.MODEL == (
        gen_ai.GEN_AI_RESPONSE_MODEL,
        SpanAttributes.LLM_MODEL_NAME,
        gen_ai.GEN_AI_REQUEST_MODEL,
    )
    assert names.SERVICE_TIER == (
        openai_attributes.OPENAI_RESPONSE_SERVICE_TIER,
        gen_ai.GEN_AI_OPENAI_RESPONSE_SERVICE_TIER,
    )
    assert (names.RESPONSE_ID, names.CONVERSATION_ID, names.OPERATION_NAME) == (
        gen_ai.GEN_AI_RESPONSE_ID,
        gen_ai.GEN_AI_CONVERSATION_ID,
        gen_ai.GEN_AI_OPERATION_NAME,
    )
    assert (names.INPUT_TOKENS[2], names.OUTPUT_TOKENS[2]) == (
        SpanAttributes.LLM_TOKEN_COUNT_PROMPT,
        SpanAttributes.LLM_TOKEN_COUNT_COMPLETION,
    )
    assert (names.CACHED_TOKENS[2], names.CACHE_WRITE_TOKENS[2]) == (
        SpanAttributes.LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_READ,
        SpanAttributes.LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_WRITE,
    )
    assert names.OPENINFERENCE_SPAN_KIND == SpanAttributes.OPENINFERENCE_SPAN_KIND
    operations = {value.value for value in gen_ai.GenAiOperationNameValues}
    assert operations >= names.NOT_MODEL_CALLS


# ---------------------------------------------------------------- bounds


def offline_setup(**options: Any) -> tuple[TracerProvider, TelemetrySpanProcessor, TelemetryWriter]:
    """A processor in front of a writer that writes nowhere: these tests count, not store."""
    writer = TelemetryWriter(disabled=True)
    provider = TracerProvider()
    processor = TelemetrySpanProcessor(writer, **options)
    provider.add_span_processor(processor)
    return provider, processor, writer


def request_attributes(index: int = 0) -> dict[str, Any]:
    return {names.USER_ID: str(uuid.uuid4()), "chat_telemetry.user_question": f"q{index}"}


def test_a_flood_of_unfinished_traces_stays_within_the_count_bound_and_is_counted():
    provider, processor, writer = offline_setup(max_spans=200)
    tracer = provider.get_tracer("flood")
    requests = []
    peak = 0
    for index in range(100):
        request = tracer.start_span("chat request", attributes=request_attributes(index))
        requests.append(request)
        parent = set_span_in_context(request)
        for _ in range(10):
            tracer.start_span("work", context=parent).end()
        peak = max(peak, processor.held()["spans"])
    assert peak <= 200
    stats = writer.stats()
    assert stats["dropped"]["otel_bound"] > 0
    assert stats["dropped"]["otel_bound"] + processor.held()["requests"] == 100
    assert stats["dropped_spans"]["bound"] > 0
    for request in requests:
        request.end()
    stats = writer.stats()
    # Every request counted once: written (here: disabled) or dropped for the bound.
    assert stats["received"] == 100
    assert stats["dropped"]["disabled"] + stats["dropped"]["otel_bound"] == 100
    assert processor.held() == {"requests": 0, "spans": 0, "bytes": 0}


def test_the_byte_bound_drops_a_request_whose_spans_carry_too_much():
    provider, processor, writer = offline_setup(max_bytes=1_000_000)
    tracer = provider.get_tracer("bytes")
    big = "x" * 100_000  # a captured prompt
    requests = [tracer.start_span("chat", attributes=request_attributes(i)) for i in range(3)]
    for request in requests:
        for _ in range(5):
            tracer.start_span(
                "chat gpt", context=set_span_in_context(request), attributes={"prompt": big}
            ).end()
            assert processor.held()["bytes"] <= 1_000_000
    assert writer.stats()["dropped"]["otel_bound"] >= 1
    for request in requests:
        request.end()
    stats = writer.stats()
    assert stats["dropped"]["disabled"] + stats["dropped"]["otel_bound"] == 3


def test_a_request_span_open_past_the_timeout_is_dropped_and_late_spans_are_ignored():
    provider, processor, writer = offline_setup(timeout_s=0.05)
    tracer = provider.get_tracer("timeout")
    stuck = tracer.start_span("chat", attributes=request_attributes())
    time.sleep(0.1)
    fresh = tracer.start_span("chat", attributes=request_attributes())  # sweeps the stuck one
    assert writer.stats()["dropped"]["otel_timeout"] == 1
    straggler = tracer.start_span("tool", context=set_span_in_context(fresh))
    fresh.end()
    straggler.end()
    stuck.end()
    stats = writer.stats()
    assert stats["received"] == 2  # the stuck request once, the fresh one once
    assert stats["dropped"]["disabled"] == 1
    assert stats["dropped_spans"]["late"] == 1
    assert stats["dropped_spans"]["untracked_request"] == 1  # the stuck one, ending too late
    assert processor.held() == {"requests": 0, "spans": 0, "bytes": 0}


def test_spans_of_no_request_are_passed_over_and_write_nothing():
    provider, processor, writer = offline_setup()
    tracer = provider.get_tracer("other")
    for index in range(500):
        with (
            tracer.start_as_current_span("GET /health"),
            tracer.start_as_current_span(
                "chat gpt-4o", attributes={"gen_ai.request.model": "gpt-4o", "i": index}
            ),
        ):
            assert processor.held()["spans"] == 0
    assert writer.stats()["received"] == 0
    assert processor.held() == {"requests": 0, "spans": 0, "bytes": 0}


def test_shutdown_counts_open_requests_and_spans_after_it_are_ignored():
    provider, processor, writer = offline_setup()
    tracer = provider.get_tracer("end")
    open_request = tracer.start_span("chat", attributes=request_attributes())
    provider.shutdown()
    assert writer.stats()["dropped"]["shut_down"] == 1
    open_request.end()
    tracer.start_span("chat", attributes=request_attributes()).end()
    assert writer.stats()["received"] == 1
    assert processor.force_flush(1000)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_a_forked_child_starts_with_nothing_held():
    provider, processor, writer = offline_setup()
    tracer = provider.get_tracer("fork")
    parent_request = tracer.start_span("chat", attributes=request_attributes())
    assert processor.held()["requests"] == 1
    pid = os.fork()
    if pid == 0:  # the child: nothing of the parent's, and a request of its own works
        held = processor.held()
        tracer.start_span("chat", attributes=request_attributes()).end()
        os._exit(0 if held["requests"] == 0 and writer.stats()["received"] == 1 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    parent_request.end()
    assert writer.stats()["received"] == 1


# ---------------------------------------------------------------- concurrency


def model_step(tracer: Tracer, step: str, tokens: int) -> None:
    """A step with one GenAI client span, as any instrumentation writes it."""
    call = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": tokens,
        "gen_ai.usage.output_tokens": tokens // 10,
    }
    with (
        tracer.start_as_current_span(step, attributes={names.STEP: step}),
        tracer.start_as_current_span("chat gpt-4o-mini", attributes=call),
    ):
        time.sleep(0.001)


def test_concurrent_requests_in_threads_and_asyncio_tasks_each_get_their_own_row(traced, shared_db):
    tracer = traced.provider.get_tracer("concurrent")
    user_id = make_user(shared_db)
    barrier = threading.Barrier(6)

    def in_thread(worker: int) -> None:
        barrier.wait()
        for index in range(5):
            tokens = 1000 + worker * 100 + index
            attributes = {names.USER_ID: str(user_id), "chat_telemetry.user_question": f"t{tokens}"}
            with tracer.start_as_current_span("chat", attributes=attributes):
                model_step(tracer, "nl_to_sql", tokens)
                model_step(tracer, "response_generation", tokens + 1)

    async def in_task(task: int) -> None:
        tokens = 5000 + task
        attributes = {names.USER_ID: str(user_id), "chat_telemetry.user_question": f"a{tokens}"}
        with tracer.start_as_current_span("chat", attributes=attributes):
            await asyncio.sleep(0)
            model_step(tracer, "nl_to_sql", tokens)
            await asyncio.sleep(0.001)
            model_step(tracer, "response_generation", tokens + 1)

    async def tasks() -> None:
        await asyncio.gather(*(in_task(task) for task in range(20)))

    threads = [threading.Thread(target=in_thread, args=(worker,)) for worker in range(6)]
    for thread in threads:
        thread.start()
    asyncio.run(tasks())
    for thread in threads:
        thread.join()
    assert traced.provider.force_flush(10_000)
    rows = rows_of(shared_db, user_id)
    assert len(rows) == 6 * 5 + 20
    for row in rows:
        tokens = int(row["user_question"][1:])
        assert (row["sql_input_tokens"], row["response_input_tokens"]) == (tokens, tokens + 1)
        assert row["sql_output_tokens"] == tokens // 10
    assert traced.processor.held() == {"requests": 0, "spans": 0, "bytes": 0}


# ---------------------------------------------------------------- without OpenTelemetry


def test_the_writer_imports_and_writes_without_opentelemetry(shared_db):
    """The core writer keeps no OpenTelemetry dependency: with `opentelemetry` made
    unimportable, it imports, writes a row, and only `telemetry_writer.otel` says what is
    missing."""
    user_id = make_user(shared_db)
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules["opentelemetry"] = None
        import telemetry_writer
        from telemetry_writer import TelemetryRecord, TelemetryWriter
        writer = TelemetryWriter({shared_db.conninfo()!r}, flush_interval_s=0.05)
        writer.persist(TelemetryRecord(user_id={str(user_id)!r}, user_question="no otel"))
        assert writer.close(10), writer.stats()
        loaded = [name for name, module in sys.modules.items() if module is not None]
        assert not any(name.startswith("opentelemetry") for name in loaded), loaded
        try:
            import telemetry_writer.otel
        except ImportError as error:
            print("otel:", error)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert 'pip install "telemetry-writer[otel]"' in result.stdout
    [row] = rows_of(shared_db, user_id)
    assert row["user_question"] == "no otel"


# ---------------------------------------------------------------- the benchmark


def test_a_tiny_run_of_the_on_end_benchmark_reports_every_kind_of_call(tmp_path):
    """`make bench-otel` at a toy size, so that it cannot rot (the numbers are in
    BENCHMARKS.md; no speed is asserted here)."""
    from chat_telemetry.benchmark import otel as bench

    output = tmp_path / "otel.json"
    assert bench.main(["--requests", "30", "--rounds", "1", "--output", str(output)]) == 0
    result = json.loads(output.read_text())
    kinds = {
        f"{kind}.{call}"
        for kind in ("no_request", "in_request", "request")
        for call in ("on_start", "on_end")
    }
    assert set(result["ns_per_call_median"]) == kinds
    assert all(value >= 0 for value in result["ns_per_call_median"].values())

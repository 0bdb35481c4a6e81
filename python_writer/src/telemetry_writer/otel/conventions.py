"""The span attributes the processor reads: the project's own, and the GenAI ones of each
instrumentation family, in the order they are tried.

Plain strings, not imports from `opentelemetry-semantic-conventions` or
`openinference-semantic-conventions`: the processor must not depend on either, and the names
are checked against both packages by the tests (tests/python/test_otel.py), so a renamed
attribute fails there rather than leaving a column silently NULL.
"""

from __future__ import annotations

from typing import Final

# ----------------------------------------------------------------- the project's convention

PREFIX: Final = "chat_telemetry."
USER_ID: Final = "chat_telemetry.user_id"
STEP: Final = "chat_telemetry.step"
# The event a request span may carry at the first byte streamed to the user (ttfb_ms).
FIRST_BYTE_EVENT: Final = "chat_telemetry.first_byte"

# ----------------------------------------------------------------- GenAI conventions

# `gen_ai.conversation.id`: the conversation, when the request span has no
# `chat_telemetry.conversation_id`.
CONVERSATION_ID: Final = "gen_ai.conversation.id"
OPERATION_NAME: Final = "gen_ai.operation.name"
RESPONSE_ID: Final = "gen_ai.response.id"
OPENINFERENCE_SPAN_KIND: Final = "openinference.span.kind"

# The model that answered: the dated snapshot of the response first, else the one asked for.
# OpenInference's `llm.model_name` is the response's model when there was a response.
MODEL: Final = ("gen_ai.response.model", "llm.model_name", "gen_ai.request.model")
# Input tokens include cached and cache-write tokens in every family read here, as in the
# table's columns (the GenAI conventions say so; OpenAI reports it so): never subtracted.
INPUT_TOKENS: Final = (
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",  # the conventions before 1.27, OpenLLMetry
    "llm.token_count.prompt",  # OpenInference
)
OUTPUT_TOKENS: Final = (
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
)
CACHED_TOKENS: Final = (
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_read_input_tokens",  # OpenLLMetry
    "llm.token_count.prompt_details.cache_read",
)
CACHE_WRITE_TOKENS: Final = (
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",  # OpenLLMetry
    "llm.token_count.prompt_details.cache_write",
)
SERVICE_TIER: Final = (
    "openai.response.service_tier",
    "gen_ai.openai.response.service_tier",  # before the openai.* namespace
)

# Operations that are GenAI spans but no chat model call: their tokens are not the step's.
NOT_MODEL_CALLS: Final = frozenset(
    {
        "embeddings",
        "retrieval",
        "create_agent",
        "invoke_agent",
        "execute_tool",
        "invoke_workflow",
    }
)

"""Token counts from the usage objects that OpenAI's SDK returns (or their dict form)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def _get(container: Any, name: str) -> Any:
    if container is None:
        return None
    if isinstance(container, dict):
        return container.get(name)
    return getattr(container, name, None)


def _first_int(*values: Any) -> int | None:
    for value in values:
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    return None


@dataclass(frozen=True)
class TokenUsage:
    """Input, output, cached-input and cache-write tokens of one model call (cached and
    cache-write tokens are both part of the input tokens, as OpenAI reports them)."""

    input_tokens: int | None
    output_tokens: int | None
    cached_tokens: int | None
    cache_write_tokens: int | None = None

    @classmethod
    def from_openai(cls, usage: Any) -> TokenUsage:
        """Read the Responses API (`input_tokens`, `output_tokens`,
        `input_tokens_details.cached_tokens`) or Chat Completions (`prompt_tokens`,
        `completion_tokens`, `prompt_tokens_details.cached_tokens`) shape; missing is None.
        Cache writes (`*_tokens_details.cache_write_tokens`, gpt-5.6 on) and cached tokens that
        a usage with input tokens does not report are 0: the API reports both when there are
        any."""
        input_tokens = _first_int(_get(usage, "input_tokens"), _get(usage, "prompt_tokens"))
        output_tokens = _first_int(_get(usage, "output_tokens"), _get(usage, "completion_tokens"))
        cached_tokens = _first_int(
            _get(_get(usage, "input_tokens_details"), "cached_tokens"),
            _get(_get(usage, "prompt_tokens_details"), "cached_tokens"),
        )
        cache_write_tokens = _first_int(
            _get(_get(usage, "input_tokens_details"), "cache_write_tokens"),
            _get(_get(usage, "prompt_tokens_details"), "cache_write_tokens"),
        )
        if input_tokens is not None:
            cached_tokens = 0 if cached_tokens is None else cached_tokens
            cache_write_tokens = 0 if cache_write_tokens is None else cache_write_tokens
        return cls(input_tokens, output_tokens, cached_tokens, cache_write_tokens)

{#-
    The cost of one model call in USD. Cached tokens are part of the input tokens (as OpenAI
    reports them) and are billed at the cached rate; the rest of the input at the input rate:
        ((input - cached) * input_price + cached * cached_price + output * output_price) / 1e6
    Each part is its own macro so marts can report them separately; NULL prices give NULL.
-#}
{% macro uncached_input_cost_usd(input_tokens, cached_tokens, input_usd_per_1m) -%}
    {{ return(adapter.dispatch('uncached_input_cost_usd', 'chat_telemetry')(input_tokens, cached_tokens, input_usd_per_1m)) }}
{%- endmacro %}

{% macro default__uncached_input_cost_usd(input_tokens, cached_tokens, input_usd_per_1m) -%}
    cast(({{ input_tokens }} - {{ cached_tokens }}) * {{ input_usd_per_1m }} / 1000000.0 as {{ type_usd() }})
{%- endmacro %}

{% macro cached_input_cost_usd(cached_tokens, cached_input_usd_per_1m) -%}
    {{ return(adapter.dispatch('cached_input_cost_usd', 'chat_telemetry')(cached_tokens, cached_input_usd_per_1m)) }}
{%- endmacro %}

{% macro default__cached_input_cost_usd(cached_tokens, cached_input_usd_per_1m) -%}
    cast({{ cached_tokens }} * {{ cached_input_usd_per_1m }} / 1000000.0 as {{ type_usd() }})
{%- endmacro %}

{% macro output_cost_usd(output_tokens, output_usd_per_1m) -%}
    {{ return(adapter.dispatch('output_cost_usd', 'chat_telemetry')(output_tokens, output_usd_per_1m)) }}
{%- endmacro %}

{% macro default__output_cost_usd(output_tokens, output_usd_per_1m) -%}
    cast({{ output_tokens }} * {{ output_usd_per_1m }} / 1000000.0 as {{ type_usd() }})
{%- endmacro %}

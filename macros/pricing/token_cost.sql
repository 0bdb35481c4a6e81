{#-
    What one model call costs. OpenAI bills a call at the prices of the service tier that served
    it, on its UTC day, and at the long-context prices for the whole call once its input tokens
    pass the model's threshold. Cached and cache-write tokens are both part of the input tokens
    (as OpenAI reports them):
        (input - cached - cache_write) x input_price + cached x cached_price
        + cache_write x cache_write_price + output x output_price           (per 1M tokens)
    Each part is its own macro so marts can report them separately; NULL prices give NULL.
-#}

{#- The tier a call is billed at: as reported, NULL or empty as default, `fast` as priority. -#}
{% macro billed_service_tier(column) -%}
    {{ return(adapter.dispatch('billed_service_tier', 'chat_telemetry')(column)) }}
{%- endmacro %}

{% macro default__billed_service_tier(column) -%}
    case
        when lower(trim({{ column }})) = 'fast' then 'priority'
        else coalesce(nullif(lower(trim({{ column }})), ''), 'default')
    end
{%- endmacro %}

{% macro uncached_input_cost_usd(input_tokens, cached_tokens, cache_write_tokens, input_usd_per_1m) -%}
    {{ return(adapter.dispatch('uncached_input_cost_usd', 'chat_telemetry')(input_tokens, cached_tokens, cache_write_tokens, input_usd_per_1m)) }}
{%- endmacro %}

{% macro default__uncached_input_cost_usd(input_tokens, cached_tokens, cache_write_tokens, input_usd_per_1m) -%}
    cast(({{ input_tokens }} - {{ cached_tokens }} - {{ cache_write_tokens }}) * {{ input_usd_per_1m }} / 1000000.0 as {{ type_usd() }})
{%- endmacro %}

{% macro cached_input_cost_usd(cached_tokens, cached_input_usd_per_1m) -%}
    {{ return(adapter.dispatch('cached_input_cost_usd', 'chat_telemetry')(cached_tokens, cached_input_usd_per_1m)) }}
{%- endmacro %}

{% macro default__cached_input_cost_usd(cached_tokens, cached_input_usd_per_1m) -%}
    cast({{ cached_tokens }} * {{ cached_input_usd_per_1m }} / 1000000.0 as {{ type_usd() }})
{%- endmacro %}

{% macro cache_write_input_cost_usd(cache_write_tokens, cache_write_input_usd_per_1m) -%}
    {{ return(adapter.dispatch('cache_write_input_cost_usd', 'chat_telemetry')(cache_write_tokens, cache_write_input_usd_per_1m)) }}
{%- endmacro %}

{% macro default__cache_write_input_cost_usd(cache_write_tokens, cache_write_input_usd_per_1m) -%}
    cast({{ cache_write_tokens }} * {{ cache_write_input_usd_per_1m }} / 1000000.0 as {{ type_usd() }})
{%- endmacro %}

{% macro output_cost_usd(output_tokens, output_usd_per_1m) -%}
    {{ return(adapter.dispatch('output_cost_usd', 'chat_telemetry')(output_tokens, output_usd_per_1m)) }}
{%- endmacro %}

{% macro default__output_cost_usd(output_tokens, output_usd_per_1m) -%}
    cast({{ output_tokens }} * {{ output_usd_per_1m }} / 1000000.0 as {{ type_usd() }})
{%- endmacro %}

{#-
    The whole call (or a sum of calls billed alike) in USD x 1e6: tokens x price per 1M, exact
    and cheap to sum; readers multiply the sum by 0.000001 once.
-#}
{% macro call_cost_usd_x1m(prefix) -%}
    ({{ prefix }}input_tokens - {{ prefix }}cached_input_tokens - {{ prefix }}cache_write_input_tokens)
    * {{ prefix }}input_usd_per_1m
    + {{ prefix }}cached_input_tokens * {{ prefix }}cached_input_usd_per_1m
    + {{ prefix }}cache_write_input_tokens * {{ prefix }}cache_write_input_usd_per_1m
    + {{ prefix }}output_tokens * {{ prefix }}output_usd_per_1m
{%- endmacro %}

{#-
    Spark: decimal arithmetic keeps at most 38 digits and, past that, cuts the scale (down to
    6) instead of failing, so tokens x a 6-decimal price / 1e6 on wide types loses the digits
    below 1e-9 USD that 4-decimal prices (flex cached rates such as 0.0125) have. Narrow,
    exact operand types keep every digit: token counts below 1e18 (decimal(18, 0)), prices
    below 10,000 USD per 1M with 6 decimals (decimal(10, 6)); the quotient has scale 14.
-#}
{% macro spark_usd_of_tokens(tokens, usd_per_1m) -%}
    cast(
        cast({{ tokens }} as decimal(18, 0)) * cast({{ usd_per_1m }} as decimal(10, 6))
        / cast(1000000 as decimal(7, 0))
        as {{ type_usd() }}
    )
{%- endmacro %}

{% macro spark__uncached_input_cost_usd(input_tokens, cached_tokens, cache_write_tokens, input_usd_per_1m) -%}
    {{ spark_usd_of_tokens(
        '(' ~ input_tokens ~ ' - ' ~ cached_tokens ~ ' - ' ~ cache_write_tokens ~ ')',
        input_usd_per_1m
    ) }}
{%- endmacro %}

{% macro spark__cached_input_cost_usd(cached_tokens, cached_input_usd_per_1m) -%}
    {{ spark_usd_of_tokens(cached_tokens, cached_input_usd_per_1m) }}
{%- endmacro %}

{% macro spark__cache_write_input_cost_usd(cache_write_tokens, cache_write_input_usd_per_1m) -%}
    {{ spark_usd_of_tokens(cache_write_tokens, cache_write_input_usd_per_1m) }}
{%- endmacro %}

{% macro spark__output_cost_usd(output_tokens, output_usd_per_1m) -%}
    {{ spark_usd_of_tokens(output_tokens, output_usd_per_1m) }}
{%- endmacro %}

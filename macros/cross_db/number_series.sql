{#-
    The whole numbers 1 to upper_bound, one row each in column generated_number: a select
    statement for a CTE. Each engine's own row generator: dbt.generate_series cross-joins
    a two-row table once per power of two, which Spark plans as nine joins (0.3 s for the
    336 hours of int_alert_telemetry_silence against 0.06 s for range()).
-#}
{% macro number_series(upper_bound) -%}
    {{ return(adapter.dispatch('number_series', 'chat_telemetry')(upper_bound)) }}
{%- endmacro %}

{% macro default__number_series(upper_bound) -%}
    {{ dbt.generate_series(upper_bound) }}
{%- endmacro %}

{% macro postgres__number_series(upper_bound) -%}
    select generated_number
    from generate_series(1, {{ upper_bound }}) as generated_number
{%- endmacro %}

{% macro spark__number_series(upper_bound) -%}
    select id as generated_number
    from range(1, {{ upper_bound }} + 1)
{%- endmacro %}

{#- A model name without a trailing snapshot date: gpt-4o-mini-2024-07-18 -> gpt-4o-mini. -#}
{% macro strip_model_snapshot(model_column) -%}
    {{ return(adapter.dispatch('strip_model_snapshot', 'chat_telemetry')(model_column)) }}
{%- endmacro %}

{% macro postgres__strip_model_snapshot(model_column) -%}
    regexp_replace({{ model_column }}, '-[0-9]{4}-[0-9]{2}-[0-9]{2}$', '')
{%- endmacro %}

{% macro spark__strip_model_snapshot(model_column) -%}
    regexp_replace({{ model_column }}, '-[0-9]{4}-[0-9]{2}-[0-9]{2}$', '')
{%- endmacro %}

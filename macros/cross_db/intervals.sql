{#- A timestamptz moved by a (possibly fractional, possibly negative) number of hours. -#}
{% macro add_hours(timestamp_expression, hours_expression) -%}
    {{ return(adapter.dispatch('add_hours', 'chat_telemetry')(timestamp_expression, hours_expression)) }}
{%- endmacro %}

{% macro postgres__add_hours(timestamp_expression, hours_expression) -%}
    (({{ timestamp_expression }}) + ({{ hours_expression }}) * interval '1 hour')
{%- endmacro %}

{% macro spark__add_hours(timestamp_expression, hours_expression) -%}
    timestamp_micros(
        unix_micros({{ timestamp_expression }})
        + cast(({{ hours_expression }}) * 3600000000 as bigint)
    )
{%- endmacro %}

{#- Hours from one timestamptz to a later one, as a float. -#}
{% macro hours_between(earlier, later) -%}
    {{ return(adapter.dispatch('hours_between', 'chat_telemetry')(earlier, later)) }}
{%- endmacro %}

{% macro postgres__hours_between(earlier, later) -%}
    (extract(epoch from ({{ later }}) - ({{ earlier }})) / 3600.0)
{%- endmacro %}

{% macro spark__hours_between(earlier, later) -%}
    ((unix_micros({{ later }}) - unix_micros({{ earlier }})) / 3600000000.0)
{%- endmacro %}

{% macro interval_hours(hours) -%}
    {{ return(adapter.dispatch('interval_hours', 'chat_telemetry')(hours)) }}
{%- endmacro %}

{% macro postgres__interval_hours(hours) -%}
    interval '{{ hours | int }} hours'
{%- endmacro %}

{% macro spark__interval_hours(hours) -%}
    interval {{ hours | int }} hours
{%- endmacro %}

{% macro interval_minutes(minutes) -%}
    {{ return(adapter.dispatch('interval_minutes', 'chat_telemetry')(minutes)) }}
{%- endmacro %}

{% macro postgres__interval_minutes(minutes) -%}
    interval '{{ minutes | int }} minutes'
{%- endmacro %}

{% macro spark__interval_minutes(minutes) -%}
    interval {{ minutes | int }} minutes
{%- endmacro %}

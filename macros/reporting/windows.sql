{#- The report day that windowed marts end on: var as_of_date, else today in the time zone. -#}
{% macro as_of_date() -%}
    {%- set configured = telemetry_var('as_of_date') -%}
    {%- if configured -%}
        {{ date_literal(configured) }}
    {%- else -%}
        {{ local_date('current_timestamp', telemetry_var('reporting_timezone')) }}
    {%- endif -%}
{%- endmacro %}

{#- First day of the window_days-day window ending on as_of_date. -#}
{% macro window_start_date() -%}
    {{ add_days(as_of_date(), 1 - telemetry_var('window_days') | int) }}
{%- endmacro %}

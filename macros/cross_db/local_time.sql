{#- The calendar day of a timestamptz in an IANA time zone. -#}
{% macro local_date(timestamp_column, timezone) -%}
    {{ return(adapter.dispatch('local_date', 'chat_telemetry')(timestamp_column, timezone)) }}
{%- endmacro %}

{% macro postgres__local_date(timestamp_column, timezone) -%}
    cast(({{ timestamp_column }}) at time zone '{{ timezone }}' as date)
{%- endmacro %}

{% macro spark__local_date(timestamp_column, timezone) -%}
    to_date(from_utc_timestamp({{ timestamp_column }}, '{{ timezone }}'))
{%- endmacro %}

{#-
    The UTC day of a raw row's created_at, as staging passes it on (created_date): on Spark
    the landed table's partition column (computed by Postgres at landing), so that a filter on
    it prunes the days a scheduled run does not read; on Postgres computed.
-#}
{% macro created_utc_date() -%}
    {{ return(adapter.dispatch('created_utc_date', 'chat_telemetry')()) }}
{%- endmacro %}

{% macro default__created_utc_date() -%}
    {{ local_date('created_at', 'UTC') }}
{%- endmacro %}

{% macro spark__created_utc_date() -%}
    created_date
{%- endmacro %}

{#- The first instant of a local calendar day, as a timestamptz (for index-friendly filters). -#}
{% macro local_day_start(date_expression, timezone) -%}
    {{ return(adapter.dispatch('local_day_start', 'chat_telemetry')(date_expression, timezone)) }}
{%- endmacro %}

{% macro postgres__local_day_start(date_expression, timezone) -%}
    (cast({{ date_expression }} as timestamp) at time zone '{{ timezone }}')
{%- endmacro %}

{% macro spark__local_day_start(date_expression, timezone) -%}
    to_utc_timestamp(cast({{ date_expression }} as timestamp), '{{ timezone }}')
{%- endmacro %}

{#- The hour of day (0-23) of a timestamptz in an IANA time zone. -#}
{% macro local_hour(timestamp_column, timezone) -%}
    {{ return(adapter.dispatch('local_hour', 'chat_telemetry')(timestamp_column, timezone)) }}
{%- endmacro %}

{% macro postgres__local_hour(timestamp_column, timezone) -%}
    cast(extract(hour from ({{ timestamp_column }}) at time zone '{{ timezone }}') as integer)
{%- endmacro %}

{% macro spark__local_hour(timestamp_column, timezone) -%}
    hour(from_utc_timestamp({{ timestamp_column }}, '{{ timezone }}'))
{%- endmacro %}

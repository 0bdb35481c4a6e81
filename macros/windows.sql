{#- The report day that windowed marts end on: var as_of_date, else today in the time zone. -#}
{% macro as_of_date() -%}
    {%- set configured = var('as_of_date', '') -%}
    {%- if configured -%}
        {{ date_literal(configured) }}
    {%- else -%}
        {{ local_date('current_timestamp', var('reporting_timezone')) }}
    {%- endif -%}
{%- endmacro %}

{#- First day of the window_days-day window ending on as_of_date. -#}
{% macro window_start_date() -%}
    {{ add_days(as_of_date(), 1 - var('window_days') | int) }}
{%- endmacro %}

{#-
    The incremental predicate of the daily marts. On an incremental run, the first
    request_date to rebuild: lookback_days days back from the newest day already built.
    Returns a date literal (looked up once, so the planner sees a constant and the
    created_at index serves the scan), or none on a full build.
-#}
{% macro incremental_start_date(date_column='request_date') -%}
    {%- if not is_incremental() or not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set lookback = var('lookback_days') | int -%}
    {%- set query -%}
        select {{ add_days('max(' ~ date_column ~ ')', 1 - lookback) }} from {{ this }}
    {%- endset -%}
    {%- set newest = run_query(query).columns[0].values()[0] -%}
    {%- if newest is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(newest | string) }}
{%- endmacro %}

{#- A where-clause filter for the incremental rebuild, on created_at and request_date. -#}
{% macro incremental_filter(timestamp_column='created_at', date_column='request_date') -%}
    {%- set start_date = incremental_start_date() -%}
    {%- if start_date is none -%}
        1 = 1
    {%- else -%}
        {{ timestamp_column }} >= {{ local_day_start(date_literal(start_date), var('reporting_timezone')) }}
        and {{ date_column }} >= {{ date_literal(start_date) }}
    {%- endif -%}
{%- endmacro %}

{#-
    The configuration every daily incremental model shares: rebuild whole days of
    request_date and let new columns in without a full refresh. Models call
    `{{ config(**daily_incremental_config()) }}`. On Postgres that is delete+insert on
    request_date (`indexed=true` adds an index there for large intermediate tables, whose
    delete would otherwise scan them); on Spark, an insert_overwrite of request_date partitions.
-#}
{% macro daily_incremental_config(indexed=false) -%}
    {{ return(adapter.dispatch('daily_incremental_config', 'chat_telemetry')(indexed)) }}
{%- endmacro %}

{% macro default__daily_incremental_config(indexed) -%}
    {%- set settings = {
        'materialized': 'incremental',
        'unique_key': 'request_date',
        'incremental_strategy': 'delete+insert',
        'on_schema_change': 'append_new_columns',
    } -%}
    {%- if indexed -%}
        {%- do settings.update({'indexes': [{'columns': ['request_date']}]}) -%}
    {%- endif -%}
    {{ return(settings) }}
{%- endmacro %}

{% macro spark__daily_incremental_config(indexed) -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'insert_overwrite',
        'partition_by': ['request_date'],
        'file_format': 'parquet',
        'on_schema_change': 'append_new_columns',
    }) }}
{%- endmacro %}

{#-
    Daily incremental models rebuild whole days. Each scheduled run replaces every request_date
    from its start date onwards (the last lookback_days days, and any gap since the newest day
    built), so that a day whose rows are gone (a user erased, rows moved to another day)
    disappears, and late rows are counted. Days before the start date are kept as they are,
    which is what lets the marts outlive the raw rows (retention purge).
-#}

{#- The run's start instant (dbt's run_started_at, UTC) as a timestamptz. -#}
{% macro run_started_at_utc() -%}
    {{ return(adapter.dispatch('run_started_at_utc', 'chat_telemetry')()) }}
{%- endmacro %}

{#- Seconds since the epoch: unambiguous whatever the session's time zone. -#}
{% macro run_started_at_epoch() -%}
    {{ run_started_at.replace(tzinfo=modules.pytz.utc).timestamp() }}
{%- endmacro %}

{% macro postgres__run_started_at_utc() -%}
    to_timestamp({{ run_started_at_epoch() }})
{%- endmacro %}

{% macro spark__run_started_at_utc() -%}
    timestamp_micros(cast({{ run_started_at_epoch() }} * 1000000 as bigint))
{%- endmacro %}

{#-
    Rows stamped later than this are from a skewed clock: no mart counts them (the test
    assert_no_telemetry_from_the_future warns about them), so that one row from 2099 cannot
    move the incremental start date past today.
-#}
{% macro latest_trusted_created_at() -%}
    ({{ run_started_at_utc() }} + {{ interval_hours(var('future_tolerance_hours')) }})
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

{#-
    The first request_date an incremental run rebuilds, as an ISO date string, or none on a
    full build (or when the table is empty). lookback_days back from the newest day built,
    and never later than lookback_days back from today: a run always rebuilds the last
    lookback_days days, and a schedule that paused for a week catches up on every missed day.
-#}
{% macro incremental_start_date(date_column='request_date') -%}
    {%- if not execute or not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set days_back = 1 - (var('lookback_days') | int) -%}
    {%- set today = local_date(run_started_at_utc(), var('reporting_timezone')) -%}
    {%- set query -%}
        select
            case
                when max({{ date_column }}) is null then null
                when max({{ date_column }}) < {{ today }}
                    then {{ add_days('max(' ~ date_column ~ ')', days_back) }}
                else {{ add_days(today, days_back) }}
            end as start_date
        from {{ this }}
    {%- endset -%}
    {%- set start_date = run_query(query).columns[0].values()[0] -%}
    {%- if start_date is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(start_date | string) }}
{%- endmacro %}

{#- A where-clause filter for the incremental rebuild, on created_at and request_date. -#}
{% macro incremental_filter(timestamp_column='created_at', date_column='request_date') -%}
    {%- set start_date = incremental_start_date(date_column) -%}
    {%- if start_date is none -%}
        1 = 1
    {%- else -%}
        {{ timestamp_column }} >= {{ local_day_start(date_literal(start_date), var('reporting_timezone')) }}
        and {{ date_column }} >= {{ date_literal(start_date) }}
    {%- endif -%}
{%- endmacro %}

{#-
    The configuration every daily incremental model shares. Models call
    `{{ config(**daily_incremental_config()) }}`. On Postgres, the custom strategy
    `replace_days` below (`indexed=true` adds an index on request_date for large intermediate
    tables, whose delete would otherwise scan them); on Spark, an insert_overwrite of
    request_date partitions.
-#}
{% macro daily_incremental_config(indexed=false) -%}
    {{ return(adapter.dispatch('daily_incremental_config', 'chat_telemetry')(indexed)) }}
{%- endmacro %}

{% macro default__daily_incremental_config(indexed) -%}
    {%- set settings = {
        'materialized': 'incremental',
        'incremental_strategy': 'replace_days',
        'on_schema_change': 'append_new_columns',
    } -%}
    {%- if indexed -%}
        {%- do settings.update({'indexes': [{'columns': ['request_date']}]}) -%}
    {%- endif -%}
    {{ return(settings) }}
{%- endmacro %}

{#-
    dbt-spark has no custom incremental strategies: on Spark the same whole-day rebuild is
    insert_overwrite of request_date partitions (Parquet, dynamic overwrite) preceded by the
    pre-hook drop_days_to_rebuild(), which drops every partition from the start date on, so
    that a day with no rows any more disappears as it does on Postgres.
-#}
{% macro spark__daily_incremental_config(indexed) -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'insert_overwrite',
        'partition_by': ['request_date'],
        'file_format': 'parquet',
        'on_schema_change': 'append_new_columns',
        'pre_hook': ['{{ drop_days_to_rebuild() }}'],
    }) }}
{%- endmacro %}

{#- Spark pre-hook: drop the request_date partitions the incremental run rebuilds. -#}
{% macro drop_days_to_rebuild() -%}
    {%- set start_date = incremental_start_date() -%}
    {%- if start_date is none -%}
        {{ return('select 1') }}
    {%- endif -%}
    {%- set days = run_query(
        'select distinct request_date from ' ~ this
        ~ ' where request_date >= ' ~ date_literal(start_date)
    ).columns[0].values() -%}
    {%- for day in days -%}
        {%- do run_query(
            "alter table " ~ this ~ " drop if exists partition (request_date = '"
            ~ day ~ "')"
        ) -%}
    {%- endfor -%}
    {{ return('select 1') }}
{%- endmacro %}

{#-
    dbt's custom incremental strategy `replace_days`: delete every day from the run's start
    date onwards, then insert the rebuilt days. Unlike delete+insert on a unique key, a day
    that has no rows any more is removed too.
-#}
{% macro get_incremental_replace_days_sql(arg_dict) -%}
    {{ return(adapter.dispatch('replace_days_sql', 'chat_telemetry')(arg_dict)) }}
{%- endmacro %}

{% macro default__replace_days_sql(arg_dict) -%}
    {%- set start_date = incremental_start_date() -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    {%- if start_date is not none %}
    delete from {{ arg_dict['target_relation'] }}
    where request_date >= {{ date_literal(start_date) }};
    {%- endif %}
    insert into {{ arg_dict['target_relation'] }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
{%- endmacro %}

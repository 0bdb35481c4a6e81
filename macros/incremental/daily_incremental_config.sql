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
    ({{ run_started_at_utc() }} + {{ interval_hours(telemetry_var('future_tolerance_hours')) }})
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

{#-
    The first request_date an incremental run rebuilds, as an ISO date string, or none on a
    full build (or when the table is empty): lookback_start_date of the model's own table.
-#}
{% macro incremental_start_date(date_column='request_date') -%}
    {%- if not execute or not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(lookback_start_date(this, date_column)) }}
{%- endmacro %}

{#-
    The first day a run rebuilds from a table of days, as an ISO date string (none when it is
    empty): lookback_days back from its newest day, and never later than lookback_days back
    from today, so a run always rebuilds the last lookback_days days and a schedule that
    paused for a week catches up on every missed day. Also where int_sql_fingerprints_settled
    puts its boundary: the days before it are never rebuilt again.
-#}
{% macro lookback_start_date(relation, date_column='request_date') -%}
    {%- set days_back = 1 - (telemetry_var('lookback_days') | int) -%}
    {%- set today = local_date(run_started_at_utc(), telemetry_var('reporting_timezone')) -%}
    {%- set query -%}
        select
            case
                when max({{ date_column }}) is null then null
                when max({{ date_column }}) < {{ today }}
                    then {{ add_days('max(' ~ date_column ~ ')', days_back) }}
                else {{ add_days(today, days_back) }}
            end as start_date
        from {{ relation }}
    {%- endset -%}
    {%- set start_date = run_query(query).columns[0].values()[0] -%}
    {{ return(none if start_date is none else start_date | string) }}
{%- endmacro %}

{#- A where-clause filter for the incremental rebuild, on created_at and request_date. -#}
{% macro incremental_filter(timestamp_column='created_at', date_column='request_date') -%}
    {%- set start_date = incremental_start_date(date_column) -%}
    {%- if start_date is none -%}
        1 = 1
    {%- else -%}
        {{ timestamp_column }} >= {{ local_day_start(date_literal(start_date), telemetry_var('reporting_timezone')) }}
        and {{ date_column }} >= {{ date_literal(start_date) }}
    {%- endif -%}
{%- endmacro %}

{#-
    The configuration every daily incremental model shares. Models call
    `{{ config(**daily_incremental_config()) }}`; `forget_erased_users=true` adds the post-hook
    that forgets users missing from auth.users (macros/retention.sql; `log_forgotten_days=true`
    also logs the days it forgot someone on); `reprice=true` (the cost marts) also rebuilds the
    days whose prices changed and records the prices applied, `rebuild_forgotten_days=true` the
    days logged as forgotten (macros/repriced_days.sql). On Postgres, the custom
    strategy `replace_days` below (`indexed=true` adds an index on request_date for large
    intermediate tables, whose delete would otherwise scan them; `extra_indexes` one index
    per column named, for models read by another key); on Spark, an
    insert_overwrite of request_date partitions with the hooks below.
-#}
{% macro daily_incremental_config(
    indexed=false, forget_erased_users=false, log_forgotten_days=false, reprice=false,
    rebuild_forgotten_days=false, extra_indexes=[]
) -%}
    {%- set settings = adapter.dispatch('daily_incremental_config', 'chat_telemetry')(
        indexed, forget_erased_users, log_forgotten_days, extra_indexes
    ) -%}
    {%- set post_hooks = settings.get('post_hook', []) -%}
    {%- if reprice -%}
        {%- do post_hooks.append('{{ record_applied_prices() }}') -%}
    {%- endif -%}
    {%- if rebuild_forgotten_days -%}
        {%- do post_hooks.append('{{ consume_forgotten_days() }}') -%}
    {%- endif -%}
    {%- if post_hooks -%}
        {%- do settings.update({'post_hook': post_hooks}) -%}
    {%- endif -%}
    {%- if reprice or rebuild_forgotten_days -%}
        {%- do settings.update({'meta': {
            'chat_telemetry_reprice': reprice,
            'chat_telemetry_rebuild_forgotten_days': rebuild_forgotten_days,
        }}) -%}
    {%- endif -%}
    {{ return(settings) }}
{%- endmacro %}

{% macro default__daily_incremental_config(
    indexed, forget_erased_users, log_forgotten_days, extra_indexes=[]
) -%}
    {%- set settings = {
        'materialized': 'incremental',
        'incremental_strategy': 'replace_days',
        'on_schema_change': 'append_new_columns',
    } -%}
    {%- set indexes = [{'columns': ['request_date']}] if indexed else [] -%}
    {%- for column in extra_indexes -%}
        {%- do indexes.append({'columns': [column]}) -%}
    {%- endfor -%}
    {%- if indexes -%}
        {%- do settings.update({'indexes': indexes}) -%}
    {%- endif -%}
    {%- if forget_erased_users -%}
        {%- do settings.update({'post_hook': [
            '{{ forget_erased_users(log_forgotten_days=' ~ log_forgotten_days ~ ') }}'
        ]}) -%}
    {%- endif -%}
    {{ return(settings) }}
{%- endmacro %}

{#-
    dbt-spark has no custom incremental strategies: on Spark the same whole-day rebuild is
    insert_overwrite of request_date partitions (Parquet, dynamic overwrite), which replaces
    every day the run rebuilt, plus two hooks for the days it did not: the pre-hook lists the
    days from the start date on that the table holds, the post-hook drops those of them that
    have no row any more (a day made by an erased user alone). Nothing is dropped before the
    new rows are written, so a run that fails midway loses no day.
-#}
{% macro spark__daily_incremental_config(
    indexed, forget_erased_users, log_forgotten_days, extra_indexes=[]
) -%}
    {%- set post_hooks = ['{{ drop_days_not_rebuilt() }}'] -%}
    {%- if forget_erased_users -%}
        {%- do post_hooks.append(
            '{{ forget_erased_users(log_forgotten_days=' ~ log_forgotten_days ~ ') }}'
        ) -%}
    {%- endif -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'insert_overwrite',
        'partition_by': ['request_date'],
        'file_format': 'parquet',
        'on_schema_change': 'append_new_columns',
        'pre_hook': ['{{ list_days_to_rebuild() }}'],
        'post_hook': post_hooks,
    }) }}
{%- endmacro %}

{#- The scratch table of the days an incremental run on Spark rebuilds. -#}
{% macro days_to_rebuild_relation() -%}
    {{ return(this.incorporate(path={'identifier': this.identifier ~ '__days_to_rebuild'})) }}
{%- endmacro %}

{#- Whether a table exists on Spark (dbt's relation cache does not see run_query's tables). -#}
{% macro spark_table_exists(relation) -%}
    {%- set found = run_query(
        "show tables in " ~ relation.schema ~ " like '" ~ relation.identifier ~ "'"
    ) -%}
    {{ return(found | length > 0) }}
{%- endmacro %}

{#-
    Spark: drop whole partitions (a day with no row left must not stay); partition_column:
    request_date, or first_request_date for fct_conversations.
-#}
{% macro drop_day_partitions(relation, days, partition_column='request_date') -%}
    {%- for day in days -%}
        {%- do run_query(
            "alter table " ~ relation ~ " drop if exists partition (" ~ partition_column
            ~ " = '" ~ day ~ "')"
        ) -%}
    {%- endfor -%}
{%- endmacro %}

{#-
    Spark pre-hook: record the days (partitions of partition_column) the run rebuilds that the
    table holds now; `filter`: the where-clause selecting them (rebuilt_days_filter when none).
-#}
{% macro list_days_to_rebuild(partition_column='request_date', filter=none) -%}
    {%- if not execute or not is_incremental() -%}
        {{ return('select 1') }}
    {%- endif -%}
    {%- if filter is none -%}
        {%- set filter = rebuilt_days_filter() -%}
    {%- endif -%}
    {%- set listed = days_to_rebuild_relation() -%}
    {%- do run_query('drop table if exists ' ~ listed) -%}
    {%- do run_query(
        'create table ' ~ listed ~ ' using parquet as select distinct ' ~ partition_column
        ~ ' from ' ~ this ~ ' where ' ~ filter
    ) -%}
    {{ return('select 1') }}
{%- endmacro %}

{#-
    Spark post-hook: drop the listed days that the rebuilt rows (dbt-spark's temporary view
    <model>__dbt_tmp) no longer have; insert_overwrite replaced all the others.
-#}
{% macro drop_days_not_rebuilt(partition_column='request_date') -%}
    {%- if not execute -%}
        {{ return('select 1') }}
    {%- endif -%}
    {%- set listed = days_to_rebuild_relation() -%}
    {%- if not spark_table_exists(listed) -%}
        {{ return('select 1') }}
    {%- endif -%}
    {%- set rebuilt = this.identifier ~ '__dbt_tmp' -%}
    {%- set days = run_query(
        'select ' ~ partition_column ~ ' from ' ~ listed ~ ' where ' ~ partition_column
        ~ ' not in (select distinct ' ~ partition_column ~ ' from ' ~ rebuilt ~ ')'
    ).columns[0].values() -%}
    {%- do drop_day_partitions(this, days, partition_column) -%}
    {%- do run_query('drop table if exists ' ~ listed) -%}
    {{ return('select 1') }}
{%- endmacro %}

{#-
    dbt's custom incremental strategy `replace_days`: delete every day the run rebuilds (from
    its start date onwards, plus the repriced days of the cost marts), then insert them. Unlike delete+insert on a unique key, a day
    that has no rows any more is removed too.
-#}
{% macro get_incremental_replace_days_sql(arg_dict) -%}
    {{ return(adapter.dispatch('replace_days_sql', 'chat_telemetry')(arg_dict)) }}
{%- endmacro %}

{% macro default__replace_days_sql(arg_dict) -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ arg_dict['target_relation'] }}
    where {{ rebuilt_days_filter() }};
    insert into {{ arg_dict['target_relation'] }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
{%- endmacro %}

{#-
    Which days a cost mart rebuilds. Prices are applied at build time from the seed as it is,
    so a seed edit must reprice the days that used an edited price, and only those. Each cost
    mart records, beside the intermediate models, the prices it applied
    (`<mart>__applied_prices`: a copy of int_token_prices_matched, one row per UTC pricing day,
    model and service tier in use). A run compares the prices matched now with the recorded
    ones; every (pricing day, model, tier) that differs (a new price for an unpriced model, a
    corrected price, a valid_from moved, a row removed) is traced to its request days through
    int_model_tiers_used_daily, which outlives a retention purge. The record is replaced after
    the rebuild, in the same transaction on Postgres and last on Spark: a run that fails
    before it leaves the old record, and the next run reprices those days again.

    fct_daily_token_cost has no user_id, so it also rebuilds the days on which the token sums
    forgot an erased user: the forget hook of int_token_usage_aggregated_daily logs them in
    `<that model>__forgotten_days`, and the mart empties the log after its rebuild.
-#}

{#- The fixed list of the matched price columns that are compared and recorded. -#}
{% macro applied_price_columns() -%}
    {{ return([
        'pricing_date', 'model', 'service_tier', 'priced_as_model',
        'input_usd_per_1m', 'cached_input_usd_per_1m', 'cache_write_input_usd_per_1m',
        'output_usd_per_1m', 'long_context_threshold_tokens', 'long_context_input_usd_per_1m',
        'long_context_cached_input_usd_per_1m', 'long_context_cache_write_input_usd_per_1m',
        'long_context_output_usd_per_1m',
    ]) }}
{%- endmacro %}

{#- Where the current model's applied prices are recorded: the internal schema. -#}
{% macro applied_prices_relation() -%}
    {%- set matched = ref('int_token_prices_matched') -%}
    {{ return(matched.incorporate(path={'identifier': this.identifier ~ '__applied_prices'}, type='table')) }}
{%- endmacro %}

{#- The log of the request days on which the token sums forgot a user. -#}
{% macro forgotten_days_relation(sums=none) -%}
    {%- if sums is none -%}
        {%- set sums = ref('int_token_usage_aggregated_daily') -%}
    {%- endif -%}
    {{ return(sums.incorporate(path={'identifier': sums.identifier ~ '__forgotten_days'}, type='table')) }}
{%- endmacro %}

{#- Whether a table exists now (dbt's relation cache misses tables made by hooks). -#}
{% macro table_exists(relation) -%}
    {{ return(adapter.dispatch('table_exists', 'chat_telemetry')(relation)) }}
{%- endmacro %}

{% macro default__table_exists(relation) -%}
    {%- set found = run_query(
        "select to_regclass('" ~ relation.schema ~ "." ~ relation.identifier ~ "') is not null"
    ).columns[0].values()[0] -%}
    {{ return(found) }}
{%- endmacro %}

{% macro spark__table_exists(relation) -%}
    {{ return(spark_table_exists(relation)) }}
{%- endmacro %}

{#-
    The request days whose applied prices differ from the prices matched now, as ISO date
    strings, or none when the record is missing (a first run after an upgrade: every day is
    repriced). Only for models configured with reprice=true.
-#}
{% macro repriced_request_dates() -%}
    {%- set matched = ref('int_token_prices_matched') -%}
    {%- set used = ref('int_model_tiers_used_daily') -%}
    {%- set recorded = applied_prices_relation() -%}
    {%- if not table_exists(recorded) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set columns = applied_price_columns() | join(', ') -%}
    {%- set query -%}
        with

        current_prices as (
            select {{ columns }} from {{ matched }}
        ),

        recorded_prices as (
            select {{ columns }} from {{ recorded }}
        ),

        added_prices as (
            select * from current_prices
            except
            select * from recorded_prices
        ),

        removed_prices as (
            select * from recorded_prices
            except
            select * from current_prices
        ),

        changed_prices as (
            select pricing_date, model, service_tier from added_prices
            union
            select pricing_date, model, service_tier from removed_prices
        )

        -- a changed price no request day uses yet still gives one row (request_date NULL):
        -- it says that the record must be rewritten
        select distinct used.request_date
        from changed_prices
        left join {{ used }} as used
            on
                changed_prices.pricing_date = used.pricing_date
                and changed_prices.model = used.model
                and changed_prices.service_tier = used.service_tier
        order by used.request_date
    {%- endset -%}
    {%- set rows = run_query(query).columns[0].values() -%}
    {%- do remember_for_this_run(applied_prices_current_key(), rows | length == 0) -%}
    {%- set days = [] -%}
    {%- for day in rows if day is not none -%}
        {%- do days.append(day | string) -%}
    {%- endfor -%}
    {{ return(days) }}
{%- endmacro %}

{#- The request days logged as having forgotten a user, as ISO date strings. -#}
{% macro forgotten_request_dates() -%}
    {%- set log_table = forgotten_days_relation() -%}
    {%- if not table_exists(log_table) -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set days = [] -%}
    {%- for day in run_query(
        'select distinct request_date from ' ~ log_table ~ ' order by request_date'
    ).columns[0].values() -%}
        {%- do days.append(day | string) -%}
    {%- endfor -%}
    {{ return(days) }}
{%- endmacro %}

{#-
    The days the current incremental run rebuilds: {'all': true} on a full build (or when the
    record of applied prices is missing), else the start date (none on an empty table) and the
    extra days before it that must be rebuilt (repriced, or a user forgotten on them).
    `date_column`: the expression giving a row's request day in the model's own table
    (fct_conversations: the day of last_request_at).
-#}
{% macro rebuilt_days(date_column='request_date') -%}
    {%- if not execute or not is_incremental() -%}
        {{ return({'all': true, 'start_date': none, 'extra_days': []}) }}
    {%- endif -%}
    {{ return(cached_for_this_run(
        'rebuilt_days ' ~ this ~ ' ' ~ date_column, compute_rebuilt_days, date_column
    )) }}
{%- endmacro %}

{#- rebuilt_days, queried (once per model and run: the model and its hooks share it). -#}
{% macro compute_rebuilt_days(date_column) -%}
    {%- set reprice = config.meta_get('chat_telemetry_reprice') or false -%}
    {%- set rebuild_forgotten = config.meta_get('chat_telemetry_rebuild_forgotten_days') or false -%}
    {%- if not execute or not is_incremental() -%}
        {{ return({'all': true, 'start_date': none, 'extra_days': []}) }}
    {%- endif -%}
    {%- set start_date = incremental_start_date(date_column) -%}
    {%- set extra_days = [] -%}
    {%- if reprice -%}
        {%- set missing = columns_missing_from_this() -%}
        {%- if missing -%}
            {{ log(this ~ ': built before column(s) ' ~ missing | join(', ') ~ ' existed: repricing every day', info=true) }}
            {{ return({'all': true, 'start_date': none, 'extra_days': []}) }}
        {%- endif -%}
        {%- set repriced = repriced_request_dates() -%}
        {%- if repriced is none -%}
            {{ log(this ~ ': no record of the prices applied: repricing every day', info=true) }}
            {{ return({'all': true, 'start_date': none, 'extra_days': []}) }}
        {%- endif -%}
        {%- do extra_days.extend(repriced) -%}
    {%- endif -%}
    {%- if rebuild_forgotten -%}
        {%- do extra_days.extend(forgotten_request_dates()) -%}
    {%- endif -%}
    {%- set before_start = [] -%}
    {%- for day in extra_days | unique | sort -%}
        {%- if start_date is none or day < start_date -%}
            {%- do before_start.append(day) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if before_start -%}
        {{ log(this ~ ': rebuilding ' ~ before_start | length ~ ' day(s) before ' ~ start_date ~ ': ' ~ before_start | join(', '), info=true) }}
    {%- endif -%}
    {{ return({'all': start_date is none, 'start_date': start_date, 'extra_days': before_start}) }}
{%- endmacro %}

{#-
    The documented columns of the current model that its table lacks (a cost mart built by an
    older version: `append_new_columns` would leave them NULL on every older day, so the run
    that adds them reprices every day, purged ones included, from the retained token sums).
-#}
{% macro columns_missing_from_this() -%}
    {%- set present = [] -%}
    {%- for column in adapter.get_columns_in_relation(this) -%}
        {%- do present.append(column.name | lower) -%}
    {%- endfor -%}
    {%- set missing = [] -%}
    {%- for name in model.columns -%}
        {%- if name | lower not in present -%}
            {%- do missing.append(name) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(missing) }}
{%- endmacro %}

{#-
    A where-clause on request_date selecting the days the run rebuilds (`days`: what
    rebuilt_days returned, when the caller already has it).
-#}
{% macro rebuilt_days_filter(date_column='request_date', days=none) -%}
    {%- if days is none -%}
        {%- set days = rebuilt_days() -%}
    {%- endif -%}
    {%- if days['all'] -%}
        1 = 1
    {%- else -%}
        {%- set parts = [] -%}
        {%- if days['start_date'] is not none -%}
            {%- do parts.append(date_column ~ ' >= ' ~ date_literal(days['start_date'])) -%}
        {%- endif -%}
        {%- if days['extra_days'] -%}
            {%- set literals = [] -%}
            {%- for day in days['extra_days'] -%}
                {%- do literals.append(date_literal(day)) -%}
            {%- endfor -%}
            {%- do parts.append(date_column ~ ' in (' ~ literals | join(', ') ~ ')') -%}
        {%- endif -%}
        ({{ parts | join(' or ') }})
    {%- endif -%}
{%- endmacro %}

{#-
    The run-cache key under which repriced_request_dates notes that the recorded prices equal
    the prices matched now (no price added, changed or removed since the last complete run).
-#}
{% macro applied_prices_current_key() -%}
    {{ return('applied prices current ' ~ this) }}
{%- endmacro %}

{#-
    Post-hook of the cost marts: record the prices this build applied. Skipped (select 1)
    when this run found the record equal to the prices matched now: rewriting the same rows
    cost a Spark job per cost mart on every scheduled run. A full build, a missing record or
    any difference rewrites it.
-#}
{% macro record_applied_prices() -%}
    {%- if recalled_from_this_run(applied_prices_current_key()) -%}
        {{ return('select 1') }}
    {%- endif -%}
    {{ return(adapter.dispatch('record_applied_prices', 'chat_telemetry')()) }}
{%- endmacro %}

{% macro default__record_applied_prices() -%}
    {%- set recorded = applied_prices_relation() -%}
    {%- set columns = applied_price_columns() | join(', ') -%}
    {%- set matched = ref('int_token_prices_matched') -%}
    create table if not exists {{ recorded }} as
    select {{ columns }} from {{ matched }} where 1 = 0;
    delete from {{ recorded }};
    insert into {{ recorded }} ({{ columns }})
    select {{ columns }} from {{ matched }}
{%- endmacro %}

{% macro spark__record_applied_prices() -%}
    {%- set recorded = applied_prices_relation() -%}
    {%- set columns = applied_price_columns() | join(', ') -%}
    {%- set matched = ref('int_token_prices_matched') -%}
    {%- if execute -%}
        {%- do run_query(
            'create table if not exists ' ~ recorded ~ ' using parquet as select ' ~ columns
            ~ ' from ' ~ matched ~ ' where 1 = 0'
        ) -%}
    {%- endif -%}
    insert overwrite table {{ recorded }} select {{ columns }} from {{ matched }}
{%- endmacro %}

{#- Post-hook of fct_daily_token_cost: the logged days are rebuilt, empty the log. -#}
{% macro consume_forgotten_days() -%}
    {{ return(adapter.dispatch('consume_forgotten_days', 'chat_telemetry')()) }}
{%- endmacro %}

{% macro default__consume_forgotten_days() -%}
    {%- set log_table = forgotten_days_relation() -%}
    {%- if execute and table_exists(log_table) -%}
        delete from {{ log_table }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{% macro spark__consume_forgotten_days() -%}
    {%- set log_table = forgotten_days_relation() -%}
    {%- if execute and table_exists(log_table) -%}
        truncate table {{ log_table }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

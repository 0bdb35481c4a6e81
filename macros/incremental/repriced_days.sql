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

{#-
    Where a cost mart's applied prices are recorded, in the internal schema: the current
    model's, or those of the mart named `mart_identifier`.
-#}
{% macro applied_prices_relation(mart_identifier=none) -%}
    {%- set matched = matched_prices_relation() -%}
    {%- set mart_identifier = this.identifier if mart_identifier is none else mart_identifier -%}
    {{ return(matched.incorporate(path={'identifier': mart_identifier ~ '__applied_prices'}, type='table')) }}
{%- endmacro %}

{#-
    int_token_prices_matched's relation: `this` in its own post-hook
    (compare_applied_prices_early; a model cannot ref() itself), else ref().
-#}
{% macro matched_prices_relation() -%}
    {%- if model.package_name == 'chat_telemetry' and model.name == 'int_token_prices_matched' -%}
        {{ return(this) }}
    {%- endif -%}
    {{ return(ref('int_token_prices_matched')) }}
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
    repriced). Only for models configured with reprice=true. Every selected cost mart is
    compared in one query a run (repriced_days_of_cost_marts): on Spark a query costs a
    fixed few hundred milliseconds, and the three marts asked the same question of the same
    matched prices. The answer stays true until the mart runs: its record is written only by
    its own post-hook, and the matched prices are built before every cost mart.
-#}
{% macro repriced_request_dates() -%}
    {%- set recorded = applied_prices_relation() -%}
    {%- set found = repriced_days_of_cost_marts_once() -%}
    {%- if recorded.identifier not in found -%}
        {#- not a selected cost mart of this package (a direct call): asked on its own -#}
        {%- set found = repriced_days_by_record([recorded]) -%}
    {%- endif -%}
    {%- set mine = found[recorded.identifier] -%}
    {%- if mine is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- do remember_for_this_run(applied_prices_current_key(), mine['current']) -%}
    {{ return(mine['days']) }}
{%- endmacro %}

{#-
    repriced_days_of_cost_marts, queried once per run and kept in the run's cache. The
    post-hook of int_token_prices_matched asks first, as soon as the matched prices are
    built (compare_applied_prices_early), so that the cost marts only read the answer.
-#}
{% macro repriced_days_of_cost_marts_once() -%}
    {{ return(cached_for_this_run(
        'repriced days of cost marts', repriced_days_of_cost_marts, none
    )) }}
{%- endmacro %}

{#-
    Post-hook of int_token_prices_matched: compare the prices matched now with the records
    of the selected cost marts (repriced_days_of_cost_marts_once), before any cost mart
    starts. Without it, two cost marts that started together on two threads both found the
    cache empty and both ran the comparison (1.2 s each in a scheduled Spark run at 1M
    rows). Nothing on a full refresh, where the cost marts rebuild every day (one configured
    full_refresh: false still asks, and computes it then). A comparison that fails fails
    this model: only the priced token sums (views) and the cost marts are downstream of it,
    and those failed on the same comparison before.
-#}
{% macro compare_applied_prices_early() -%}
    {%- if execute and not flags.FULL_REFRESH -%}
        {%- do repriced_days_of_cost_marts_once() -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}

{#-
    repriced_days_by_record for the records of every cost mart (meta chat_telemetry_reprice)
    this invocation selected.
-#}
{% macro repriced_days_of_cost_marts(unused) -%}
    {%- set records = [] -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.package_name == 'chat_telemetry' and node.resource_type == 'model'
            and node.unique_id in selected_resources
            and (node.config.get('meta') or {}).get('chat_telemetry_reprice') -%}
            {%- do records.append(applied_prices_relation(node.alias)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(repriced_days_by_record(records)) }}
{%- endmacro %}

{#-
    For each record of applied prices (relations), keyed by its identifier: none when the
    table is missing, else {'days': the request days using a (pricing day, model, tier) whose
    price differs from the prices matched now, sorted ISO date strings; 'current': whether no
    price differs at all}. One query for all of them, one grouping of every price row by
    where it is (matched now, in which record) rather than two `except`s per record: on
    Spark each `except` is a shuffle of its own (three records: 0.47 s against 0.79 s for
    the `except`s and 1.84 s for one query per record, at 1M rows).
-#}
{% macro repriced_days_by_record(records) -%}
    {%- set found = {} -%}
    {%- set present = [] -%}
    {%- for recorded in records -%}
        {%- if table_exists(recorded) -%}
            {%- do present.append(recorded) -%}
            {%- do found.update({recorded.identifier: {'days': [], 'current': true}}) -%}
        {%- else -%}
            {%- do found.update({recorded.identifier: none}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not present -%}
        {{ return(found) }}
    {%- endif -%}
    {%- set columns = applied_price_columns() | join(', ') -%}
    {%- set query -%}
        with

        every_price as (
            select '' as source_name, {{ columns }} from {{ matched_prices_relation() }}
            {%- for recorded in present %}
            union all
            select '{{ recorded.identifier }}' as source_name, {{ columns }} from {{ recorded }}
            {%- endfor %}
        ),

        -- where each distinct price row is: matched now, and in which records
        located_prices as (
            select
                pricing_date,
                model,
                service_tier,
                max(case when source_name = '' then 1 else 0 end) as is_current
                {%- for recorded in present %},
                max(case when source_name = '{{ recorded.identifier }}' then 1 else 0 end)
                    as is_in_record_{{ loop.index }}
                {%- endfor %}
            from every_price
            group by {{ columns }}
        ),

        -- a price row matched now but not in a record (added, corrected, valid_from moved),
        -- or in a record but not matched now (removed, corrected)
        changed_prices as (
            select
                records.record_name,
                located_prices.pricing_date,
                located_prices.model,
                located_prices.service_tier
            from located_prices
            cross join (
                values
                {%- for recorded in present %}
                ('{{ recorded.identifier }}'){{ ',' if not loop.last }}
                {%- endfor %}
            ) as records (record_name)
            where
                case records.record_name
                {%- for recorded in present %}
                    when '{{ recorded.identifier }}'
                        then located_prices.is_in_record_{{ loop.index }}
                {%- endfor %}
                end <> located_prices.is_current
        )

        -- a changed price no request day uses yet still gives one row (request_date NULL):
        -- it says that the record must be rewritten
        select distinct changed_prices.record_name, used.request_date
        from changed_prices
        left join {{ ref('int_model_tiers_used_daily') }} as used
            on
                changed_prices.pricing_date = used.pricing_date
                and changed_prices.model = used.model
                and changed_prices.service_tier = used.service_tier
        order by changed_prices.record_name, used.request_date
    {%- endset -%}
    {%- for row in run_query(query).rows -%}
        {%- set answer = found[row[0]] -%}
        {%- do answer.update({'current': false}) -%}
        {%- if row[1] is not none -%}
            {%- do answer['days'].append(row[1] | string) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(found) }}
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
    `date_column`: the column of a row's request day in the model's own table, or
    conversation_day_column() for fct_conversations (see newest_day).
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
    Post-hook of the cost marts: record the prices this build applied. Skipped (no statement)
    when this run found the record equal to the prices matched now: rewriting the same rows
    cost a Spark job per cost mart on every scheduled run. A full build, a missing record or
    any difference rewrites it.
-#}
{% macro record_applied_prices() -%}
    {%- if recalled_from_this_run(applied_prices_current_key()) -%}
        {{ return('') }}
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
    {%- endif -%}
{%- endmacro %}

{% macro spark__consume_forgotten_days() -%}
    {%- set log_table = forgotten_days_relation() -%}
    {%- if execute and table_exists(log_table) -%}
        truncate table {{ log_table }}
    {%- endif -%}
{%- endmacro %}

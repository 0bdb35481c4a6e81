{#-
    fct_sql_fingerprints adds up all history. Rather than re-adding every daily fingerprint
    row on each run, int_sql_fingerprints_settled keeps one row of totals per fingerprint for
    the days no scheduled run rebuilds any more (before the settling boundary), and the mart
    adds only the days from the boundary on. Days before the boundary never change: the daily
    fingerprint model rebuilds only from its start date (lookback_days back from its newest
    day, never later than today's), fingerprints are anonymous (erasure does not rebuild
    them) and no price enters them. Each run moves the boundary forward by adding the days
    that left the lookback; if it ever moves back (the newest day vanished), the totals are
    recomputed from the daily rows.
-#}

{#-
    The settling boundary: {'new': the first day a scheduled run may still rebuild, from the
    daily fingerprint model as this run left it; 'previous': the boundary the settled totals
    were built with (none on a full build or an empty table)}, both ISO date strings or none.
-#}
{% macro settled_fingerprint_boundary() -%}
    {%- set boundary = {'new': none, 'previous': none} -%}
    {%- set daily = ref('int_sql_fingerprints_aggregated_daily') -%}
    {%- if not execute or load_relation(daily) is none -%}
        {{ return(boundary) }}
    {%- endif -%}
    {%- do boundary.update({'new': lookback_start_date(daily, partitioned=true)}) -%}
    {%- if is_incremental() -%}
        {%- set recorded = run_query(
            'select max(settled_before_date) from ' ~ this
        ).columns[0].values()[0] -%}
        {%- do boundary.update({'previous': none if recorded is none else recorded | string}) -%}
    {%- endif -%}
    {{ return(boundary) }}
{%- endmacro %}

{#- Whether this run adds days to the recorded totals (else it recomputes them all). -#}
{% macro settles_forward(boundary) -%}
    {{ return(
        is_incremental() and boundary['previous'] is not none and boundary['new'] is not none
        and boundary['new'] >= boundary['previous']
    ) }}
{%- endmacro %}

{#-
    Pre-hook of int_sql_fingerprints_settled: when the boundary moved back, empty the totals
    before they are recomputed (delete+insert alone would keep fingerprints that have no
    settled day any more). Runs in the model's transaction.
-#}
{% macro clear_settled_fingerprints_moving_back() -%}
    {%- if execute and is_incremental() -%}
        {%- set boundary = settled_fingerprint_boundary() -%}
        {%- if not settles_forward(boundary) -%}
            delete from {{ this }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- The settled totals' materialisation: incremental on Postgres, a table on Spark. -#}
{% macro settled_fingerprints_config() -%}
    {{ return(adapter.dispatch('settled_fingerprints_config', 'chat_telemetry')()) }}
{%- endmacro %}

{% macro default__settled_fingerprints_config() -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'delete+insert',
        'unique_key': 'sql_fingerprint',
        'on_schema_change': 'append_new_columns',
        'indexes': [{'columns': ['sql_fingerprint'], 'unique': true}],
        'pre_hook': ['{{ clear_settled_fingerprints_moving_back() }}'],
    }) }}
{%- endmacro %}

{#-
    Spark (Parquet) has no row-level update: the totals are recomputed from the daily rows on
    each run, a table rewritten as a whole (what fct_sql_fingerprints did before).
-#}
{% macro spark__settled_fingerprints_config() -%}
    {{ return({'materialized': 'table'}) }}
{%- endmacro %}

{#-
    Adds up fingerprint rows (daily rows, or settled totals shaped like them) of one or more
    relations into one row per fingerprint: sums, first and last seen, and the SQL of the most
    recent row.
-#}
{% macro add_up_fingerprints(relations) -%}
    {%- set columns = [
        'sql_fingerprint', 'occurrences', 'sql_execution_ms_sum', 'sql_execution_measurements',
        'result_row_count_sum', 'result_row_count_measurements', 'errors', 'empty_results',
        'first_seen_at', 'last_seen_at', 'latest_sql',
    ] -%}
    select
        sql_fingerprint,
        cast(sum(occurrences) as {{ dbt.type_bigint() }}) as occurrences,
        cast(sum(sql_execution_ms_sum) as {{ dbt.type_bigint() }}) as sql_execution_ms_sum,
        cast(sum(sql_execution_measurements) as {{ dbt.type_bigint() }})
            as sql_execution_measurements,
        cast(sum(result_row_count_sum) as {{ dbt.type_bigint() }}) as result_row_count_sum,
        cast(sum(result_row_count_measurements) as {{ dbt.type_bigint() }})
            as result_row_count_measurements,
        cast(sum(errors) as {{ dbt.type_bigint() }}) as errors,
        cast(sum(empty_results) as {{ dbt.type_bigint() }}) as empty_results,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        max(case when recency_rank = 1 then latest_sql end) as latest_sql
    from (
        select
            *,
            row_number() over (
                partition by sql_fingerprint order by last_seen_at desc
            ) as recency_rank
        from (
            {%- for relation in relations %}
            select {{ columns | join(', ') }} from {{ relation }}
            {%- if not loop.last %}
            union all
            {%- endif %}
            {%- endfor %}
        ) as combined_rows
    ) as ranked_rows
    group by sql_fingerprint
{%- endmacro %}

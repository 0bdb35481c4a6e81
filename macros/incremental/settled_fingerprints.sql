{#-
    fct_sql_fingerprints adds up all history. Rather than re-adding every daily fingerprint
    row on each run, int_sql_fingerprints_settled keeps one row of totals per fingerprint for
    the days no scheduled run rebuilds any more (before the settling boundary), and the mart
    adds only the days from the boundary on. Days before the boundary never change: the daily
    fingerprint model rebuilds only from its start date (lookback_days back from its newest
    day, never later than today's), fingerprints are anonymous (erasure does not rebuild
    them) and no price enters them. Each run moves the boundary forward by adding the days
    that left the lookback; if it ever moves back (the newest day vanished), the totals are
    recomputed from the daily rows. On Spark, with no row-level update, the totals are one
    partition per boundary (a generation): a run writes the new generation from the previous
    one plus the newly settled days (one row per fingerprint and a day or two, not every
    daily row), then drops the older generations.
-#}

{#-
    The settling boundary: {'new': the first day a scheduled run may still rebuild, from the
    daily fingerprint model as this run left it; 'previous': the boundary the settled totals
    were built with (none on a full build or an empty table)}, both ISO date strings or none.
-#}
{% macro settled_fingerprint_boundary() -%}
    {{ return(cached_for_this_run(
        'settled_fingerprint_boundary ' ~ this, compute_settled_fingerprint_boundary, none
    )) }}
{%- endmacro %}

{#-
    settled_fingerprint_boundary, queried (once per run: the model, its pre-hook and, on
    Spark, its post-hook share it).
-#}
{% macro compute_settled_fingerprint_boundary(unused) -%}
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
    before they are recomputed (dispatched). Postgres: delete+insert alone would keep
    fingerprints that have no settled day any more; runs in the model's transaction.
-#}
{% macro clear_settled_fingerprints_moving_back() -%}
    {{ return(adapter.dispatch('clear_settled_fingerprints_moving_back', 'chat_telemetry')()) }}
{%- endmacro %}

{% macro default__clear_settled_fingerprints_moving_back() -%}
    {%- if execute and is_incremental() -%}
        {%- set boundary = settled_fingerprint_boundary() -%}
        {%- if not settles_forward(boundary) -%}
            {{ return('delete from ' ~ this) }}
        {%- endif -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}

{#-
    Spark: drop every generation before the recomputed one is written, so that a later
    generation left by a failed run can never be taken for the previous one (its totals
    include days the boundary has moved back over).
-#}
{% macro spark__clear_settled_fingerprints_moving_back() -%}
    {%- if execute and is_incremental() -%}
        {%- set boundary = settled_fingerprint_boundary() -%}
        {%- if not settles_forward(boundary) -%}
            {%- do drop_settled_generations(none) -%}
        {%- endif -%}
    {%- endif -%}
    {{ return('') }}
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
    Spark (Parquet) has no row-level update: one partition of settled_before_date per
    generation of totals, written by a dynamic overwrite (which may read the partition it
    replaces: it writes to a staging folder first); the post-hook drops the generations
    before it, and the pre-hook partitions a table built before generations existed.
-#}
{% macro spark__settled_fingerprints_config() -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'insert_overwrite',
        'partition_by': ['settled_before_date'],
        'file_format': 'parquet',
        'on_schema_change': 'append_new_columns',
        'pre_hook': [
            '{{ partition_settled_fingerprints_by_generation() }}',
            '{{ clear_settled_fingerprints_moving_back() }}',
        ],
        'post_hook': ['{{ drop_superseded_settled_fingerprints() }}'],
    }) }}
{%- endmacro %}

{#-
    Which of the recorded totals a run that settles forward starts from (dispatched), as a
    filter on them: Postgres, those of the fingerprints of the newly settled days (the others
    stay as recorded: delete+insert on the fingerprint); Spark, every fingerprint of the
    previous generation (the new generation replaces it whole).
-#}
{% macro settled_totals_carried_filter(boundary) -%}
    {{ return(adapter.dispatch('settled_totals_carried_filter', 'chat_telemetry')(boundary)) }}
{%- endmacro %}

{% macro default__settled_totals_carried_filter(boundary) -%}
    {{ return(
        'sql_fingerprint in (select newly_settled_days.sql_fingerprint from newly_settled_days)'
    ) }}
{%- endmacro %}

{#-
    Spark: on a run whose boundary did not move (every run of the day after the first), no
    row: the dynamic overwrite then touches no partition, rather than rewriting the only
    generation from itself.
-#}
{% macro spark__settled_totals_carried_filter(boundary) -%}
    {%- if boundary['new'] == boundary['previous'] -%}
        {{ return('1 = 0') }}
    {%- endif -%}
    {{ return('settled_before_date = ' ~ date_literal(boundary['previous'])) }}
{%- endmacro %}

{#-
    Spark post-hook: drop every generation of totals but the one this run wrote (its
    boundary, or 1970-01-01 when nothing is settled). A run that fails before leaves two,
    and the next run starts from the newest (settled_fingerprint_boundary's max()).
-#}
{% macro drop_superseded_settled_fingerprints() -%}
    {%- if execute -%}
        {%- do drop_settled_generations(settled_fingerprint_boundary()['new'] or '1970-01-01') -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}

{#-
    fct_sql_fingerprints' filter on the settled totals (dispatched): every row on Postgres
    (untouched fingerprints keep older settled_before_date stamps); on Spark the newest
    generation only, so that the generation a failed run left beside it is never added twice.
-#}
{% macro newest_settled_generation_filter(relation) -%}
    {{ return(adapter.dispatch('newest_settled_generation_filter', 'chat_telemetry')(relation)) }}
{%- endmacro %}

{% macro default__newest_settled_generation_filter(relation) -%}
    {{ return('1 = 1') }}
{%- endmacro %}

{#-
    Spark: the newest generation from the metastore's list of partitions (no Spark job), as
    a literal that prunes the scan to its partition; a scalar subquery cannot prune. The
    table is read after its own model ran, so the list is current.
-#}
{% macro spark__newest_settled_generation_filter(relation) -%}
    {%- set newest = newest_settled_generation(relation) -%}
    {{ return('1 = 0' if newest is none else 'settled_before_date = ' ~ date_literal(newest)) }}
{%- endmacro %}

{#-
    fct_sql_fingerprints' filter on the daily fingerprint rows: the days from the settling
    boundary (the newest settled_before_date of the totals, `relation`) on, every day when
    there are no totals (dispatched). Postgres: a scalar subquery over the CTE of the totals,
    so that it filters through the request_date index.
-#}
{% macro unsettled_days_filter(relation) -%}
    {{ return(adapter.dispatch('unsettled_days_filter', 'chat_telemetry')(relation)) }}
{%- endmacro %}

{% macro default__unsettled_days_filter(relation) -%}
    {{ return(
        'request_date >= coalesce((select max(settled_fingerprints.settled_before_date)'
        ~ ' from settled_fingerprints), ' ~ date_literal('1900-01-01') ~ ')'
    ) }}
{%- endmacro %}

{#-
    Spark: the boundary as a literal (newest_settled_generation), so that only the partitions
    of the unsettled days are read: a scalar subquery prunes none, and listing and reading
    every day's partition grew the scheduled build with history (fct_sql_fingerprints 1.2 s at
    30 days, 2.4 s at 365 days of history, 1M rows).
-#}
{% macro spark__unsettled_days_filter(relation) -%}
    {%- set newest = newest_settled_generation(relation) -%}
    {{ return('1 = 1' if newest is none else 'request_date >= ' ~ date_literal(newest)) }}
{%- endmacro %}

{#-
    Spark: the newest generation (settled_before_date partition) of the settled totals, as an
    ISO date string, or none when there is none (or while parsing). Listed once per run and
    relation (cached_for_this_run): fct_sql_fingerprints' two filters share it, and it reads
    the totals only after their model, which alone writes them, has run.
-#}
{% macro newest_settled_generation(relation) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(cached_for_this_run(
        'newest_settled_generation ' ~ relation, compute_newest_settled_generation, relation
    )) }}
{%- endmacro %}

{#- newest_settled_generation, listed (the one-argument form cached_for_this_run calls). -#}
{% macro compute_newest_settled_generation(relation) -%}
    {%- set generations = listed_partition_values(relation, 'settled_before_date') -%}
    {{ return(generations | max if generations else none) }}
{%- endmacro %}

{#- Spark: drop the generations of settled totals (partitions) but `kept` (none: all). -#}
{% macro drop_settled_generations(kept) -%}
    {%- set dropped = listed_partition_values(this, 'settled_before_date') | reject('equalto', kept)
        | list -%}
    {%- do drop_day_partitions(this, dropped, 'settled_before_date') -%}
{%- endmacro %}

{#-
    Spark pre-hook: a table of totals built before generations existed (one unpartitioned
    table, rebuilt whole on every run) is rewritten once as one generation, partitioned by
    settled_before_date, under the same name. dbt's relation cache (`show table extended`,
    listed at the start of the run) says whether it is partitioned: no query on later runs.
    A rewrite that failed midway leaves the copy, which the next run drops (and copies
    again, or builds the table afresh when it was dropped already).
-#}
{% macro partition_settled_fingerprints_by_generation() -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set copy = this.incorporate(path={'identifier': this.identifier ~ '__generations'}) -%}
    {%- if adapter.get_relation(
        database=copy.database, schema=copy.schema, identifier=copy.identifier
    ) is not none -%}
        {%- do run_query('drop table ' ~ copy) -%}
    {%- endif -%}
    {%- set existing = adapter.get_relation(
        database=this.database, schema=this.schema, identifier=this.identifier
    ) -%}
    {%- if existing is none -%}
        {{ return('') }}
    {%- endif -%}
    {%- set information = existing.information -%}
    {%- if information is none -%}
        {%- set information = run_query(
            "show table extended in " ~ this.schema ~ " like '" ~ this.identifier ~ "'"
        ).columns[3].values()[0] -%}
    {%- endif -%}
    {%- set partition_line = information.split('Partition Columns:', 1)[1].split('\n', 1)[0]
        if 'Partition Columns:' in information else '' -%}
    {%- if 'settled_before_date' in partition_line -%}
        {{ return('') }}
    {%- endif -%}
    {%- set columns = [] -%}
    {%- for column in adapter.get_columns_in_relation(this) -%}
        {%- if column.name | lower != 'settled_before_date' -%}
            {%- do columns.append(column.name) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do columns.append('settled_before_date') -%}
    {%- do run_query(
        'create table ' ~ copy ~ ' using parquet partitioned by (settled_before_date) as select '
        ~ columns | join(', ') ~ ' from ' ~ this
    ) -%}
    {%- do run_query('drop table ' ~ this) -%}
    {%- do run_query('alter table ' ~ copy ~ ' rename to ' ~ this) -%}
    {{ log(this ~ ': partitioned by settled_before_date (one generation of totals per boundary)', info=true) }}
    {{ return('') }}
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

{#-
    Post-hook of incremental models with a user_id: forget every user who is no longer in
    auth.users (Supabase's source of truth for deletion), on every day, also days whose raw rows
    were purged long ago. Keyed on auth.users, not on raw rows, so that a purge is not mistaken
    for an erasure.
-#}
{% macro forget_erased_users(log_forgotten_days=false, partition_column='request_date') -%}
    {{ return(adapter.dispatch('forget_erased_users', 'chat_telemetry')(
        log_forgotten_days, partition_column
    )) }}
{%- endmacro %}

{#-
    Postgres: finding who left must not read every row of history on every run. When
    int_users_seen_daily (macros/retention/users_seen.sql), built alongside the per-user
    models, has already found that nobody left, as on most runs, nothing is read here.
    Otherwise (or when it has not finished, or was not built in this run: waiting for it
    would put it on the run's critical path) the users present are listed by a loose index
    scan of an index on user_id (erased_users_in: one index probe per distinct user), and
    only the rows of the users found are deleted, through the same index. The hook creates
    the index the first time (an existing table built before it had none).
-#}
{% macro default__forget_erased_users(log_forgotten_days, partition_column='request_date') -%}
    {%- if nobody_erased_in_this_run() -%}
        {{ return('') }}
    {%- endif -%}
    {%- if execute -%}
        {%- set indexed = run_query(
            "select exists (select 1 from pg_index as i join pg_attribute as a"
            ~ " on a.attrelid = i.indrelid and a.attnum = i.indkey[0]"
            ~ " where i.indrelid = '" ~ this ~ "'::regclass and a.attname = 'user_id')"
        ).columns[0].values()[0] -%}
        {%- if not indexed -%}
            {%- do run_query('create index on ' ~ this ~ ' (user_id)') -%}
        {%- endif -%}
    {%- endif -%}
    {%- if log_forgotten_days -%}
    {%- set log_table = forgotten_days_relation(this) -%}
    create table if not exists {{ log_table }} (request_date date not null);
    {% endif -%}
    with erased_users as (
        {{ erased_users_in(this, ref('stg_auth__users')) }}
    )
    {%- if log_forgotten_days %},

    forgotten as (
        delete from {{ this }}
        where user_id in (select erased_users.user_id from erased_users)
        returning request_date
    )

    insert into {{ log_table }} (request_date)
    select distinct request_date from forgotten
    {%- else %}

    delete from {{ this }}
    where user_id in (select erased_users.user_id from erased_users)
    {%- endif -%}
{%- endmacro %}

{#-
    Spark has no DELETE on Parquet. Who left is known first from int_users_seen_daily
    (macros/retention/users_seen.sql), built before the per-user models on Spark: when
    nobody did, as on most runs, nothing is read here. Otherwise (or when that model was not
    built in this run) the days (partitions of partition_column: request_date, or
    first_request_date for fct_conversations) that hold a forgotten user are found by a scan
    of the table and rewritten without that user's rows by a dynamic partition overwrite
    from a scratch table of the rows kept, and a day left with no row is dropped. The
    scratch table is dropped last: one left by a run that failed midway still holds the kept
    rows of its days, and the next run finishes that rewrite in a pre-hook
    (finish_interrupted_erasure), before the model writes its days.
-#}
{% macro spark__forget_erased_users(log_forgotten_days, partition_column='request_date') -%}
    {%- set users = ref('stg_auth__users') -%}
    {%- if not execute or nobody_erased_in_this_run() -%}
        {{ return('') }}
    {%- endif -%}
    {%- set scratch = erasure_scratch_relation() -%}
    {%- set days = run_query(
        'select distinct kept.' ~ partition_column ~ ' from ' ~ this ~ ' as kept left anti join '
        ~ users ~ ' as users on kept.user_id = users.user_id'
    ).columns[0].values() -%}
    {%- if days | length == 0 -%}
        {{ return('') }}
    {%- endif -%}
    {%- set day_list = [] -%}
    {%- for day in days -%}
        {%- do day_list.append("'" ~ day ~ "'") -%}
    {%- endfor -%}
    {%- if log_forgotten_days -%}
        {#- Logged first: a run that fails after the rewrite still leaves the days logged. -#}
        {%- set log_table = forgotten_days_relation(this) -%}
        {%- do run_query(
            'create table if not exists ' ~ log_table ~ ' (request_date date) using parquet'
        ) -%}
        {%- do run_query(
            'insert into ' ~ log_table ~ ' select cast(request_date as date) from'
            ~ ' (select explode(array(' ~ day_list | join(', ') ~ ')) as request_date)'
        ) -%}
    {%- endif -%}
    {%- do run_query(
        'create table ' ~ scratch ~ ' using parquet as select kept.* from ' ~ this
        ~ ' as kept left semi join ' ~ users ~ ' as users on kept.user_id = users.user_id'
        ~ ' where kept.' ~ partition_column ~ ' in (' ~ day_list | join(', ') ~ ')'
    ) -%}
    {%- do overwrite_days_from_erasure_scratch(partition_column) -%}
    {%- set emptied = run_query(
        'select request_date from (select explode(array(' ~ day_list | join(', ')
        ~ ')) as request_date) where cast(request_date as date) not in'
        ~ ' (select distinct ' ~ partition_column ~ ' from ' ~ scratch ~ ')'
    ).columns[0].values() -%}
    {%- do drop_day_partitions(this, emptied, partition_column) -%}
    {%- do run_query('drop table ' ~ scratch) -%}
    {{ return('') }}
{%- endmacro %}

{#- Spark: the scratch table of kept rows that forget_erased_users rewrites days from. -#}
{% macro erasure_scratch_relation() -%}
    {{ return(this.incorporate(path={'identifier': this.identifier ~ '__erasure'})) }}
{%- endmacro %}

{#-
    Spark: replace the days (partitions of partition_column) the erasure scratch table holds
    with its rows, by a dynamic partition overwrite; forget_erased_users' rewrite and
    finish_interrupted_erasure's restore are this one statement.
-#}
{% macro overwrite_days_from_erasure_scratch(partition_column) -%}
    {%- do run_query('set spark.sql.sources.partitionOverwriteMode = DYNAMIC') -%}
    {%- do run_query(
        'insert overwrite table ' ~ this ~ ' partition (' ~ partition_column ~ ') select * from '
        ~ erasure_scratch_relation()
    ) -%}
{%- endmacro %}

{#-
    Pre-hook of the models with forget_erased_users: finish the rewrite of a run whose
    erasure failed midway, from the scratch table it left (the kept rows of its days), then
    drop the scratch table. A pre-hook, not a post-hook: the scratch rows are as old as that
    run, so restoring them after this run wrote its days would bring an old version of the
    days both runs rebuild back (rows that came late since, or prices changed since, which
    the applied-prices record would then hide). Nothing to do on Postgres, where the delete
    is one transaction.
-#}
{% macro finish_interrupted_erasure(partition_column='request_date') -%}
    {{ return(adapter.dispatch('finish_interrupted_erasure', 'chat_telemetry')(
        partition_column
    )) }}
{%- endmacro %}

{% macro default__finish_interrupted_erasure(partition_column='request_date') -%}
{%- endmacro %}

{% macro spark__finish_interrupted_erasure(partition_column='request_date') -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set scratch = erasure_scratch_relation() -%}
    {#- dbt's relation cache, listed at the start of the run, has a scratch table a failed
        run left (this run makes this model's only after this hook): no query per model -#}
    {%- if adapter.get_relation(
        database=scratch.database, schema=scratch.schema, identifier=scratch.identifier
    ) is not none -%}
        {%- if spark_table_exists(this) -%}
            {%- do overwrite_days_from_erasure_scratch(partition_column) -%}
        {%- endif -%}
        {%- do run_query('drop table ' ~ scratch) -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}

{#-
    Finding erased users without reading the per-user tables over all history.
    int_users_seen_daily keeps every (request_date, user_id) that the per-user models (those
    configured to forget erased users) were built from. Its post-hook find_erased_users
    compares it with auth.users once per run; the per-user models' forget post-hooks look for
    rows to forget only when that found someone (or when it was not built in the run), and an
    on-run-end hook (forget_erased_users_seen) forgets them in int_users_seen_daily once every
    per-user model has forgotten them.
-#}

{#-
    The graph nodes of this package's models configured to forget erased users (meta
    chat_telemetry_forgets_erased_users: the column of their days), optionally only those
    whose days are request_date.
-#}
{% macro users_seen_models(day_column=none) -%}
    {%- set found = [] -%}
    {%- for node in graph.nodes.values() -%}
        {%- set forgets = (node.config.meta or {}).get('chat_telemetry_forgets_erased_users') -%}
        {%- if node.resource_type == 'model' and node.package_name == 'chat_telemetry'
            and forgets and (day_column is none or forgets == day_column) -%}
            {%- do found.append(node) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(found) }}
{%- endmacro %}

{#-
    The per-user tables as they are now, as {'relation' (none for one that does not exist
    yet), 'day_column' (request_date, or first_request_date for fct_conversations),
    'partitioned', 'rebuilt_in_full'}: int_users_seen_daily reads its window from the start
    dates of those of request days, and seeds itself from every one that exists when built
    afresh (they outlive a purge of the raw rows; users of a table about to be rebuilt are a
    harmless surplus).
-#}
{% macro users_seen_tables() -%}
    {%- set tables = [] -%}
    {%- for node in users_seen_models() -%}
        {%- set day_column = node.config.meta.get('chat_telemetry_forgets_erased_users') -%}
        {%- do tables.append({
            'relation': adapter.get_relation(
                database=node.database, schema=node.schema, identifier=node.alias
            ),
            'day_column': day_column,
            'partitioned': day_column in (node.config.partition_by or []),
            'rebuilt_in_full': flags.FULL_REFRESH or node.config.full_refresh,
        }) -%}
    {%- endfor -%}
    {{ return(tables) }}
{%- endmacro %}

{#-
    What int_users_seen_daily reads on an incremental run, as {'start_date': the first
    request_date it rebuilds (ISO string; none: every day), 'written_without_it': the
    per-user tables written since its last run by runs that did not build it}.

    start_date: the earliest of its own start date and the start dates of the per-user
    tables of request days, so that every day any of them rebuilds in this run is read (a
    table that fell behind after failed runs rebuilds more days). Their start dates are
    cached under their own keys (table_start_date): each model reuses the answer, so this
    costs no query of its own.

    written_without_it: a table whose start date is later than the record's own was written
    by runs that did not build the record (a --select of a few models): the users it got on
    the days since (from the record's own start date) are read from the table itself, since
    their raw rows may be gone by now (an erasure deletes them by cascade). On the usual run
    the start dates are equal and nothing more is read.
-#}
{% macro users_seen_window() -%}
    {%- set window = {'start_date': none, 'written_without_it': []} -%}
    {%- set own = incremental_start_date() -%}
    {%- if own is none -%}
        {{ return(window) }}
    {%- endif -%}
    {%- set starts = [own] -%}
    {%- for table in users_seen_tables() if table['day_column'] == 'request_date' -%}
        {%- if table['relation'] is none or table['rebuilt_in_full'] -%}
            {{ return(window) }}
        {%- endif -%}
        {%- set start = table_start_date(table['relation'], 'request_date', table['partitioned']) -%}
        {%- if start is none -%}
            {{ return(window) }}
        {%- endif -%}
        {%- do starts.append(start) -%}
        {%- if start > own -%}
            {%- do window['written_without_it'].append(table['relation']) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do window.update({'start_date': starts | min}) -%}
    {{ return(window) }}
{%- endmacro %}

{#- int_users_seen_daily's materialisation (dispatched). -#}
{% macro users_seen_config() -%}
    {{ return(adapter.dispatch('users_seen_config', 'chat_telemetry')()) }}
{%- endmacro %}

{#-
    Postgres: delete+insert on the key; the rows of a rebuilt day are a superset of the rows
    it had, so nothing is lost. The user_id index answers find_erased_users' loose index scan.
-#}
{% macro default__users_seen_config() -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'delete+insert',
        'unique_key': ['request_date', 'user_id'],
        'on_schema_change': 'fail',
        'indexes': [{'columns': ['user_id']}, {'columns': ['request_date']}],
        'post_hook': ['{{ find_erased_users() }}'],
    }) }}
{%- endmacro %}

{#- Spark: a dynamic overwrite of the request_date partitions rebuilt. -#}
{% macro spark__users_seen_config() -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'insert_overwrite',
        'partition_by': ['request_date'],
        'file_format': 'parquet',
        'on_schema_change': 'fail',
        'post_hook': ['{{ find_erased_users() }}'],
    }) }}
{%- endmacro %}

{#-
    Post-hook of int_users_seen_daily: the users it holds that auth.users no longer has, kept
    for this run's forget post-hooks (an empty list lets them skip their search) and for
    forget_erased_users_seen.
-#}
{% macro find_erased_users() -%}
    {%- set users = ref('stg_auth__users') -%}
    {%- if execute -%}
        {%- set erased = run_query(erased_users_in(this, users)).columns[0].values() -%}
        {%- set erased_ids = [] -%}
        {%- for user_id in erased -%}
            {%- do erased_ids.append(user_id | string) -%}
        {%- endfor -%}
        {%- do remember_for_this_run('erased users seen', erased_ids) -%}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}

{#-
    A query of the users in a table with a user_id (int_users_seen_daily, or a per-user
    table searched by its forget hook) that auth.users (users: staging's stg_auth__users) no
    longer has (dispatched).
-#}
{% macro erased_users_in(relation, users) -%}
    {{ return(adapter.dispatch('erased_users_in', 'chat_telemetry')(relation, users)) }}
{%- endmacro %}

{#-
    Postgres: a loose index scan of the user_id index (one probe per distinct user, not one
    per row), anti-joined with auth.users.
-#}
{% macro default__erased_users_in(relation, users) -%}
    with recursive present_users as (
        (select user_id from {{ relation }} order by user_id limit 1)
        union all
        select (
            select seen.user_id
            from {{ relation }} as seen
            where seen.user_id > present_users.user_id
            order by seen.user_id
            limit 1
        )
        from present_users
        where present_users.user_id is not null
    )

    select present_users.user_id
    from present_users
    where
        present_users.user_id is not null
        and not exists (
            select 1
            from {{ users }} as auth_users
            where auth_users.user_id = present_users.user_id
        )
{%- endmacro %}

{% macro spark__erased_users_in(relation, users) -%}
    select distinct seen.user_id
    from {{ relation }} as seen
    left anti join {{ users }} as auth_users
        on seen.user_id = auth_users.user_id
{%- endmacro %}

{#-
    Whether int_users_seen_daily was built in this run and found nobody erased: the forget
    post-hooks then skip their search. False when it was not built in this run (a partial
    selection) or, on Postgres, where it is built alongside, has not finished yet: the hooks
    then search their own table.
-#}
{% macro nobody_erased_in_this_run() -%}
    {%- set erased = recalled_from_this_run('erased users seen') -%}
    {{ return(erased is not none and erased | length == 0) }}
{%- endmacro %}

{#-
    on-run-end: forget in int_users_seen_daily the erased users this run found, once every
    per-user model succeeded in this run (each forgot them then). After a run where one
    failed or was not selected they stay, are found again and forgotten by the next complete
    run: a user dropped here before some table forgot them would never be looked for again.
    Only the users found by find_erased_users: one erased later in the run was not looked for
    by every table. For the same reason a user that a per-user table still holds stays too
    (users_still_held): on Postgres the record is built alongside the per-user models, and a
    model whose forget hook searched its table before the user was erased kept their rows.
-#}
{% macro forget_erased_users_seen(results) -%}
    {%- set erased = recalled_from_this_run('erased users seen') -%}
    {%- if not execute or not erased -%}
        {{ return('') }}
    {%- endif -%}
    {%- set required = ['model.chat_telemetry.int_users_seen_daily'] -%}
    {%- for node in users_seen_models() -%}
        {%- do required.append(node.unique_id) -%}
    {%- endfor -%}
    {%- set succeeded = [] -%}
    {%- for result in results if result.status == 'success' -%}
        {%- do succeeded.append(result.node.unique_id) -%}
    {%- endfor -%}
    {%- for unique_id in required if unique_id not in succeeded -%}
        {{ log(
            'int_users_seen_daily keeps ' ~ erased | length ~ ' erased user(s) until a run where '
            ~ unique_id ~ ' also succeeds', info=true
        ) }}
        {{ return('') }}
    {%- endfor -%}
    {%- set held = users_still_held(erased) -%}
    {%- set forgotten = [] -%}
    {%- for user_id in erased if user_id not in held -%}
        {%- do forgotten.append(user_id) -%}
    {%- endfor -%}
    {%- if held -%}
        {{ log(
            'int_users_seen_daily keeps ' ~ held | length ~ ' erased user(s) that a per-user'
            ~ ' table still holds (its forget hook searched before they were erased): the next'
            ~ ' complete run forgets them', info=true
        ) }}
    {%- endif -%}
    {%- if not forgotten -%}
        {{ return('') }}
    {%- endif -%}
    {{ log('int_users_seen_daily: forgetting ' ~ forgotten | length ~ ' erased user(s)', info=true) }}
    {{ return(forget_users_seen(
        package_model_relation('int_users_seen_daily'), user_id_literals(forgotten)
    )) }}
{%- endmacro %}

{#- User ids (strings) as a comma-separated list of SQL literals, for `user_id in (...)`. -#}
{% macro user_id_literals(user_ids) -%}
    {%- set literals = [] -%}
    {%- for user_id in user_ids -%}
        {%- do literals.append("'" ~ user_id ~ "'") -%}
    {%- endfor -%}
    {{ return(literals | join(', ')) }}
{%- endmacro %}

{#-
    Which of the erased users (ids as strings) a per-user table still holds (dispatched).
    Postgres builds int_users_seen_daily alongside the per-user models, so a model's forget
    hook may have searched its table before a user was erased and the record found them:
    each table is asked for those users through its user_id index (a few probes, and only
    on a run that found someone erased). Spark builds the record before every per-user
    model, whose hooks all search after it: none.
-#}
{% macro users_still_held(erased) -%}
    {{ return(adapter.dispatch('users_still_held', 'chat_telemetry')(erased)) }}
{%- endmacro %}

{% macro default__users_still_held(erased) -%}
    {%- set erased_list = user_id_literals(erased) -%}
    {%- set tables = [] -%}
    {%- for table in users_seen_tables() if table['relation'] is not none -%}
        {%- do tables.append(
            'select user_id from ' ~ table['relation'] ~ ' where user_id in ('
            ~ erased_list ~ ')'
        ) -%}
    {%- endfor -%}
    {%- if not tables -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set held = [] -%}
    {%- for user_id in run_query(
        'select distinct user_id from (' ~ tables | join(' union all ') ~ ') as held'
    ).columns[0].values() -%}
        {%- do held.append(user_id | string) -%}
    {%- endfor -%}
    {{ return(held) }}
{%- endmacro %}

{% macro spark__users_still_held(erased) -%}
    {{ return([]) }}
{%- endmacro %}

{#-
    Remove the users (SQL literals, comma-separated) from int_users_seen_daily (dispatched):
    the SQL of the hook on Postgres, run here on Spark (one statement per query).
-#}
{% macro forget_users_seen(relation, user_literals) -%}
    {{ return(adapter.dispatch('forget_users_seen', 'chat_telemetry')(relation, user_literals)) }}
{%- endmacro %}

{% macro default__forget_users_seen(relation, user_literals) -%}
    {{ return('delete from ' ~ relation ~ ' where user_id in (' ~ user_literals ~ ')') }}
{%- endmacro %}

{#-
    Spark: the days that hold one of the users are overwritten with the users kept (a
    dynamic partition overwrite may read the partitions it replaces: it writes to a staging
    folder first), then the days left with those users alone (no kept row overwrote them)
    are dropped. A run that fails in between leaves them in the table, found again by the
    next run: nothing is lost but a search.
-#}
{% macro spark__forget_users_seen(relation, user_literals) -%}
    {%- set days = run_query(
        'select distinct cast(request_date as string) from ' ~ relation
        ~ ' where user_id in (' ~ user_literals ~ ')'
    ).columns[0].values() -%}
    {%- if not days -%}
        {{ return('') }}
    {%- endif -%}
    {%- set day_literals = [] -%}
    {%- for day in days -%}
        {%- do day_literals.append(date_literal(day)) -%}
    {%- endfor -%}
    {%- do run_query('set spark.sql.sources.partitionOverwriteMode = DYNAMIC') -%}
    {%- do run_query(
        'insert overwrite table ' ~ relation ~ ' partition (request_date)'
        ~ ' select user_id, request_date from ' ~ relation
        ~ ' where request_date in (' ~ day_literals | join(', ') ~ ')'
        ~ ' and user_id not in (' ~ user_literals ~ ')'
    ) -%}
    {%- set emptied = run_query(
        'select distinct cast(request_date as string) from ' ~ relation
        ~ ' where user_id in (' ~ user_literals ~ ')'
    ).columns[0].values() -%}
    {%- do drop_day_partitions(relation, emptied) -%}
    {{ return('') }}
{%- endmacro %}

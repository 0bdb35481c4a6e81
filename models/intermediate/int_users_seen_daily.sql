-- One row per request_date and user_id that the per-user models were built from. Finding
-- erased users reads this small table (days x users) once per run instead of the six
-- per-user tables: its post-hook compares it with auth.users, and the per-user models look
-- for rows to forget only when someone left (macros/retention/users_seen.sql).
--
-- Over the earliest of the per-user tables' start dates, so the users they write in this run
-- are in it (rows that land during the run are recorded by the next one, within the
-- lookback). On Spark it is built before them (the four that read int_requests_dated depend
-- on it); on Postgres alongside, and a model whose hook runs before it finished searches its
-- own table through its user_id index, as before. A table written by runs that did not
-- build it is read for the days since (users_seen_window). A rebuilt day keeps the users
-- it had: a user goes only once every per-user model forgot them (the on-run-end hook
-- forget_erased_users_seen). Built afresh (first run after an upgrade, or a full refresh),
-- it also takes the users of the per-user tables already built, which outlive a purge of
-- the raw rows; it cannot ref() them (they depend on it), so it finds them in the graph.
{{ config(**users_seen_config()) }}
-- its post-hook compares it with auth.users:
-- depends_on: {{ ref('stg_auth__users') }}

{%- set window = users_seen_window() if execute and is_incremental() else {} -%}
{%- set start_date = window.get('start_date') -%}
{#- the users a rebuilt day already had (incremental), with those of per-user tables written by
    runs without this model; or, built afresh, those of every per-user table -#}
{%- set already_seen = [] -%}
{%- if execute and is_incremental() -%}
    {%- do already_seen.append({
        'relation': this,
        'day_column': 'request_date',
        'filter': days_from_filter(start_date, timestamp_column=none, landed_date_column=none),
    }) -%}
    {%- for table in window.get('written_without_it', []) -%}
        {%- do already_seen.append({
            'relation': table,
            'day_column': 'request_date',
            'filter': days_from_filter(
                incremental_start_date(), timestamp_column=none, landed_date_column=none
            ),
        }) -%}
    {%- endfor -%}
{%- elif execute -%}
    {%- for table in users_seen_tables() if table['relation'] is not none -%}
        {%- do already_seen.append({
            'relation': table['relation'], 'day_column': table['day_column'], 'filter': '1 = 1',
        }) -%}
    {%- endfor -%}
{%- endif %}

with

requests as (
    select * from {{ ref('int_requests_dated') }}
    where {{ days_from_filter(start_date) }}
),

{%- if already_seen %}

users_already_seen as (
    {%- for table in already_seen %}
    select
        user_id,
        {{ table['day_column'] }} as request_date
    from {{ table['relation'] }}
    where user_id is not null and {{ table['filter'] }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),
{%- endif %}

users_of_requests as (
    select
        user_id,
        request_date
    from requests
    where user_id is not null
),

users_unioned as (
    select * from users_of_requests
    {%- if already_seen %}
    union all
    select * from users_already_seen
    {%- endif %}
),

users_deduplicated as (
    select distinct
        user_id,
        request_date
    from users_unioned
)

select * from users_deduplicated

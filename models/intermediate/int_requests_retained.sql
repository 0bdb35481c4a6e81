-- One row per chat request, narrow: the model pair, outcome, latencies and token counts that
-- the windowed model comparison needs. Incremental (whole days from the run's start date), so
-- that it outlives the raw rows after a retention purge and the mart never rescans raw
-- history. No cost: costs are priced at read time from token sums. Users missing from
-- auth.users are forgotten on every day, as in the token sums the mart's costs come from.
{{ config(**daily_incremental_config(indexed=true, forget_erased_users=true)) }}
{#- Spark: who was erased is known before this model's forget post-hook runs (Postgres
    builds the record alongside: its own search is an index probe per user) -#}
{%- if target.type == 'spark' %}
-- depends_on: {{ ref('int_users_seen_daily') }}
{%- endif %}

with

requests as (
    select * from {{ ref('int_requests_dated') }}
    where {{ incremental_filter() }}
),

narrowed as (
    select
        request_id,
        user_id,
        created_at,
        request_date,
        sql_model,
        response_model,
        is_error,
        is_off_topic,
        nl_to_sql_duration_ms,
        response_generation_duration_ms,
        ttfb_ms,
        sql_input_tokens,
        sql_output_tokens,
        response_input_tokens,
        response_output_tokens
    from requests
)

select * from narrowed

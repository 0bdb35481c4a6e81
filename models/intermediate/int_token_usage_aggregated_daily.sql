-- One row per request_date, pricing_date, user and model pair, with whether each step ran and
-- had its token counts: token sums, never costs. Costs are priced at read time
-- (int_token_usage_priced), so a price added or corrected in the seed reprices all history on
-- the next plain build, also days whose raw rows were purged. Incremental (whole days from the
-- run's start date); users missing from auth.users are forgotten on every day.
{{ config(**daily_incremental_config(indexed=true, forget_erased_users=true)) }}

with

requests as (
    select * from {{ ref('int_requests_dated') }}
    where {{ incremental_filter() }}
),

classified_requests as (
    select
        request_date,
        pricing_date,
        user_id,
        created_at,
        is_error,
        is_off_topic,
        sql_model,
        response_model,
        (
            sql_model is not null
            or sql_input_tokens is not null
            or sql_output_tokens is not null
        ) as has_sql_step,
        (sql_input_tokens is not null and sql_output_tokens is not null) as has_sql_token_counts,
        (
            response_model is not null
            or response_input_tokens is not null
            or response_output_tokens is not null
        ) as has_response_step,
        (
            response_input_tokens is not null and response_output_tokens is not null
        ) as has_response_token_counts,
        coalesce(sql_input_tokens, 0) as sql_input_tokens,
        coalesce(sql_cached_input_tokens, 0) as sql_cached_input_tokens,
        coalesce(sql_output_tokens, 0) as sql_output_tokens,
        coalesce(response_input_tokens, 0) as response_input_tokens,
        coalesce(response_cached_input_tokens, 0) as response_cached_input_tokens,
        coalesce(response_output_tokens, 0) as response_output_tokens
    from requests
),

aggregated as (
    select
        request_date,
        pricing_date,
        user_id,
        sql_model,
        response_model,
        has_sql_step,
        has_sql_token_counts,
        has_response_step,
        has_response_token_counts,
        cast(count(*) as {{ dbt.type_bigint() }}) as requests,
        cast(sum(sql_input_tokens) as {{ dbt.type_bigint() }}) as sql_input_tokens,
        cast(
            sum(case when has_sql_step then sql_cached_input_tokens else 0 end)
            as {{ dbt.type_bigint() }}
        ) as sql_cached_input_tokens,
        cast(sum(sql_output_tokens) as {{ dbt.type_bigint() }}) as sql_output_tokens,
        cast(sum(response_input_tokens) as {{ dbt.type_bigint() }}) as response_input_tokens,
        cast(
            sum(case when has_response_step then response_cached_input_tokens else 0 end)
            as {{ dbt.type_bigint() }}
        ) as response_cached_input_tokens,
        cast(sum(response_output_tokens) as {{ dbt.type_bigint() }}) as response_output_tokens,
        cast(sum(case when is_error then 1 else 0 end) as {{ dbt.type_bigint() }}) as errors,
        cast(sum(case when is_off_topic then 1 else 0 end) as {{ dbt.type_bigint() }})
            as off_topic_requests,
        min(created_at) as first_request_at,
        max(created_at) as last_request_at
    from classified_requests
    group by
        request_date,
        pricing_date,
        user_id,
        sql_model,
        response_model,
        has_sql_step,
        has_sql_token_counts,
        has_response_step,
        has_response_token_counts
)

select * from aggregated

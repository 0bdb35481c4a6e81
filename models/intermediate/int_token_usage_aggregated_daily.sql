-- One row per request_date, pricing_date, user, model pair, and per step: the service tier
-- it was billed at, whether it ran and had its token counts, and whether its calls were long
-- context (decided per call, on its own input tokens, against the threshold in force, which
-- is kept with the sums). Token sums, never costs: costs are priced at read time
-- (int_token_usage_priced), so a price added or corrected in the seed reprices the days that
-- used it, also days whose raw rows were purged. Incremental (whole days from the run's start
-- date); users missing from auth.users are forgotten on every day.
{{ config(**daily_incremental_config(
    indexed=true, forget_erased_users=true, log_forgotten_days=true
)) }}

with

requests as (
    select * from {{ ref('int_requests_dated') }}
    where {{ incremental_filter() }}
),

matched_prices as (
    select * from {{ ref('int_token_prices_matched') }}
),

classified_requests as (
    select
        requests.request_date,
        requests.pricing_date,
        requests.user_id,
        requests.created_at,
        requests.is_error,
        requests.is_off_topic,
        requests.sql_model,
        requests.response_model,
        requests.sql_service_tier,
        requests.response_service_tier,
        sql_price.long_context_threshold_tokens as sql_long_context_threshold_tokens,
        response_price.long_context_threshold_tokens as response_long_context_threshold_tokens,
        (
            requests.sql_model is not null
            or requests.sql_input_tokens is not null
            or requests.sql_output_tokens is not null
        ) as has_sql_step,
        (
            requests.sql_input_tokens is not null and requests.sql_output_tokens is not null
        ) as has_sql_token_counts,
        (
            requests.response_model is not null
            or requests.response_input_tokens is not null
            or requests.response_output_tokens is not null
        ) as has_response_step,
        (
            requests.response_input_tokens is not null
            and requests.response_output_tokens is not null
        ) as has_response_token_counts,
        coalesce(requests.sql_input_tokens > sql_price.long_context_threshold_tokens, false)
            as is_sql_long_context,
        coalesce(
            requests.response_input_tokens > response_price.long_context_threshold_tokens, false
        ) as is_response_long_context,
        coalesce(requests.sql_input_tokens, 0) as sql_input_tokens,
        coalesce(requests.sql_cached_input_tokens, 0) as sql_cached_input_tokens,
        coalesce(requests.sql_cache_write_input_tokens, 0) as sql_cache_write_input_tokens,
        coalesce(requests.sql_output_tokens, 0) as sql_output_tokens,
        coalesce(requests.response_input_tokens, 0) as response_input_tokens,
        coalesce(requests.response_cached_input_tokens, 0) as response_cached_input_tokens,
        coalesce(requests.response_cache_write_input_tokens, 0)
            as response_cache_write_input_tokens,
        coalesce(requests.response_output_tokens, 0) as response_output_tokens
    from requests
    left join matched_prices as sql_price
        on
            requests.pricing_date = sql_price.pricing_date
            and coalesce(requests.sql_model, '(unknown)') = sql_price.model
            and requests.sql_service_tier = sql_price.service_tier
    left join matched_prices as response_price
        on
            requests.pricing_date = response_price.pricing_date
            and coalesce(requests.response_model, '(unknown)') = response_price.model
            and requests.response_service_tier = response_price.service_tier
),

aggregated as (
    select
        request_date,
        pricing_date,
        user_id,
        sql_model,
        response_model,
        sql_service_tier,
        response_service_tier,
        has_sql_step,
        has_sql_token_counts,
        has_response_step,
        has_response_token_counts,
        is_sql_long_context,
        is_response_long_context,
        sql_long_context_threshold_tokens,
        response_long_context_threshold_tokens,
        cast(count(*) as {{ dbt.type_bigint() }}) as requests,
        cast(sum(sql_input_tokens) as {{ dbt.type_bigint() }}) as sql_input_tokens,
        cast(
            sum(case when has_sql_step then sql_cached_input_tokens else 0 end)
            as {{ dbt.type_bigint() }}
        ) as sql_cached_input_tokens,
        cast(
            sum(case when has_sql_step then sql_cache_write_input_tokens else 0 end)
            as {{ dbt.type_bigint() }}
        ) as sql_cache_write_input_tokens,
        cast(sum(sql_output_tokens) as {{ dbt.type_bigint() }}) as sql_output_tokens,
        cast(sum(response_input_tokens) as {{ dbt.type_bigint() }}) as response_input_tokens,
        cast(
            sum(case when has_response_step then response_cached_input_tokens else 0 end)
            as {{ dbt.type_bigint() }}
        ) as response_cached_input_tokens,
        cast(
            sum(case when has_response_step then response_cache_write_input_tokens else 0 end)
            as {{ dbt.type_bigint() }}
        ) as response_cache_write_input_tokens,
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
        sql_service_tier,
        response_service_tier,
        has_sql_step,
        has_sql_token_counts,
        has_response_step,
        has_response_token_counts,
        is_sql_long_context,
        is_response_long_context,
        sql_long_context_threshold_tokens,
        response_long_context_threshold_tokens
)

select * from aggregated

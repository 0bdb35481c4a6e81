-- Usage per request_date and user: requests, tokens of both steps, cost, errors, off-topic.
-- Priced from the retained token sums with the seed as it is at build time. The cost is summed
-- in USD x 1e6 (known_cost_usd_x1m, exact) and scaled once per user and day. Incremental by
-- whole day: a run rebuilds the days from its start date and the days whose prices in the
-- seed changed since this table last priced them (macros/incremental/repriced_days.sql); a
-- post-hook forgets users erased from auth.users on every day.
-- The days to rebuild are found by macros that read these (dbt cannot infer it):
-- depends_on: {{ ref('int_token_prices_matched') }}
-- depends_on: {{ ref('int_model_tiers_used_daily') }}
{{ config(**daily_incremental_config(forget_erased_users=true, reprice=true)) }}

with

token_usage as (
    select * from {{ ref('int_token_usage_priced') }}
    where {{ rebuilt_days_filter() }}
),

aggregated as (
    select
        request_date,
        user_id,
        cast(sum(requests) as {{ dbt.type_bigint() }}) as requests,
        cast(sum(sql_input_tokens + response_input_tokens) as {{ dbt.type_bigint() }})
            as input_tokens,
        cast(
            sum(sql_cached_input_tokens + response_cached_input_tokens)
            as {{ dbt.type_bigint() }}
        ) as cached_input_tokens,
        cast(sum(sql_output_tokens + response_output_tokens) as {{ dbt.type_bigint() }})
            as output_tokens,
        cast(
            sum(
                sql_input_tokens
                + response_input_tokens
                + sql_output_tokens
                + response_output_tokens
            ) as {{ dbt.type_bigint() }}
        ) as total_tokens,
        cast(sum(known_cost_usd_x1m) * 0.000001 as {{ type_usd() }}) as total_cost_usd,
        cast(
            sum(case when not has_unknown_cost then known_cost_usd_x1m end) * 0.000001
            as {{ type_usd() }}
        ) as priced_requests_cost_usd,
        max(case when has_unknown_cost then 1 else 0 end) = 1 as has_unpriced_usage,
        cast(sum(case when has_unknown_cost then requests else 0 end) as {{ dbt.type_bigint() }})
            as unpriced_requests,
        cast(sum(errors) as {{ dbt.type_bigint() }}) as errors,
        cast(sum(off_topic_requests) as {{ dbt.type_bigint() }}) as off_topic_requests,
        min(first_request_at) as first_request_at,
        max(last_request_at) as last_request_at
    from token_usage
    group by request_date, user_id
)

select * from aggregated

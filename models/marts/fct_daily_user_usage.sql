-- Usage per request_date and user: requests, tokens of both steps, cost, errors, off-topic.
{{ config(post_hook="{{ forget_deleted_users() }}", **daily_incremental_config()) }}

with

requests as (
    select * from {{ ref('int_requests_priced') }}
    where {{ incremental_filter() }}
),

aggregated as (
    select
        request_date,
        user_id,
        cast(count(*) as {{ dbt.type_bigint() }}) as requests,
        cast(sum(input_tokens) as {{ dbt.type_bigint() }}) as input_tokens,
        cast(sum(cached_input_tokens) as {{ dbt.type_bigint() }}) as cached_input_tokens,
        cast(sum(output_tokens) as {{ dbt.type_bigint() }}) as output_tokens,
        cast(sum(input_tokens + output_tokens) as {{ dbt.type_bigint() }}) as total_tokens,
        cast(sum(priced_cost_usd) as {{ type_usd() }}) as total_cost_usd,
        max(case when has_unpriced_step then 1 else 0 end) = 1 as has_unpriced_usage,
        cast(sum(case when is_error then 1 else 0 end) as {{ dbt.type_bigint() }}) as errors,
        cast(sum(case when is_off_topic then 1 else 0 end) as {{ dbt.type_bigint() }})
            as off_topic_requests,
        min(created_at) as first_request_at,
        max(created_at) as last_request_at
    from requests
    group by request_date, user_id
)

select * from aggregated

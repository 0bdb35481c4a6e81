-- Usage per request_date and user: requests, tokens of both steps, cost, errors, off-topic.
{{ config(post_hook="{{ forget_deleted_users() }}", **daily_incremental_config()) }}

with

requests as (
    select * from {{ ref('int_requests_dated') }}
    where {{ incremental_filter() }}
),

request_steps as (
    select * from {{ ref('int_request_steps_priced') }}
    where {{ incremental_filter() }}
),

requests_per_user_day as (
    select
        request_date,
        user_id,
        count(*) as requests,
        sum(case when is_error then 1 else 0 end) as errors,
        sum(case when is_off_topic then 1 else 0 end) as off_topic_requests,
        min(created_at) as first_request_at,
        max(created_at) as last_request_at
    from requests
    group by request_date, user_id
),

tokens_per_user_day as (
    select
        request_date,
        user_id,
        sum(input_tokens) as input_tokens,
        sum(cached_input_tokens) as cached_input_tokens,
        sum(output_tokens) as output_tokens,
        sum(total_cost_usd) as total_cost_usd,
        sum(case when is_priced then 0 else 1 end) as unpriced_steps
    from request_steps
    group by request_date, user_id
),

joined as (
    select
        requests_per_user_day.request_date,
        requests_per_user_day.user_id,
        cast(requests_per_user_day.requests as {{ dbt.type_bigint() }}) as requests,
        cast(coalesce(tokens_per_user_day.input_tokens, 0) as {{ dbt.type_bigint() }})
            as input_tokens,
        cast(coalesce(tokens_per_user_day.cached_input_tokens, 0) as {{ dbt.type_bigint() }})
            as cached_input_tokens,
        cast(coalesce(tokens_per_user_day.output_tokens, 0) as {{ dbt.type_bigint() }})
            as output_tokens,
        cast(
            coalesce(tokens_per_user_day.input_tokens, 0)
            + coalesce(tokens_per_user_day.output_tokens, 0)
            as {{ dbt.type_bigint() }}
        ) as total_tokens,
        cast(tokens_per_user_day.total_cost_usd as {{ type_usd() }}) as total_cost_usd,
        coalesce(tokens_per_user_day.unpriced_steps, 0) > 0 as has_unpriced_usage,
        cast(requests_per_user_day.errors as {{ dbt.type_bigint() }}) as errors,
        cast(requests_per_user_day.off_topic_requests as {{ dbt.type_bigint() }})
            as off_topic_requests,
        requests_per_user_day.first_request_at,
        requests_per_user_day.last_request_at
    from requests_per_user_day
    left join tokens_per_user_day
        on
            requests_per_user_day.request_date = tokens_per_user_day.request_date
            and requests_per_user_day.user_id = tokens_per_user_day.user_id
)

select * from joined

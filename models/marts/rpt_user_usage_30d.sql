-- Usage per user over the window_days days ending on as_of_date, from the daily user fact.
with

daily_user_usage as (
    select * from {{ ref('fct_daily_user_usage') }}
    where request_date between {{ window_start_date() }} and {{ as_of_date() }}
),

aggregated as (
    select
        user_id,
        {{ window_start_date() }} as window_start_date,
        {{ as_of_date() }} as window_end_date,
        cast(sum(requests) as {{ dbt.type_bigint() }}) as requests,
        cast(sum(total_tokens) as {{ dbt.type_bigint() }}) as total_tokens,
        cast(sum(total_cost_usd) as {{ type_usd() }}) as total_cost_usd,
        cast(sum(unpriced_requests) as {{ dbt.type_bigint() }}) as unpriced_requests,
        cast(sum(errors) as {{ dbt.type_bigint() }}) as errors,
        cast(sum(off_topic_requests) as {{ dbt.type_bigint() }}) as off_topic_requests,
        min(first_request_at) as first_request_at,
        max(last_request_at) as last_request_at
    from daily_user_usage
    group by user_id
)

select * from aggregated

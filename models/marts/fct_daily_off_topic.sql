-- Off-topic questions per request_date.
{{ config(**daily_incremental_config()) }}

with

requests as (
    select * from {{ ref('int_requests_dated') }}
    where {{ incremental_filter() }}
),

aggregated as (
    select
        request_date,
        cast(count(*) as {{ dbt.type_bigint() }}) as requests,
        cast(sum(case when is_off_topic then 1 else 0 end) as {{ dbt.type_bigint() }})
            as off_topic_requests
    from requests
    group by request_date
),

rated as (
    select
        *,
        {{ safe_divide('off_topic_requests', 'requests') }} as off_topic_rate
    from aggregated
)

select * from rated

-- A consumer model on top of the package's mart: spend per day.
with

token_costs as (
    select * from {{ ref('chat_telemetry', 'fct_daily_token_cost') }}
),

summed as (
    select
        request_date,
        sum(total_cost_usd) as total_cost_usd
    from token_costs
    group by request_date
)

select * from summed

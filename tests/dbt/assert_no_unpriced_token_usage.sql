-- Warns when requests used a model that the price seed does not know on that day: their cost
-- is NULL (never 0) in the marts until a row is added to seeds/token_prices.csv.
{{ config(severity = 'warn') }}

with

daily_token_cost as (
    select * from {{ ref('fct_daily_token_cost') }}
),

unpriced_models as (
    select
        model,
        step,
        sum(unpriced_requests) as unpriced_requests,
        min(request_date) as first_request_date,
        max(request_date) as last_request_date
    from daily_token_cost
    where unpriced_requests > 0
    group by model, step
)

select * from unpriced_models

-- Report 1: token cost over a time range.
-- Daily cost by model for the days between start_date and end_date (vars, inclusive), with
-- the unpriced usage that the totals leave out. Reads fct_daily_token_cost only.
--   dbt compile --select 01_token_cost_over_time_range \
--       --vars '{start_date: 2026-11-01, end_date: 2026-11-30}'
with

daily_token_cost as (
    select * from {{ ref('fct_daily_token_cost') }}
    where
        request_date between {{ date_literal(var('start_date', '2000-01-01')) }}
        and {{ date_literal(var('end_date', '2999-12-31')) }}
),

cost_by_day_and_model as (
    select
        request_date,
        model,
        sum(requests) as requests,
        sum(input_tokens) as input_tokens,
        sum(cached_input_tokens) as cached_input_tokens,
        sum(output_tokens) as output_tokens,
        sum(total_cost_usd) as total_cost_usd,
        sum(unpriced_requests) as unpriced_requests
    from daily_token_cost
    group by request_date, model
)

select * from cost_by_day_and_model
order by request_date asc, total_cost_usd desc

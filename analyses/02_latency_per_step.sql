-- Report 2: latency per step with p50 / p95 / p99 (successful requests, per day).
-- Percentiles do not add up across days: read one day at a time, or the daily series.
with

daily_step_latency as (
    select * from {{ ref('fct_daily_step_latency') }}
),

recent_days as (
    select *
    from daily_step_latency
    where request_date >= {{ window_start_date() }}
)

select
    request_date,
    step,
    requests,
    p50_ms,
    p95_ms,
    p99_ms,
    max_ms
from recent_days
order by request_date, step

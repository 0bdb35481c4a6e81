-- Report 3: error breakdown by type and failed step over the 30-day window, with the rate
-- over all requests of the window.
with

daily_errors as (
    select * from {{ ref('fct_daily_errors') }}
    where request_date between {{ window_start_date() }} and {{ as_of_date() }}
),

daily_requests as (
    select * from {{ ref('fct_daily_off_topic') }}
    where request_date between {{ window_start_date() }} and {{ as_of_date() }}
),

window_requests as (
    select sum(requests) as requests from daily_requests
),

breakdown as (
    select
        daily_errors.error_type,
        daily_errors.failed_step,
        sum(daily_errors.errors) as errors,
        {{ safe_divide('sum(daily_errors.errors)', 'max(window_requests.requests)') }}
            as error_rate
    from daily_errors
    cross join window_requests
    group by daily_errors.error_type, daily_errors.failed_step
)

select * from breakdown
order by errors desc

-- Errors per request_date, error_type and failed_step (NULL shown as 'unknown'), with the
-- day's request count for the rate.
{{ config(**daily_incremental_config()) }}

with

requests as (
    select * from {{ ref('int_requests_dated') }}
    where {{ incremental_filter() }}
),

-- One aggregation of the requests, errors and the rest alike: a CTE read twice is
-- materialised by Postgres with every column of the requests, the text hashes included.
counted as (
    select
        request_date,
        is_error,
        error_type,
        coalesce(failed_step, 'unknown') as failed_step,
        count(*) as requests
    from requests
    group by request_date, is_error, error_type, coalesce(failed_step, 'unknown')
),

with_day_totals as (
    select
        request_date,
        is_error,
        error_type,
        failed_step,
        cast(requests as {{ dbt.type_bigint() }}) as errors,
        cast(sum(requests) over (partition by request_date) as {{ dbt.type_bigint() }})
            as requests_on_day
    from counted
),

errors_per_kind as (
    select
        request_date,
        error_type,
        failed_step,
        errors,
        requests_on_day
    from with_day_totals
    where is_error
),

shared as (
    select
        request_date,
        error_type,
        failed_step,
        errors,
        requests_on_day,
        {{ safe_divide('errors', 'requests_on_day') }} as error_rate,
        {{ safe_divide('errors', 'sum(errors) over (partition by request_date)') }}
            as share_of_errors
    from errors_per_kind
)

select * from shared

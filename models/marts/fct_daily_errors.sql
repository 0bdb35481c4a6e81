-- Errors per request_date, error_type and failed_step (NULL shown as 'unknown'), with the
-- day's request count for the rate.
{{ config(**daily_incremental_config()) }}

with

requests as (
    select * from {{ ref('int_requests_dated') }}
    where {{ incremental_filter() }}
),

requests_per_day as (
    select
        request_date,
        count(*) as requests_on_day
    from requests
    group by request_date
),

errors_per_kind as (
    select
        request_date,
        error_type,
        coalesce(failed_step, 'unknown') as failed_step,
        count(*) as errors
    from requests
    where is_error
    group by request_date, error_type, coalesce(failed_step, 'unknown')
),

joined as (
    select
        errors_per_kind.request_date,
        errors_per_kind.error_type,
        errors_per_kind.failed_step,
        cast(errors_per_kind.errors as {{ dbt.type_bigint() }}) as errors,
        cast(requests_per_day.requests_on_day as {{ dbt.type_bigint() }}) as requests_on_day,
        {{ safe_divide('errors_per_kind.errors', 'requests_per_day.requests_on_day') }}
            as error_rate,
        {{ safe_divide(
            'errors_per_kind.errors',
            'sum(errors_per_kind.errors) over (partition by errors_per_kind.request_date)'
        ) }} as share_of_errors
    from errors_per_kind
    inner join requests_per_day
        on errors_per_kind.request_date = requests_per_day.request_date
)

select * from joined

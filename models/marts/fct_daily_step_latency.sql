-- Latency statistics per request_date and step, over successful requests that have the value.
{{ config(**daily_incremental_config()) }}

with

successful_requests as (
    select * from {{ ref('int_requests_dated') }}
    where
        not is_error
        and {{ incremental_filter() }}
),

step_durations as (
    select
        request_date,
        'nl_to_sql' as step,
        nl_to_sql_duration_ms as duration_ms
    from successful_requests
    where nl_to_sql_duration_ms is not null
    union all
    select
        request_date,
        'sql_execution' as step,
        sql_execution_duration_ms as duration_ms
    from successful_requests
    where sql_execution_duration_ms is not null
    union all
    select
        request_date,
        'response_generation' as step,
        response_generation_duration_ms as duration_ms
    from successful_requests
    where response_generation_duration_ms is not null
    union all
    select
        request_date,
        'ttfb' as step,
        ttfb_ms as duration_ms
    from successful_requests
    where ttfb_ms is not null
),

aggregated as (
    select
        request_date,
        step,
        cast(count(*) as {{ dbt.type_bigint() }}) as requests,
        cast(avg(duration_ms) as {{ type_double() }}) as avg_ms,
        cast({{ percentile_cont('duration_ms', 0.5) }} as {{ type_double() }}) as p50_ms,
        cast({{ percentile_cont('duration_ms', 0.95) }} as {{ type_double() }}) as p95_ms,
        cast({{ percentile_cont('duration_ms', 0.99) }} as {{ type_double() }}) as p99_ms,
        cast(max(duration_ms) as {{ type_double() }}) as max_ms
    from step_durations
    group by request_date, step
)

select * from aggregated

-- Latency statistics per request_date and step, over successful requests that have the value.
{{ config(**daily_incremental_config()) }}

with

successful_requests as (
    select * from {{ ref('int_requests_dated') }}
    where
        not is_error
        and {{ incremental_filter() }}
),

steps as (
    select 'nl_to_sql' as step
    union all
    select 'sql_execution' as step
    union all
    select 'response_generation' as step
    union all
    select 'ttfb' as step
),

-- One row per request and step that has a duration: the requests are read once (a union of
-- one select per step read them four times, which on Spark is four scans).
step_durations as (
    select
        successful_requests.request_date,
        steps.step,
        case steps.step
            when 'nl_to_sql' then successful_requests.nl_to_sql_duration_ms
            when 'sql_execution' then successful_requests.sql_execution_duration_ms
            when 'response_generation'
                then successful_requests.response_generation_duration_ms
            else successful_requests.ttfb_ms
        end as duration_ms
    from successful_requests
    cross join steps
),

aggregated as (
    select
        request_date,
        step,
        cast(count(*) as {{ dbt.type_bigint() }}) as requests,
        cast(avg(duration_ms) as {{ type_double() }}) as avg_ms,
        {{ percentiles_cont('duration_ms', [0.5, 0.95, 0.99]) }} as percentiles_ms,
        cast(max(duration_ms) as {{ type_double() }}) as max_ms
    from step_durations
    where duration_ms is not null
    group by request_date, step
),

unpacked as (
    select
        request_date,
        step,
        requests,
        avg_ms,
        cast({{ array_element('percentiles_ms', 0) }} as {{ type_double() }}) as p50_ms,
        cast({{ array_element('percentiles_ms', 1) }} as {{ type_double() }}) as p95_ms,
        cast({{ array_element('percentiles_ms', 2) }} as {{ type_double() }}) as p99_ms,
        max_ms
    from aggregated
)

select * from unpacked

-- One row per metric_date, rule and subject: the daily value each anomaly rule watches, read
-- from the daily marts (never from raw rows). Days without a row of a model or error type
-- count as 0 on every day that had traffic, so that a baseline of a rare kind is not made of
-- its busy days only. Only the days the alert window and its baselines need are read
-- (alert_input_start_date). Rates and latencies are doubles in the marts: they are rounded
-- to 12 and 6 decimals (decimal_from_double) so that both engines report the same digits.
-- Costs are the marts' costs as priced now (repriced on every build). A view, a table on
-- Spark (shared_view_materialization).
{{ config(materialized=shared_view_materialization()) }}

with

token_costs as (
    select * from {{ ref('fct_daily_token_cost') }}
    where request_date >= {{ alert_input_start_date() }}
),

daily_errors as (
    select * from {{ ref('fct_daily_errors') }}
    where request_date >= {{ alert_input_start_date() }}
),

step_latencies as (
    select * from {{ ref('fct_daily_step_latency') }}
    where request_date >= {{ alert_input_start_date() }}
),

daily_requests as (
    select * from {{ ref('fct_daily_off_topic') }}
    where request_date >= {{ alert_input_start_date() }}
),

answer_quality as (
    select * from {{ ref('fct_daily_answer_quality') }}
    where request_date >= {{ alert_input_start_date() }}
),

summed_model_costs as (
    select
        request_date,
        model,
        sum(total_cost_usd) as cost_usd,
        sum(requests) as step_requests
    from token_costs
    where total_cost_usd is not null
    group by request_date, model
),

listed_priced_models as (
    select distinct model from summed_model_costs
),

filled_model_costs as (
    select
        daily_requests.request_date as metric_date,
        'cost_anomaly' as rule,  -- noqa: RF04
        listed_priced_models.model as subject,
        cast(coalesce(summed_model_costs.cost_usd, 0) as {{ type_usd() }}) as observed,
        cast(coalesce(summed_model_costs.step_requests, 0) as {{ dbt.type_bigint() }}) as events
    from daily_requests
    cross join listed_priced_models
    left join summed_model_costs
        on
            daily_requests.request_date = summed_model_costs.request_date
            and listed_priced_models.model = summed_model_costs.model
),

summed_type_errors as (
    select
        request_date,
        error_type,
        sum(errors) as errors
    from daily_errors
    group by request_date, error_type
),

listed_error_types as (
    select distinct error_type from summed_type_errors
),

filled_error_rates as (
    select
        daily_requests.request_date as metric_date,
        'error_rate_anomaly' as rule,  -- noqa: RF04
        listed_error_types.error_type as subject,
        cast(
            {{ decimal_from_double(
                safe_divide('coalesce(summed_type_errors.errors, 0)', 'daily_requests.requests'), 12
            ) }}
            as {{ type_usd() }}
        ) as observed,
        cast(coalesce(summed_type_errors.errors, 0) as {{ dbt.type_bigint() }}) as events
    from daily_requests
    cross join listed_error_types
    left join summed_type_errors
        on
            daily_requests.request_date = summed_type_errors.request_date
            and listed_error_types.error_type = summed_type_errors.error_type
),

selected_p95_latencies as (
    select
        request_date as metric_date,
        'latency_p95_regression' as rule,  -- noqa: RF04
        step as subject,
        cast({{ decimal_from_double('p95_ms', 6) }} as {{ type_usd() }}) as observed,
        cast(requests as {{ dbt.type_bigint() }}) as events
    from step_latencies
    where p95_ms is not null
),

selected_off_topic_rates as (
    select
        request_date as metric_date,
        'off_topic_rate_anomaly' as rule,  -- noqa: RF04
        'all' as subject,
        cast({{ decimal_from_double('off_topic_rate', 12) }} as {{ type_usd() }}) as observed,
        cast(requests as {{ dbt.type_bigint() }}) as events
    from daily_requests
    where off_topic_rate is not null
),

summed_empty_results as (
    select
        request_date,
        sum(empty_results) as empty_results,
        sum(requests_with_sql) as requests_with_sql
    from answer_quality
    group by request_date
),

selected_empty_result_rates as (
    select
        request_date as metric_date,
        'empty_result_rate_anomaly' as rule,  -- noqa: RF04
        'all' as subject,
        cast(
            {{ decimal_from_double(safe_divide('empty_results', 'requests_with_sql'), 12) }}
            as {{ type_usd() }}
        ) as observed,
        cast(requests_with_sql as {{ dbt.type_bigint() }}) as events
    from summed_empty_results
    where requests_with_sql > 0
),

unioned as (
    select * from filled_model_costs
    union all
    select * from filled_error_rates
    union all
    select * from selected_p95_latencies
    union all
    select * from selected_off_topic_rates
    union all
    select * from selected_empty_result_rates
)

select * from unioned

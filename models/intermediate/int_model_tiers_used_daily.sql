-- One row per request_date, pricing_date, model and service tier that a step of a request
-- used. Small (days x models x tiers) and incremental, so it outlives a retention purge: it is
-- what the prices are matched for (int_token_prices_matched) and how a price change on a UTC
-- pricing day is traced to the request days (reporting time zone) that must be repriced.
{{ config(**daily_incremental_config()) }}

with

requests as (
    select * from {{ ref('int_requests_dated') }}
    where {{ incremental_filter() }}
),

model_steps as (
    select 'sql' as step
    union all
    select 'response' as step
),

steps_used as (
    select
        requests.request_date,
        requests.pricing_date,
        case
            when model_steps.step = 'sql' then coalesce(requests.sql_model, '(unknown)')
            else coalesce(requests.response_model, '(unknown)')
        end as model,
        case
            when model_steps.step = 'sql' then requests.sql_service_tier
            else requests.response_service_tier
        end as service_tier
    from requests
    cross join model_steps
    where
        (
            model_steps.step = 'sql'
            and (
                requests.sql_model is not null
                or requests.sql_input_tokens is not null
                or requests.sql_output_tokens is not null
            )
        )
        or (
            model_steps.step = 'response'
            and (
                requests.response_model is not null
                or requests.response_input_tokens is not null
                or requests.response_output_tokens is not null
            )
        )
),

deduplicated as (
    select distinct
        request_date,
        pricing_date,
        model,
        service_tier
    from steps_used
)

select * from deduplicated

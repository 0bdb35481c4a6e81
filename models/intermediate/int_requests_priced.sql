-- One row per chat request, narrow: what the per-request marts need, with the tokens and cost
-- of both steps. Incremental, so that marts read a slim table instead of repricing raw
-- history (or the lookback, twice) on every run.
{{ config(**daily_incremental_config(indexed=true)) }}

with

requests as (
    select * from {{ ref('int_requests_dated') }}
    where {{ incremental_filter() }}
),

request_steps as (
    select * from {{ ref('int_request_steps_priced') }}
    where {{ incremental_filter() }}
),

costs_per_request as (
    select
        request_id,
        sum(input_tokens) as input_tokens,
        sum(cached_input_tokens) as cached_input_tokens,
        sum(output_tokens) as output_tokens,
        sum(total_cost_usd) as priced_cost_usd,
        sum(case when is_priced then 0 else 1 end) as unpriced_steps
    from request_steps
    group by request_id
),

joined as (
    select
        requests.request_id,
        requests.user_id,
        requests.created_at,
        requests.request_date,
        requests.sql_model,
        requests.response_model,
        requests.is_error,
        requests.is_off_topic,
        requests.nl_to_sql_duration_ms,
        requests.response_generation_duration_ms,
        requests.ttfb_ms,
        requests.sql_input_tokens,
        requests.sql_output_tokens,
        requests.response_input_tokens,
        requests.response_output_tokens,
        coalesce(costs_per_request.input_tokens, 0) as input_tokens,
        coalesce(costs_per_request.cached_input_tokens, 0) as cached_input_tokens,
        coalesce(costs_per_request.output_tokens, 0) as output_tokens,
        cast(costs_per_request.priced_cost_usd as {{ type_usd() }}) as priced_cost_usd,
        coalesce(costs_per_request.unpriced_steps, 0) > 0 as has_unpriced_step,
        cast(
            case
                when coalesce(costs_per_request.unpriced_steps, 0) = 0
                    then costs_per_request.priced_cost_usd
            end as {{ type_usd() }}
        ) as request_cost_usd
    from requests
    left join costs_per_request
        on requests.request_id = costs_per_request.request_id
)

select * from joined

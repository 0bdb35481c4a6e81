-- Token usage and cost per request_date, step and model (as recorded).
{{ config(**daily_incremental_config()) }}

with

request_steps as (
    select * from {{ ref('int_request_steps_priced') }}
    where {{ incremental_filter() }}
),

aggregated as (
    select
        request_date,
        step,
        model,
        cast(count(*) as {{ dbt.type_bigint() }}) as requests,
        cast(sum(input_tokens) as {{ dbt.type_bigint() }}) as input_tokens,
        cast(sum(cached_input_tokens) as {{ dbt.type_bigint() }}) as cached_input_tokens,
        cast(sum(output_tokens) as {{ dbt.type_bigint() }}) as output_tokens,
        cast(sum(input_cost_usd) as {{ type_usd() }}) as input_cost_usd,
        cast(sum(cached_input_cost_usd) as {{ type_usd() }}) as cached_input_cost_usd,
        cast(sum(output_cost_usd) as {{ type_usd() }}) as output_cost_usd,
        cast(sum(total_cost_usd) as {{ type_usd() }}) as total_cost_usd,
        cast(sum(case when is_priced then 0 else 1 end) as {{ dbt.type_bigint() }})
            as unpriced_requests
    from request_steps
    group by request_date, step, model
)

select * from aggregated

-- Token usage and cost per request_date, step and model (as recorded). Rebuilt on every run
-- from the retained token sums, priced with the seed as it is now: a price change reprices
-- all history.
with

token_usage as (
    select * from {{ ref('int_token_usage_priced') }}
),

step_usage as (
    select
        request_date,
        'sql' as step,
        sql_step_model as model,
        requests,
        sql_input_tokens as input_tokens,
        sql_cached_input_tokens as cached_input_tokens,
        sql_output_tokens as output_tokens,
        is_sql_cost_known as is_cost_known,
        sql_input_cost_usd as input_cost_usd,
        sql_cached_input_cost_usd as cached_input_cost_usd,
        sql_output_cost_usd as output_cost_usd,
        sql_cost_usd as total_cost_usd
    from token_usage
    where has_sql_step
    union all
    select
        request_date,
        'response' as step,
        response_step_model as model,
        requests,
        response_input_tokens as input_tokens,
        response_cached_input_tokens as cached_input_tokens,
        response_output_tokens as output_tokens,
        is_response_cost_known as is_cost_known,
        response_input_cost_usd as input_cost_usd,
        response_cached_input_cost_usd as cached_input_cost_usd,
        response_output_cost_usd as output_cost_usd,
        response_cost_usd as total_cost_usd
    from token_usage
    where has_response_step
),

aggregated as (
    select
        request_date,
        step,
        model,
        {{ strip_model_snapshot('model') }} as model_family,
        cast(sum(requests) as {{ dbt.type_bigint() }}) as requests,
        cast(sum(input_tokens) as {{ dbt.type_bigint() }}) as input_tokens,
        cast(sum(cached_input_tokens) as {{ dbt.type_bigint() }}) as cached_input_tokens,
        cast(sum(output_tokens) as {{ dbt.type_bigint() }}) as output_tokens,
        cast(sum(input_cost_usd) as {{ type_usd() }}) as input_cost_usd,
        cast(sum(cached_input_cost_usd) as {{ type_usd() }}) as cached_input_cost_usd,
        cast(sum(output_cost_usd) as {{ type_usd() }}) as output_cost_usd,
        cast(sum(total_cost_usd) as {{ type_usd() }}) as total_cost_usd,
        cast(sum(case when is_cost_known then 0 else requests end) as {{ dbt.type_bigint() }})
            as unpriced_requests
    from step_usage
    group by request_date, step, model
)

select * from aggregated

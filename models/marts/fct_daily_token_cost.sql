-- Token usage and cost per request_date, step and model (as recorded). Rebuilt on every run
-- from the retained token sums, priced with the seed as it is now: a price change reprices
-- all history. Tokens are summed per day, UTC pricing day, step and model first, and priced
-- after (cost is linear in tokens), so a run prices thousands of rows, not all history.
with

token_usage as (
    select * from {{ ref('int_token_usage_aggregated_daily') }}
),

matched_prices as (
    select * from {{ ref('int_token_prices_matched') }}
),

model_steps as (
    select 'sql' as step
    union all
    select 'response' as step
),

step_usage as (
    select
        token_usage.request_date,
        token_usage.pricing_date,
        model_steps.step,
        token_usage.requests,
        case
            when model_steps.step = 'sql' then coalesce(token_usage.sql_model, '(unknown)')
            else coalesce(token_usage.response_model, '(unknown)')
        end as model,
        case
            when model_steps.step = 'sql' then token_usage.has_sql_token_counts
            else token_usage.has_response_token_counts
        end as has_token_counts,
        case
            when model_steps.step = 'sql' then token_usage.sql_input_tokens
            else token_usage.response_input_tokens
        end as input_tokens,
        case
            when model_steps.step = 'sql' then token_usage.sql_cached_input_tokens
            else token_usage.response_cached_input_tokens
        end as cached_input_tokens,
        case
            when model_steps.step = 'sql' then token_usage.sql_output_tokens
            else token_usage.response_output_tokens
        end as output_tokens
    from token_usage
    cross join model_steps
    where
        (model_steps.step = 'sql' and token_usage.has_sql_step)
        or (model_steps.step = 'response' and token_usage.has_response_step)
),

summed_step_usage as (
    select
        request_date,
        pricing_date,
        step,
        model,
        has_token_counts,
        sum(requests) as requests,
        sum(input_tokens) as input_tokens,
        sum(cached_input_tokens) as cached_input_tokens,
        sum(output_tokens) as output_tokens
    from step_usage
    group by request_date, pricing_date, step, model, has_token_counts
),

priced_step_usage as (
    select
        summed_step_usage.*,
        matched_prices.input_usd_per_1m,
        matched_prices.cached_input_usd_per_1m,
        matched_prices.output_usd_per_1m,
        summed_step_usage.has_token_counts
        and matched_prices.priced_as_model is not null as is_cost_known
    from summed_step_usage
    left join matched_prices
        on
            summed_step_usage.pricing_date = matched_prices.pricing_date
            and summed_step_usage.model = matched_prices.model
),

costed_step_usage as (
    select
        *,
        case when is_cost_known then {{ uncached_input_cost_usd(
            'input_tokens', 'cached_input_tokens', 'input_usd_per_1m'
        ) }} end as input_cost_usd,
        case when is_cost_known then {{ cached_input_cost_usd(
            'cached_input_tokens', 'cached_input_usd_per_1m'
        ) }} end as cached_input_cost_usd,
        case when is_cost_known then {{ output_cost_usd(
            'output_tokens', 'output_usd_per_1m'
        ) }} end as output_cost_usd
    from priced_step_usage
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
        cast(
            sum(input_cost_usd + cached_input_cost_usd + output_cost_usd) as {{ type_usd() }}
        ) as total_cost_usd,
        cast(sum(case when is_cost_known then 0 else requests end) as {{ dbt.type_bigint() }})
            as unpriced_requests
    from costed_step_usage
    group by request_date, step, model
)

select * from aggregated

-- One row per pricing_date (UTC day) and model that the retained token sums use, with the
-- price in force that day: the exact model name first, else the name without its snapshot
-- date (gpt-4o-mini-2024-07-18 is priced as gpt-4o-mini); NULL prices when none is in force.
-- Small (days x models), so the cost models join it on equality instead of matching every
-- usage row against the seed.
with

token_usage as (
    select * from {{ ref('int_token_usage_aggregated_daily') }}
),

token_prices as (
    select * from {{ ref('token_prices') }}
),

model_steps as (
    select 'sql' as step
    union all
    select 'response' as step
),

models_used as (
    select distinct
        token_usage.pricing_date,
        case
            when model_steps.step = 'sql' then coalesce(token_usage.sql_model, '(unknown)')
            else coalesce(token_usage.response_model, '(unknown)')
        end as model
    from token_usage
    cross join model_steps
    where
        (model_steps.step = 'sql' and token_usage.has_sql_step)
        or (model_steps.step = 'response' and token_usage.has_response_step)
),

matched_prices as (
    select
        models_used.pricing_date,
        models_used.model,
        coalesce(exact_price.model, snapshot_base_price.model) as priced_as_model,
        coalesce(exact_price.input_usd_per_1m, snapshot_base_price.input_usd_per_1m)
            as input_usd_per_1m,
        coalesce(exact_price.cached_input_usd_per_1m, snapshot_base_price.cached_input_usd_per_1m)
            as cached_input_usd_per_1m,
        coalesce(exact_price.output_usd_per_1m, snapshot_base_price.output_usd_per_1m)
            as output_usd_per_1m
    from models_used
    left join token_prices as exact_price
        on
            models_used.model = exact_price.model
            and models_used.pricing_date >= exact_price.valid_from
            and (exact_price.valid_to is null or models_used.pricing_date < exact_price.valid_to)
    left join token_prices as snapshot_base_price
        on
            exact_price.model is null
            and {{ strip_model_snapshot('models_used.model') }} = snapshot_base_price.model
            and models_used.model != snapshot_base_price.model
            and models_used.pricing_date >= snapshot_base_price.valid_from
            and (
                snapshot_base_price.valid_to is null
                or models_used.pricing_date < snapshot_base_price.valid_to
            )
)

select * from matched_prices

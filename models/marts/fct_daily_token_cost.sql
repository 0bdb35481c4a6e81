-- Token usage and cost per request_date, step and model (as recorded), with the mix of
-- service tiers, cache writes and long-context calls behind it. Priced from the retained
-- token sums with the seed as it is at build time (int_token_usage_priced). Incremental by
-- whole day: a run rebuilds the days from its start date, the days whose prices in the seed
-- changed since this table last priced them, and the days a user was forgotten on; the
-- recorded prices are replaced after the rebuild (macros/incremental/repriced_days.sql).
-- The days to rebuild are found by macros that read these (dbt cannot infer it):
-- depends_on: {{ ref('int_token_prices_matched') }}
-- depends_on: {{ ref('int_model_tiers_used_daily') }}
-- depends_on: {{ ref('int_token_usage_aggregated_daily') }}
{{ config(**daily_incremental_config(reprice=true, rebuild_forgotten_days=true)) }}

with

token_usage as (
    select * from {{ ref('int_token_usage_priced') }}
    where {{ rebuilt_days_filter() }}
),

model_steps as (
    select 'sql' as step
    union all
    select 'response' as step
),

step_usage as (
    select
        token_usage.request_date,
        model_steps.step,
        token_usage.requests,
        case
            when model_steps.step = 'sql' then token_usage.sql_step_model
            else token_usage.response_step_model
        end as model,
        case
            when model_steps.step = 'sql' then token_usage.is_sql_cost_known
            else token_usage.is_response_cost_known
        end as is_cost_known,
        case
            when model_steps.step = 'sql' then token_usage.sql_priced_as_model is not null
            else token_usage.response_priced_as_model is not null
        end as has_price,
        case
            when model_steps.step = 'sql' then token_usage.sql_service_tier
            else token_usage.response_service_tier
        end as service_tier,
        case
            when model_steps.step = 'sql' then token_usage.is_sql_long_context
            else token_usage.is_response_long_context
        end as is_long_context,
        case
            when model_steps.step = 'sql' then token_usage.sql_input_tokens
            else token_usage.response_input_tokens
        end as input_tokens,
        case
            when model_steps.step = 'sql' then token_usage.sql_cached_input_tokens
            else token_usage.response_cached_input_tokens
        end as cached_input_tokens,
        case
            when model_steps.step = 'sql' then token_usage.sql_cache_write_input_tokens
            else token_usage.response_cache_write_input_tokens
        end as cache_write_input_tokens,
        case
            when model_steps.step = 'sql' then token_usage.sql_output_tokens
            else token_usage.response_output_tokens
        end as output_tokens,
        case
            when model_steps.step = 'sql' then token_usage.sql_input_cost_usd
            else token_usage.response_input_cost_usd
        end as input_cost_usd,
        case
            when model_steps.step = 'sql' then token_usage.sql_cached_input_cost_usd
            else token_usage.response_cached_input_cost_usd
        end as cached_input_cost_usd,
        case
            when model_steps.step = 'sql' then token_usage.sql_cache_write_input_cost_usd
            else token_usage.response_cache_write_input_cost_usd
        end as cache_write_input_cost_usd,
        case
            when model_steps.step = 'sql' then token_usage.sql_output_cost_usd
            else token_usage.response_output_cost_usd
        end as output_cost_usd
    from token_usage
    cross join model_steps
    where
        (model_steps.step = 'sql' and token_usage.has_sql_step)
        or (model_steps.step = 'response' and token_usage.has_response_step)
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
        cast(sum(cache_write_input_tokens) as {{ dbt.type_bigint() }})
            as cache_write_input_tokens,
        cast(sum(output_tokens) as {{ dbt.type_bigint() }}) as output_tokens,
        cast(
            sum(case when service_tier = 'default' then requests else 0 end)
            as {{ dbt.type_bigint() }}
        ) as default_tier_requests,
        cast(
            sum(case when service_tier = 'flex' then requests else 0 end)
            as {{ dbt.type_bigint() }}
        ) as flex_tier_requests,
        cast(
            sum(case when service_tier = 'priority' then requests else 0 end)
            as {{ dbt.type_bigint() }}
        ) as priority_tier_requests,
        cast(
            sum(
                case
                    when service_tier not in ('default', 'flex', 'priority') then requests
                    else 0
                end
            ) as {{ dbt.type_bigint() }}
        ) as other_tier_requests,
        cast(
            sum(case when is_long_context then requests else 0 end) as {{ dbt.type_bigint() }}
        ) as long_context_requests,
        cast(sum(input_cost_usd) as {{ type_usd() }}) as input_cost_usd,
        cast(sum(cached_input_cost_usd) as {{ type_usd() }}) as cached_input_cost_usd,
        cast(sum(cache_write_input_cost_usd) as {{ type_usd() }}) as cache_write_input_cost_usd,
        cast(sum(output_cost_usd) as {{ type_usd() }}) as output_cost_usd,
        cast(
            sum(
                input_cost_usd
                + cached_input_cost_usd
                + cache_write_input_cost_usd
                + output_cost_usd
            )
            as {{ type_usd() }}
        ) as total_cost_usd,
        cast(sum(case when is_cost_known then 0 else requests end) as {{ dbt.type_bigint() }})
            as unpriced_requests,
        cast(sum(case when has_price then 0 else requests end) as {{ dbt.type_bigint() }})
            as unpriced_model_requests
    from step_usage
    group by request_date, step, model
)

select * from aggregated

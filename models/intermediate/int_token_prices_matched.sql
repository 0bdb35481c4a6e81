-- One row per pricing_date (UTC day), model and service tier in use, with the price in force
-- that day for that tier: the exact model name first, else the name without its snapshot date
-- (gpt-4o-mini-2024-07-18 is priced as gpt-4o-mini), never another tier; NULL prices when
-- none is in force. An empty cache-write price is the input price. Small (days x models x
-- tiers): the cost models join it on equality, and the cost marts compare it with the prices
-- they last applied to find the days a seed edit reprices. The prices are the seed
-- token_prices, or the model or seed that the var price_table names (a project that installs
-- this package and keeps its own price table, with the seed's columns). A view, a table on
-- Spark, where every reader would otherwise compute it again (shared_view_materialization).
-- Its post-hook compares it with the cost marts' records once a run, before they start.
{{ config(
    materialized=shared_view_materialization(),
    post_hook=['{{ compare_applied_prices_early() }}'],
) }}
{%- set price_table = telemetry_var('price_table') %}

with

models_used as (
    select distinct
        pricing_date,
        model,
        service_tier
    from {{ ref('int_model_tiers_used_daily') }}
),

token_prices as (
    select * from {{ ref(price_table) if price_table else ref('token_prices') }}
),

matched_rows as (
    select
        models_used.pricing_date,
        models_used.model,
        models_used.service_tier,
        coalesce(exact_price.model, snapshot_base_price.model) as priced_as_model,
        coalesce(exact_price.input_usd_per_1m, snapshot_base_price.input_usd_per_1m)
            as input_usd_per_1m,
        coalesce(exact_price.cached_input_usd_per_1m, snapshot_base_price.cached_input_usd_per_1m)
            as cached_input_usd_per_1m,
        coalesce(
            exact_price.cache_write_input_usd_per_1m,
            snapshot_base_price.cache_write_input_usd_per_1m
        ) as cache_write_input_usd_per_1m,
        coalesce(exact_price.output_usd_per_1m, snapshot_base_price.output_usd_per_1m)
            as output_usd_per_1m,
        case
            when exact_price.model is not null then exact_price.long_context_threshold_tokens
            else snapshot_base_price.long_context_threshold_tokens
        end as long_context_threshold_tokens,
        case
            when exact_price.model is not null then exact_price.long_context_input_usd_per_1m
            else snapshot_base_price.long_context_input_usd_per_1m
        end as long_context_input_usd_per_1m,
        case
            when exact_price.model is not null
                then exact_price.long_context_cached_input_usd_per_1m
            else snapshot_base_price.long_context_cached_input_usd_per_1m
        end as long_context_cached_input_usd_per_1m,
        case
            when exact_price.model is not null
                then exact_price.long_context_cache_write_input_usd_per_1m
            else snapshot_base_price.long_context_cache_write_input_usd_per_1m
        end as long_context_cache_write_input_usd_per_1m,
        case
            when exact_price.model is not null then exact_price.long_context_output_usd_per_1m
            else snapshot_base_price.long_context_output_usd_per_1m
        end as long_context_output_usd_per_1m
    from models_used
    left join token_prices as exact_price
        on
            models_used.model = exact_price.model
            and models_used.service_tier = exact_price.service_tier
            and models_used.pricing_date >= exact_price.valid_from
            and (exact_price.valid_to is null or models_used.pricing_date < exact_price.valid_to)
    left join token_prices as snapshot_base_price
        on
            exact_price.model is null
            and {{ strip_model_snapshot('models_used.model') }} = snapshot_base_price.model
            and models_used.model != snapshot_base_price.model
            and models_used.service_tier = snapshot_base_price.service_tier
            and models_used.pricing_date >= snapshot_base_price.valid_from
            and (
                snapshot_base_price.valid_to is null
                or models_used.pricing_date < snapshot_base_price.valid_to
            )
),

matched_prices as (
    select
        pricing_date,
        model,
        service_tier,
        priced_as_model,
        input_usd_per_1m,
        cached_input_usd_per_1m,
        output_usd_per_1m,
        long_context_threshold_tokens,
        long_context_input_usd_per_1m,
        long_context_cached_input_usd_per_1m,
        long_context_output_usd_per_1m,
        coalesce(cache_write_input_usd_per_1m, input_usd_per_1m) as cache_write_input_usd_per_1m,
        coalesce(long_context_cache_write_input_usd_per_1m, long_context_input_usd_per_1m)
            as long_context_cache_write_input_usd_per_1m
    from matched_rows
)

select * from matched_prices

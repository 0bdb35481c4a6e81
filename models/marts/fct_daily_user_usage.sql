-- Usage per request_date and user: requests, tokens of both steps, cost, errors, off-topic.
-- Rebuilt on every run from the retained token sums (users erased from auth.users are gone
-- from those on every day), priced with the seed as it is now. Each row's cost is summed in
-- USD x 1e6 (tokens x price per 1M, exact) and divided once per user and day: the cheapest
-- way to reprice all history on every run.
with

token_usage as (
    select * from {{ ref('int_token_usage_aggregated_daily') }}
),

matched_prices as (
    select * from {{ ref('int_token_prices_matched') }}
),

priced_usage as (
    select
        token_usage.*,
        token_usage.has_sql_step
        and token_usage.has_sql_token_counts
        and sql_price.priced_as_model is not null as is_sql_cost_known,
        token_usage.has_response_step
        and token_usage.has_response_token_counts
        and response_price.priced_as_model is not null as is_response_cost_known,
        (token_usage.sql_input_tokens - token_usage.sql_cached_input_tokens)
        * sql_price.input_usd_per_1m
        + token_usage.sql_cached_input_tokens * sql_price.cached_input_usd_per_1m
        + token_usage.sql_output_tokens * sql_price.output_usd_per_1m as sql_cost_usd_x1m,
        (token_usage.response_input_tokens - token_usage.response_cached_input_tokens)
        * response_price.input_usd_per_1m
        + token_usage.response_cached_input_tokens * response_price.cached_input_usd_per_1m
        + token_usage.response_output_tokens * response_price.output_usd_per_1m
            as response_cost_usd_x1m
    from token_usage
    left join matched_prices as sql_price
        on
            token_usage.pricing_date = sql_price.pricing_date
            and token_usage.has_sql_step
            and coalesce(token_usage.sql_model, '(unknown)') = sql_price.model
    left join matched_prices as response_price
        on
            token_usage.pricing_date = response_price.pricing_date
            and token_usage.has_response_step
            and coalesce(token_usage.response_model, '(unknown)') = response_price.model
),

costed_usage as (
    select
        *,
        (has_sql_step and not is_sql_cost_known)
        or (has_response_step and not is_response_cost_known) as has_unknown_cost,
        case
            when is_sql_cost_known or is_response_cost_known
                then
                    case when is_sql_cost_known then sql_cost_usd_x1m else 0 end
                    + case when is_response_cost_known then response_cost_usd_x1m else 0 end
        end as known_cost_usd_x1m
    from priced_usage
),

aggregated as (
    select
        request_date,
        user_id,
        cast(sum(requests) as {{ dbt.type_bigint() }}) as requests,
        cast(sum(sql_input_tokens + response_input_tokens) as {{ dbt.type_bigint() }})
            as input_tokens,
        cast(
            sum(sql_cached_input_tokens + response_cached_input_tokens)
            as {{ dbt.type_bigint() }}
        ) as cached_input_tokens,
        cast(sum(sql_output_tokens + response_output_tokens) as {{ dbt.type_bigint() }})
            as output_tokens,
        cast(
            sum(
                sql_input_tokens
                + response_input_tokens
                + sql_output_tokens
                + response_output_tokens
            ) as {{ dbt.type_bigint() }}
        ) as total_tokens,
        cast(sum(known_cost_usd_x1m) / 1000000.0 as {{ type_usd() }}) as total_cost_usd,
        max(case when has_unknown_cost then 1 else 0 end) = 1 as has_unpriced_usage,
        cast(sum(case when has_unknown_cost then requests else 0 end) as {{ dbt.type_bigint() }})
            as unpriced_requests,
        cast(sum(errors) as {{ dbt.type_bigint() }}) as errors,
        cast(sum(off_topic_requests) as {{ dbt.type_bigint() }}) as off_topic_requests,
        min(first_request_at) as first_request_at,
        max(last_request_at) as last_request_at
    from costed_usage
    group by request_date, user_id
)

select * from aggregated

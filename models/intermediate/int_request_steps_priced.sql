-- One row per chat request and model step that ran (sql: NL-to-SQL, response: the answer),
-- priced with the token price in force on the request's UTC day. Matching takes the exact
-- model name first, else the name without its snapshot date (gpt-4o-mini-2024-07-18 is priced
-- as gpt-4o-mini). A step with no price in force is unpriced: its costs are NULL, never 0.
with

requests as (
    select * from {{ ref('int_requests_dated') }}
),

token_prices as (
    select * from {{ ref('token_prices') }}
),

sql_steps as (
    select
        request_id,
        user_id,
        created_at,
        request_date,
        pricing_date,
        'sql' as step,
        coalesce(sql_model, '(unknown)') as model,
        coalesce(sql_input_tokens, 0) as input_tokens,
        coalesce(sql_cached_input_tokens, 0) as cached_input_tokens,
        coalesce(sql_output_tokens, 0) as output_tokens
    from requests
    where
        sql_model is not null
        or sql_input_tokens is not null
        or sql_output_tokens is not null
),

response_steps as (
    select
        request_id,
        user_id,
        created_at,
        request_date,
        pricing_date,
        'response' as step,
        coalesce(response_model, '(unknown)') as model,
        coalesce(response_input_tokens, 0) as input_tokens,
        coalesce(response_cached_input_tokens, 0) as cached_input_tokens,
        coalesce(response_output_tokens, 0) as output_tokens
    from requests
    where
        response_model is not null
        or response_input_tokens is not null
        or response_output_tokens is not null
),

unioned_steps as (
    select * from sql_steps
    union all
    select * from response_steps
),

matched_prices as (
    select
        unioned_steps.*,
        case
            when exact_price.model is not null then exact_price.model
            else snapshot_base_price.model
        end as priced_as_model,
        case
            when exact_price.model is not null then exact_price.input_usd_per_1m
            else snapshot_base_price.input_usd_per_1m
        end as input_usd_per_1m,
        case
            when exact_price.model is not null then exact_price.cached_input_usd_per_1m
            else snapshot_base_price.cached_input_usd_per_1m
        end as cached_input_usd_per_1m,
        case
            when exact_price.model is not null then exact_price.output_usd_per_1m
            else snapshot_base_price.output_usd_per_1m
        end as output_usd_per_1m
    from unioned_steps
    left join token_prices as exact_price
        on
            unioned_steps.model = exact_price.model
            and unioned_steps.pricing_date >= exact_price.valid_from
            and (exact_price.valid_to is null or unioned_steps.pricing_date < exact_price.valid_to)
    left join token_prices as snapshot_base_price
        on
            {{ strip_model_snapshot('unioned_steps.model') }} = snapshot_base_price.model
            and unioned_steps.model != snapshot_base_price.model
            and unioned_steps.pricing_date >= snapshot_base_price.valid_from
            and (
                snapshot_base_price.valid_to is null
                or unioned_steps.pricing_date < snapshot_base_price.valid_to
            )
),

costed as (
    select
        request_id,
        user_id,
        created_at,
        request_date,
        pricing_date,
        step,
        model,
        priced_as_model,
        input_tokens,
        cached_input_tokens,
        output_tokens,
        input_usd_per_1m,
        cached_input_usd_per_1m,
        output_usd_per_1m,
        input_usd_per_1m is not null as is_priced,
        {{ uncached_input_cost_usd('input_tokens', 'cached_input_tokens', 'input_usd_per_1m') }}
        as input_cost_usd,
        {{ cached_input_cost_usd('cached_input_tokens', 'cached_input_usd_per_1m') }}
        as cached_input_cost_usd,
        {{ output_cost_usd('output_tokens', 'output_usd_per_1m') }} as output_cost_usd
    from matched_prices
),

totalled as (
    select
        *,
        input_cost_usd + cached_input_cost_usd + output_cost_usd as total_cost_usd
    from costed
)

select * from totalled

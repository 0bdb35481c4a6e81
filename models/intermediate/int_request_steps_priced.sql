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

model_steps as (
    select 'sql' as step
    union all
    select 'response' as step
),

unpivoted_steps as (
    select
        requests.request_id,
        requests.user_id,
        requests.created_at,
        requests.request_date,
        requests.pricing_date,
        model_steps.step,
        case
            when model_steps.step = 'sql' then requests.sql_model
            else requests.response_model
        end as recorded_model,
        case
            when model_steps.step = 'sql' then requests.sql_input_tokens
            else requests.response_input_tokens
        end as recorded_input_tokens,
        case
            when model_steps.step = 'sql' then requests.sql_cached_input_tokens
            else requests.response_cached_input_tokens
        end as recorded_cached_input_tokens,
        case
            when model_steps.step = 'sql' then requests.sql_output_tokens
            else requests.response_output_tokens
        end as recorded_output_tokens
    from requests
    cross join model_steps
),

steps_that_ran as (
    select
        request_id,
        user_id,
        created_at,
        request_date,
        pricing_date,
        step,
        coalesce(recorded_model, '(unknown)') as model,
        coalesce(recorded_input_tokens, 0) as input_tokens,
        coalesce(recorded_cached_input_tokens, 0) as cached_input_tokens,
        coalesce(recorded_output_tokens, 0) as output_tokens
    from unpivoted_steps
    where
        recorded_model is not null
        or recorded_input_tokens is not null
        or recorded_output_tokens is not null
),

matched_prices as (
    select
        steps_that_ran.*,
        coalesce(exact_price.model, snapshot_base_price.model) as priced_as_model,
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
    from steps_that_ran
    left join token_prices as exact_price
        on
            steps_that_ran.model = exact_price.model
            and steps_that_ran.pricing_date >= exact_price.valid_from
            and (exact_price.valid_to is null or steps_that_ran.pricing_date < exact_price.valid_to)
    left join token_prices as snapshot_base_price
        on
            {{ strip_model_snapshot('steps_that_ran.model') }} = snapshot_base_price.model
            and steps_that_ran.model != snapshot_base_price.model
            and steps_that_ran.pricing_date >= snapshot_base_price.valid_from
            and (
                snapshot_base_price.valid_to is null
                or steps_that_ran.pricing_date < snapshot_base_price.valid_to
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
        cast(input_cost_usd + cached_input_cost_usd + output_cost_usd as {{ type_usd() }})
            as total_cost_usd
    from costed
)

select * from totalled

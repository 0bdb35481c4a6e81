-- One row per complete day and model used with no price in force that day for the service
-- tier that served it (rule unpriced_model, severity warn): its cost is unknown and left out
-- of every total. Steps whose model has a price but whose token counts are missing are not
-- this rule's business (their model is priced). Read from the token sums, priced at build time,
-- so a price added to the seed clears the alert on every day at the next build.
with

token_sums as (
    select * from {{ ref('int_token_usage_aggregated_daily') }}
    where
        request_date < {{ alert_run_date() }}
        and request_date >= {{ alert_window_start_date() }}
),

-- Added up over users before pricing: whether a step has a price does not depend on the
-- user, and the window's per-user sums are ten to forty times as many rows.
summed_over_users as (
    {{ token_sums_over_users('token_sums') }}
),

-- Only the columns the rule needs: the pricing computes no cost it is not asked for.
token_usage as (
    select
        request_date,
        has_sql_step,
        sql_step_model,
        sql_priced_as_model,
        has_response_step,
        response_step_model,
        response_priced_as_model,
        requests
    from ({{ priced_token_usage('summed_over_users', []) }}) as priced_token_sums
),

model_steps as (
    select 'sql' as step
    union all
    select 'response' as step
),

-- Both steps in one pass over the priced sums (a union of one select per step read them
-- twice, which on Spark prices them twice).
unpriced_steps as (
    select
        token_usage.request_date,
        token_usage.requests,
        case
            when model_steps.step = 'sql' then token_usage.sql_step_model
            else token_usage.response_step_model
        end as model
    from token_usage
    cross join model_steps
    where
        (
            model_steps.step = 'sql'
            and token_usage.has_sql_step
            and token_usage.sql_priced_as_model is null
        )
        or (
            model_steps.step = 'response'
            and token_usage.has_response_step
            and token_usage.response_priced_as_model is null
        )
),

aggregated as (
    select
        request_date,
        model,
        sum(requests) as unpriced_steps
    from unpriced_steps
    group by request_date, model
),

described as (
    select
        request_date as alert_date,
        'unpriced_model' as rule,  -- noqa: RF04
        model as subject,
        cast(unpriced_steps as {{ type_usd() }}) as observed,
        cast(0 as {{ type_usd() }}) as expected,
        'warn' as severity,
        'Model ' || model || ' was used in ' || cast(unpriced_steps as {{ dbt.type_string() }})
        || ' steps on ' || cast(request_date as {{ dbt.type_string() }})
        || ' with no price in force: their cost is unknown and left out of the totals'
        || ' (add a row to seeds/token_prices.csv).' as message
    from aggregated
)

select * from described

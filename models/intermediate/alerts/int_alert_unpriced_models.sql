-- One row per complete day and model used with no price in force that day for the service
-- tier that served it (rule unpriced_model, severity warn): its cost is unknown and left out
-- of every total. Steps whose model has a price but whose token counts are missing are not
-- this rule's business (their model is priced). Read from fct_daily_token_cost's
-- unpriced_model_requests, priced at build time like every cost mart: a price added to the
-- seed reprices the days it touches, which clears the alert on those days at the next
-- build. The mart holds a few rows per day; the per-user token sums it replaces were ten to
-- forty times as many, priced again on every run.
with

token_costs as (
    select * from {{ ref('fct_daily_token_cost') }}
    where
        request_date < {{ alert_run_date() }}
        and request_date >= {{ alert_window_start_date() }}
        and unpriced_model_requests > 0
),

-- Both steps of a model add up: the alert counts steps, per day and model.
aggregated as (
    select
        request_date,
        model,
        sum(unpriced_model_requests) as unpriced_steps
    from token_costs
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

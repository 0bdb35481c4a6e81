-- One row per alert_date and subject over a budget (rule daily_cost_budget, severity error):
-- subject 'all' when a complete day's total cost is above daily_budget_usd (off when unset),
-- and a model (as recorded) when its cost that day is above its entry in model_budgets_usd.
-- Costs are the known costs as priced now; unpriced usage adds nothing (unpriced_model says so).
{%- set daily_budget = telemetry_var('daily_budget_usd') %}
{%- set has_daily_budget = daily_budget is not none and daily_budget | string | trim != '' %}
{%- set model_budgets = telemetry_var('model_budgets_usd') or {} %}

with

token_costs as (
    select * from {{ ref('fct_daily_token_cost') }}
    where
        request_date < {{ alert_run_date() }}
        and request_date >= {{ alert_window_start_date() }}
),

summed_day_costs as (
    select
        request_date,
        'all' as subject,
        sum(total_cost_usd) as cost_usd
    from token_costs
    group by request_date
),

summed_model_costs as (
    select
        request_date,
        model as subject,
        sum(total_cost_usd) as cost_usd
    from token_costs
    group by request_date, model
),

listed_budgets as (
    select
        'all' as subject,
        cast({{ (daily_budget | float) if has_daily_budget else 0 }} as {{ type_usd() }})
            as budget_usd
    where {{ 'true' if has_daily_budget else 'false' }}
    {%- for model, budget in model_budgets.items() %}
    union all
    select
        '{{ model | replace("'", "''") }}' as subject,
        cast({{ budget | float }} as {{ type_usd() }}) as budget_usd
    {%- endfor %}
),

unioned_costs as (
    select * from summed_day_costs
    union all
    select * from summed_model_costs
),

compared as (
    select
        unioned_costs.request_date as alert_date,
        'daily_cost_budget' as rule,  -- noqa: RF04
        unioned_costs.subject,
        cast(unioned_costs.cost_usd as {{ type_usd() }}) as observed,
        listed_budgets.budget_usd as expected,
        'error' as severity,
        case
            when unioned_costs.subject = 'all' then 'Total cost'
            else 'Cost of ' || unioned_costs.subject
        end
        || ' on ' || cast(unioned_costs.request_date as {{ dbt.type_string() }}) || ' was '
        || {{ alert_number('unioned_costs.cost_usd', 4) }} || ' USD, above its daily budget of '
        || {{ alert_number('listed_budgets.budget_usd', 2) }} || ' USD ('
        || {{ alert_percent('unioned_costs.cost_usd / listed_budgets.budget_usd - 1') }}
        || ').' as message
    from unioned_costs
    inner join listed_budgets
        on unioned_costs.subject = listed_budgets.subject
    where unioned_costs.cost_usd > listed_budgets.budget_usd
)

select * from compared

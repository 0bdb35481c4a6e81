-- One row per alert_date, rule and subject: every alert the rules raise from
-- alert_window_days days before as_of_date (today unless set) up to the run date (the alerts
-- command posts only the last few days). A table rebuilt on every run from the daily marts
-- of that window and its baselines (and silence from the retained requests of its baseline
-- days), not an incremental one: a seed edit
-- reprices the cost marts, so yesterday's cost alerts must follow today's prices, and the
-- inputs are a few rows per day of a fixed number of days, so the rebuild costs the same
-- whatever the length of history.
with

anomalies as (
    select * from {{ ref('int_alert_anomalies') }}
),

budgets as (
    select * from {{ ref('int_alert_budgets') }}
),

unpriced_models as (
    select * from {{ ref('int_alert_unpriced_models') }}
),

telemetry_silence as (
    select * from {{ ref('int_alert_telemetry_silence') }}
),

unioned as (
    select
        alert_date,
        rule,
        subject,
        observed,
        expected,
        severity,
        message
    from budgets
    union all
    select
        alert_date,
        rule,
        subject,
        observed,
        expected,
        severity,
        message
    from anomalies
    union all
    select
        alert_date,
        rule,
        subject,
        observed,
        expected,
        severity,
        message
    from unpriced_models
    union all
    select
        alert_date,
        rule,
        subject,
        observed,
        expected,
        severity,
        message
    from telemetry_silence
),

typed as (
    select
        cast(alert_date as date) as alert_date,
        cast(rule as {{ dbt.type_string() }}) as rule,  -- noqa: RF04
        cast(subject as {{ dbt.type_string() }}) as subject,
        cast(observed as {{ type_usd() }}) as observed,
        cast(expected as {{ type_usd() }}) as expected,
        cast(severity as {{ dbt.type_string() }}) as severity,
        cast(message as {{ dbt.type_string() }}) as message
    from unioned
)

select * from typed

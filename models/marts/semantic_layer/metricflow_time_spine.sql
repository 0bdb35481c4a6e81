-- One row per calendar day from 2020-01-01 to a year after today: the time spine MetricFlow
-- joins metrics to (`time_spine:` in _semantic_layer.yml). Days, like request_date, are
-- calendar days in the reporting time zone. A view (it reads no table), replaced only when its
-- definition changes (stable_view).
{{ config(materialized='stable_view') }}
with

spine as (
    {{ dbt.date_spine(
        'day', date_literal('2020-01-01'), add_days('current_date', 366)
    ) }}
),

typed as (
    select cast(date_day as date) as date_day from spine
)

select * from typed

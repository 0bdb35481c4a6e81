-- One row per SQL fingerprint over all history: the settled totals of the days no run
-- rebuilds any more, plus the daily fingerprint rows from the settling boundary on. It reads
-- one row per fingerprint and the last few days, however long the history.
with

settled_fingerprints as (
    select * from {{ ref('int_sql_fingerprints_settled') }}
    where {{ newest_settled_generation_filter(ref('int_sql_fingerprints_settled')) }}
),

daily_fingerprints as (
    select * from {{ ref('int_sql_fingerprints_aggregated_daily') }}
),

unsettled_days as (
    select * from daily_fingerprints
    where {{ unsettled_days_filter(ref('int_sql_fingerprints_settled')) }}
),

added_up as (
    {{ add_up_fingerprints(['settled_fingerprints', 'unsettled_days']) }}
),

averaged as (
    select
        sql_fingerprint,
        occurrences,
        latest_sql as example_sql,
        {{ safe_divide('sql_execution_ms_sum', 'sql_execution_measurements') }}
            as avg_sql_execution_ms,
        {{ safe_divide('result_row_count_sum', 'result_row_count_measurements') }}
            as avg_result_row_count,
        errors,
        empty_results,
        first_seen_at,
        last_seen_at
    from added_up
)

select * from averaged

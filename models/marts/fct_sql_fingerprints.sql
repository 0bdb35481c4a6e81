-- One row per SQL fingerprint over all history, added up from the daily fingerprint model.
with

daily_fingerprints as (
    select * from {{ ref('int_sql_fingerprints_aggregated_daily') }}
),

ranked_days as (
    select
        *,
        row_number() over (
            partition by sql_fingerprint
            order by last_seen_at desc, request_date desc
        ) as recency_rank
    from daily_fingerprints
),

aggregated as (
    select
        sql_fingerprint,
        cast(sum(occurrences) as {{ dbt.type_bigint() }}) as occurrences,
        max(case when recency_rank = 1 then latest_sql end) as example_sql,
        {{ safe_divide('sum(sql_execution_ms_sum)', 'sum(sql_execution_measurements)') }}
            as avg_sql_execution_ms,
        {{ safe_divide('sum(result_row_count_sum)', 'sum(result_row_count_measurements)') }}
            as avg_result_row_count,
        cast(sum(errors) as {{ dbt.type_bigint() }}) as errors,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at
    from ranked_days
    group by sql_fingerprint
)

select * from aggregated

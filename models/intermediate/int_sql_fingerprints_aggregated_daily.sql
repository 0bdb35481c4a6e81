-- One row per request_date and SQL fingerprint: the daily building block of
-- fct_sql_fingerprints, incremental so that the all-time fingerprint mart never rescans
-- history. Sums and counts (not averages) so that days add up exactly.
{{ config(**daily_incremental_config(indexed=true)) }}

with

requests as (
    select * from {{ ref('int_requests_dated') }}
    where
        sql_fingerprint is not null
        and {{ incremental_filter() }}
),

ranked_by_recency as (
    select
        *,
        row_number() over (
            partition by request_date, sql_fingerprint
            order by created_at desc, request_id desc
        ) as recency_rank
    from requests
),

aggregated as (
    select
        request_date,
        sql_fingerprint,
        cast(count(*) as {{ dbt.type_bigint() }}) as occurrences,
        cast(sum(sql_execution_duration_ms) as {{ dbt.type_bigint() }}) as sql_execution_ms_sum,
        cast(count(sql_execution_duration_ms) as {{ dbt.type_bigint() }})
            as sql_execution_measurements,
        cast(sum(result_row_count) as {{ dbt.type_bigint() }}) as result_row_count_sum,
        cast(count(result_row_count) as {{ dbt.type_bigint() }}) as result_row_count_measurements,
        cast(sum(case when is_error then 1 else 0 end) as {{ dbt.type_bigint() }}) as errors,
        cast(
            sum(case when not is_error and result_row_count = 0 then 1 else 0 end)
            as {{ dbt.type_bigint() }}
        ) as empty_results,
        min(created_at) as first_seen_at,
        max(created_at) as last_seen_at,
        max(case when recency_rank = 1 then generated_sql end) as latest_sql
    from ranked_by_recency
    group by request_date, sql_fingerprint
)

select * from aggregated

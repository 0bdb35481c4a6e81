-- Answer quality per request_date and sql_model (NULL shown as '(none)'): empty results, SQL
-- errors, re-asks and followed suggestions, with the rates as ratios of the counts on the
-- same row. Re-asks and followed suggestions are counted on the earlier request's day
-- (int_requests_sequenced). Incremental by whole day: a run rebuilds the days from its start
-- date, so a next request that arrives late corrects the earlier day within the lookback.
{{ config(**daily_incremental_config()) }}

with

requests as (
    select * from {{ ref('int_requests_sequenced') }}
    where {{ incremental_filter(landed_date_column=none) }}
),

labeled as (
    select
        *,
        coalesce(sql_model, '(none)') as sql_model_label
    from requests
),

aggregated as (
    select
        request_date,
        sql_model_label as sql_model,
        cast(count(*) as {{ dbt.type_bigint() }}) as requests,
        cast(sum(case when has_sql then 1 else 0 end) as {{ dbt.type_bigint() }})
            as requests_with_sql,
        cast(sum(case when is_empty_result then 1 else 0 end) as {{ dbt.type_bigint() }})
            as empty_results,
        cast(
            sum(
                case
                    when error_type in ('sql_generation', 'sql_validation', 'sql_execution')
                        then 1
                    else 0
                end
            ) as {{ dbt.type_bigint() }}
        ) as sql_errors,
        cast(
            sum(case when error_type = 'sql_generation' then 1 else 0 end)
            as {{ dbt.type_bigint() }}
        ) as sql_generation_errors,
        cast(
            sum(case when error_type = 'sql_validation' then 1 else 0 end)
            as {{ dbt.type_bigint() }}
        ) as sql_validation_errors,
        cast(
            sum(case when error_type = 'sql_execution' then 1 else 0 end)
            as {{ dbt.type_bigint() }}
        ) as sql_execution_errors,
        cast(sum(case when is_failed_or_empty then 1 else 0 end) as {{ dbt.type_bigint() }})
            as failed_or_empty_requests,
        cast(sum(case when is_reasked then 1 else 0 end) as {{ dbt.type_bigint() }})
            as reasked_requests,
        cast(sum(case when has_suggestions then 1 else 0 end) as {{ dbt.type_bigint() }})
            as requests_with_suggestions,
        cast(sum(case when is_suggestion_followed then 1 else 0 end) as {{ dbt.type_bigint() }})
            as suggestions_followed
    from labeled
    group by request_date, sql_model_label
),

rated as (
    select
        *,
        {{ safe_divide('empty_results', 'requests_with_sql') }} as empty_result_rate,
        {{ safe_divide('sql_errors', 'requests') }} as sql_error_rate,
        {{ safe_divide('reasked_requests', 'failed_or_empty_requests') }} as reask_rate,
        {{ safe_divide('suggestions_followed', 'requests_with_suggestions') }}
            as suggestion_follow_rate
    from aggregated
)

select * from rated

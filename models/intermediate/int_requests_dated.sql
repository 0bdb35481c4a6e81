-- One row per chat request, with its calendar day in the reporting time zone (request_date),
-- its UTC day (pricing_date: prices change at UTC midnight) and the SQL fingerprint (recomputed
-- where a row arrived without the raw table's trigger). Rows stamped more than
-- future_tolerance_hours after the run started come from a skewed clock and are left out of
-- every mart (the test assert_no_telemetry_from_the_future warns about them). Each step's
-- service tier is the tier it was billed at (NULL: default; `fast` is priority). created_date
-- (the same UTC day, from staging) is what the incremental filter prunes by on Spark, where
-- it is the landed table's partition column.
with

requests as (
    select * from {{ ref('stg_chat_telemetry__requests') }}
    where created_at <= {{ latest_trusted_created_at() }}
),

dated as (
    select
        request_id,
        user_id,
        conversation_id,
        created_at,
        {{ local_date('created_at', telemetry_var('reporting_timezone')) }} as request_date,
        {{ local_date('created_at', 'UTC') }} as pricing_date,
        created_date,
        generated_sql,
        case
            when generated_sql is null then null
            else coalesce(sql_fingerprint, {{ sql_fingerprint('generated_sql') }})
        end as sql_fingerprint,
        result_row_count,
        error_type,
        failed_step,
        error_type is not null as is_error,
        is_off_topic,
        sql_model,
        response_model,
        nl_to_sql_duration_ms,
        sql_execution_duration_ms,
        response_generation_duration_ms,
        ttfb_ms,
        sql_input_tokens,
        sql_output_tokens,
        sql_cached_input_tokens,
        response_input_tokens,
        response_output_tokens,
        response_cached_input_tokens,
        {{ billed_service_tier('sql_service_tier') }} as sql_service_tier,
        {{ billed_service_tier('response_service_tier') }} as response_service_tier,
        sql_cache_write_input_tokens,
        response_cache_write_input_tokens,
        question_hash,
        follow_up_suggestion_hashes
    from requests
)

select * from dated

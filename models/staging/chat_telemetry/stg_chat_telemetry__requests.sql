-- One row per chat request, renamed and cast from the raw table.
-- The question, the answer, follow-ups and error messages (free text, personal data) are
-- left out on purpose: they never leave the raw table. Answer quality needs to know whether
-- a question equals one of the previous answer's suggestions, so staging keeps an md5 hash
-- of the normalised question and of each suggestion (lowercased, trimmed, whitespace runs
-- as one space), never the text; on Spark those hashes were computed by Postgres and landed.
-- created_date is the UTC day of created_at: on Spark the landed table's partition column,
-- which the incremental models filter on so that Spark reads only the days they rebuild.
with

source as (
    select * from {{ source('chat_telemetry', 'chat_telemetry_log') }}
),

renamed as (
    select
        log_id as request_id,
        user_id,
        conversation_id,
        response_id,
        created_at,
        generated_sql,
        sql_fingerprint,
        result_row_count,
        error_type,
        failed_step,
        is_off_topic,
        sql_model,
        response_model,
        nl_to_sql_duration_ms,
        sql_execution_duration_ms,
        response_generation_duration_ms,
        ttfb_ms,
        sql_input_tokens,
        sql_output_tokens,
        sql_cached_tokens as sql_cached_input_tokens,
        response_input_tokens,
        response_output_tokens,
        response_cached_tokens as response_cached_input_tokens,
        sql_service_tier,
        response_service_tier,
        sql_cache_write_tokens as sql_cache_write_input_tokens,
        response_cache_write_tokens as response_cache_write_input_tokens,
        {{ question_hash() }} as question_hash,
        {{ follow_up_suggestion_hashes() }} as follow_up_suggestion_hashes,
        {{ created_utc_date() }} as created_date
    from source
)

select * from renamed

-- One row per chat request, with what answer quality needs from its conversation's next
-- request (by created_at, then request_id; same conversation): whether it was an empty
-- result (generated SQL, no error, result_row_count = 0), whether it was re-asked (it failed
-- or had an empty result and the next request started at most reask_window_minutes after
-- it) and whether one of its follow-up suggestions was taken (the next question's hash is
-- one of the suggestions' hashes, both normalised). Requests without a conversation are
-- never re-asked and never followed. Only hashes are compared: no text reaches this table.
-- Incremental (whole days from the run's start date): the next request of a rebuilt day's
-- request is later, so it is always among the rows read, and a late next request corrects
-- the earlier day within the lookback. Users missing from auth.users are forgotten on every
-- day. Indexed on conversation_id: fct_conversations reads whole conversations by it.
{{ config(**daily_incremental_config(
    indexed=true, forget_erased_users=true, extra_indexes=['conversation_id']
)) }}
{#- Spark: who was erased is known before this model's forget post-hook runs (Postgres
    builds the record alongside: its own search is an index probe per user) -#}
{%- if target.type == 'spark' %}
-- depends_on: {{ ref('int_users_seen_daily') }}
{%- endif %}

{%- set reask_window_minutes = telemetry_var('reask_window_minutes') %}

with

requests as (
    select * from {{ ref('int_requests_dated') }}
    where {{ incremental_filter() }}
),

sequenced as (
    select
        *,
        lead(created_at) over (
            partition by conversation_id order by created_at, request_id
        ) as next_request_at,
        lead(question_hash) over (
            partition by conversation_id order by created_at, request_id
        ) as next_question_hash
    from requests
),

classified as (
    select
        request_id,
        user_id,
        conversation_id,
        created_at,
        request_date,
        sql_model,
        error_type,
        is_error,
        is_off_topic,
        generated_sql is not null as has_sql,
        coalesce(generated_sql is not null and not is_error and result_row_count = 0, false)
            as is_empty_result,
        coalesce(follow_up_suggestion_hashes, '') != '' as has_suggestions,
        case when conversation_id is not null then next_request_at end as next_request_at,
        conversation_id is not null
        and next_question_hash is not null
        and {{ hash_list_holds('follow_up_suggestion_hashes', 'next_question_hash') }}
            as is_suggestion_followed
    from sequenced
),

flagged as (
    select
        request_id,
        user_id,
        conversation_id,
        created_at,
        request_date,
        sql_model,
        error_type,
        is_error,
        is_off_topic,
        has_sql,
        is_empty_result,
        is_error or is_empty_result as is_failed_or_empty,
        coalesce(
            (is_error or is_empty_result)
            and next_request_at <= created_at + {{ interval_minutes(reask_window_minutes) }},
            false
        ) as is_reasked,
        has_suggestions,
        is_suggestion_followed
    from classified
)

select * from flagged

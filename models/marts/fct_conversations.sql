-- One row per conversation (and its user) over all history: turns, errors, empty results,
-- off-topic requests, re-asks and followed suggestions (as in fct_daily_answer_quality),
-- the known cost priced at read time from the per-conversation token sums, and whether it
-- ended on a failure (its last request failed or had an empty result). Requests without a
-- conversation are in no row. Incremental: a run recomputes only the conversations with a
-- request on a rebuilt day (lookback, repriced days) or whose last request is in the
-- lookback, by conversation on Postgres, by first_request_date partition on Spark
-- (macros/incremental/conversations.sql); erased users are forgotten by a post-hook.
-- depends_on: {{ ref('int_token_prices_matched') }}
-- depends_on: {{ ref('int_model_tiers_used_daily') }}
{{ config(**conversations_config()) }}
{%- set days = rebuilt_conversation_days() %}
{%- set of_recomputed_conversations_filter = of_recomputed_conversations(days) %}

with

requests_of_rebuilt_days as (
    select conversation_id from {{ ref('int_requests_sequenced') }}
    where conversation_id is not null and {{ rebuilt_days_filter(days=days) }}
),

touched_conversations as (
    select requests_of_rebuilt_days.conversation_id from requests_of_rebuilt_days
    {%- if is_incremental() and not days['all'] %}
        union
        select previous_conversations.conversation_id from {{ this }} as previous_conversations
        where {{ conversations_ending_in_rebuilt_days(days) }}
    {%- endif %}
),

-- Every request and token sum of the recomputed conversations only: on Postgres those
-- touched, read through the conversation_id indexes (one_of: a filter Postgres pushes down
-- to the index scan, below the pricing joins of the priced view), on Spark the partitions
-- of the days from the run's start day (the conversations that started before it are left
-- out in kept); so that a scheduled run reads what changed.
conversation_requests as (
    select * from {{ ref('int_requests_sequenced') }}
    where conversation_id is not null and {{ of_recomputed_conversations_filter }}
),

token_usage as (
    select * from {{ ref('int_conversation_token_usage_priced') }}
    where {{ of_recomputed_conversations_filter }}
),

ranked_by_recency as (
    select
        *,
        row_number() over (
            partition by conversation_id order by created_at desc, request_id desc
        ) as recency_rank
    from conversation_requests
),

aggregated as (
    select
        conversation_id,
        user_id,
        min(created_at) as first_request_at,
        max(created_at) as last_request_at,
        min(request_date) as first_request_date,
        cast(count(*) as {{ dbt.type_bigint() }}) as turns,
        cast(sum(case when is_error then 1 else 0 end) as {{ dbt.type_bigint() }}) as errors,
        cast(sum(case when is_empty_result then 1 else 0 end) as {{ dbt.type_bigint() }})
            as empty_results,
        cast(sum(case when is_off_topic then 1 else 0 end) as {{ dbt.type_bigint() }})
            as off_topic_requests,
        cast(sum(case when is_reasked then 1 else 0 end) as {{ dbt.type_bigint() }})
            as reasked_requests,
        cast(sum(case when is_suggestion_followed then 1 else 0 end) as {{ dbt.type_bigint() }})
            as suggestions_followed,
        max(case when recency_rank = 1 and is_failed_or_empty then 1 else 0 end) = 1
            as ended_on_failure
    from ranked_by_recency
    group by conversation_id, user_id
),

costs_per_conversation as (
    select
        conversation_id,
        sum(known_cost_usd_x1m) as known_cost_usd_x1m,
        sum(case when has_unknown_cost then requests else 0 end) as unpriced_requests
    from token_usage
    group by conversation_id
),

joined as (
    select
        aggregated.conversation_id,
        aggregated.user_id,
        aggregated.first_request_at,
        aggregated.last_request_at,
        aggregated.turns,
        aggregated.errors,
        aggregated.empty_results,
        aggregated.off_topic_requests,
        aggregated.reasked_requests,
        aggregated.suggestions_followed,
        cast(costs_per_conversation.known_cost_usd_x1m * 0.000001 as {{ type_usd() }})
            as total_cost_usd,
        cast(coalesce(costs_per_conversation.unpriced_requests, 0) as {{ dbt.type_bigint() }})
            as unpriced_requests,
        aggregated.ended_on_failure,
        aggregated.first_request_date
    from aggregated
    left join costs_per_conversation
        on aggregated.conversation_id = costs_per_conversation.conversation_id
),

-- Spark reads whole days, which also hold the later requests of a few conversations that
-- started before them: those keep their row (not_started_before_recomputed_days).
kept as (
    select * from joined
    where {{ not_started_before_recomputed_days(days) }}
)

select * from kept

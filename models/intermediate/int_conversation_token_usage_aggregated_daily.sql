-- One row per request_date, pricing_date, conversation (and its user), model pair, and per
-- step the billing mode: the token sums of int_token_usage_aggregated_daily, per conversation
-- (macros/pricing/token_usage.sql), for fct_conversations' cost. Requests without a
-- conversation are left out. Token sums, never costs: int_conversation_token_usage_priced
-- prices them at read time. Incremental (whole days from the run's start date); users missing
-- from auth.users are forgotten on every day. Indexed on conversation_id: fct_conversations
-- reads it by conversation.
{{ config(**daily_incremental_config(
    indexed=true, forget_erased_users=true, extra_indexes=['conversation_id']
)) }}
{#- Spark: who was erased is known before this model's forget post-hook runs (Postgres
    builds the record alongside: its own search is an index probe per user) -#}
{%- if target.type == 'spark' %}
-- depends_on: {{ ref('int_users_seen_daily') }}
{%- endif %}

{{ token_usage_sums(
    ref('int_requests_dated'), ['user_id', 'conversation_id'], 'conversation_id is not null'
) }}

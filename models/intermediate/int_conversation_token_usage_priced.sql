-- One row per row of int_conversation_token_usage_aggregated_daily, priced at read time as
-- int_token_usage_priced prices the per-user sums (macros/pricing/token_usage.sql): the seed as
-- it is now, unknown (NULL, never 0) where no price applies. A view (stable_view: replaced only
-- when its definition changes).
{{ config(materialized='stable_view') }}
{{ priced_token_usage(
    ref('int_conversation_token_usage_aggregated_daily'), ['user_id', 'conversation_id']
) }}

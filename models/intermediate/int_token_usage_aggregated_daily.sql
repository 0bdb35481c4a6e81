-- One row per request_date, pricing_date, user, model pair, and per step: the service tier
-- it was billed at, whether it ran and had its token counts, and whether its calls were long
-- context (decided per call, on its own input tokens, against the threshold in force, which
-- is kept with the sums). Token sums, never costs: costs are priced at read time
-- (int_token_usage_priced), so a price added or corrected in the seed reprices the days that
-- used it, also days whose raw rows were purged. Incremental (whole days from the run's start
-- date); users missing from auth.users are forgotten on every day.
{{ config(**daily_incremental_config(
    indexed=true, forget_erased_users=true, log_forgotten_days=true
)) }}
{#- Spark: who was erased is known before this model's forget post-hook runs (Postgres
    builds the record alongside: its own search is an index probe per user) -#}
{%- if target.type == 'spark' %}
-- depends_on: {{ ref('int_users_seen_daily') }}
{%- endif %}

{{ token_usage_sums(ref('int_requests_dated'), ['user_id']) }}

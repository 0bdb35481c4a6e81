-- One row per row of int_token_usage_aggregated_daily, priced at read time with the token
-- price of each step's service tier in force on its UTC day (pricing_date), as
-- int_token_prices_matched matched it, at the long-context rates for sums of long-context
-- calls. A step's cost is unknown (NULL, never 0) when no price is in force for its tier, its
-- input or output token count is missing, its calls are long context and the model has no
-- long-context price, or the threshold its calls were classified with is no longer the one
-- in force (macros/pricing/token_usage.sql). A view: every build (and every read) uses the seed as
-- it is now (stable_view: replaced only when its definition changes).
{{ config(materialized='stable_view') }}
{{ priced_token_usage(ref('int_token_usage_aggregated_daily'), ['user_id']) }}

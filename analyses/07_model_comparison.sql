-- Report 7: model comparison over the 30-day window: volume, errors, latency, tokens, cost.
with

model_comparison as (
    select * from {{ ref('fct_model_comparison') }}
)

select
    sql_model,
    response_model,
    requests,
    error_rate,
    p50_nl_to_sql_ms,
    p95_nl_to_sql_ms,
    p50_response_generation_ms,
    p95_response_generation_ms,
    p95_ttfb_ms,
    avg_cost_usd
from model_comparison
order by requests desc

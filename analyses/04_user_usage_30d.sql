-- Report 4: per-user usage over the last 30 days (user ids only: no personal data).
with

user_usage as (
    select * from {{ ref('rpt_user_usage_30d') }}
)

select
    user_id,
    requests,
    total_tokens,
    total_cost_usd,
    errors,
    off_topic_requests,
    first_request_at,
    last_request_at
from user_usage
order by total_cost_usd desc nulls last, requests desc

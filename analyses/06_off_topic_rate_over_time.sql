-- Report 6: off-topic rate over time, per day.
with

daily_off_topic as (
    select * from {{ ref('fct_daily_off_topic') }}
)

select
    request_date,
    requests,
    off_topic_requests,
    off_topic_rate
from daily_off_topic
order by request_date

-- Warns about raw rows stamped more than future_tolerance_hours after this run started: a
-- client with a skewed clock. No mart counts them (int_requests_dated leaves them out), so a
-- row from 2099 cannot stop the incremental models from counting new rows. Fix the client's
-- clock; the rows count once the time they claim has come, or delete them.
{{ config(severity = 'warn') }}

with

requests as (
    select * from {{ ref('stg_chat_telemetry__requests') }}
),

from_the_future as (
    select
        request_id,
        created_at
    from requests
    where created_at > {{ latest_trusted_created_at() }}
)

select * from from_the_future

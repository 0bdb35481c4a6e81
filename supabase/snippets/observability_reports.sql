-- observability_reports.sql: the seven reports of analyses/ as plain SQL for the Supabase SQL
-- editor (or psql, or any BI tool's SQL box), reading the marts in the `analytics` schema.
--
-- How to run: paste the file in the SQL editor (or open it as a snippet), select one report,
-- from its `-- report:` line to its semicolon, and press "Run selected" (running the whole
-- file shows only the last report's rows). Any role that reads the marts can run them:
-- `postgres`, or the read-only `bi_reader` and its logins. They read nothing else.
--
-- Same queries as analyses/: each report below is its analyses/ file with the dbt parts
-- written out (ref() is analytics.<mart>; the vars take their defaults), so its rows are the
-- rows of `dbt compile --select analyses/<name>` run on the same marts.
-- tests/python/test_supabase.py runs each report and its compiled analysis and compares their
-- rows: change a report in analyses/ first, then here.
--
-- Days: request_date is a day in the marts' reporting time zone (dbt var reporting_timezone,
-- UTC by default). "Today" below is `cast(current_timestamp at time zone 'UTC' as date)`, the
-- day dbt fixes when it compiles (its run's start); if the marts were built with another
-- reporting_timezone, replace 'UTC' with that zone (e.g. 'Europe/Paris') in the reports that
-- have a window (1, 2 and 3).
-- Reports 4 and 7 read marts whose 30-day window was fixed by the last `dbt build` (their
-- window_start_date and window_end_date columns say which days); 5 and 6 cover all history.
--
-- NULLs are kept as they are in the marts: NULL means unknown or not applicable, never 0.
-- Each report says which of its columns can be NULL and where those rows sort.


-- report: 01_token_cost_over_time_range
-- Token cost over a time range (analyses/01_token_cost_over_time_range.sql).
-- Daily cost by model, with the unpriced usage that the totals leave out. Reads
-- fct_daily_token_cost only.
-- Window: the 30 days ending today (both ends included). For other days, edit the two bounds
-- of the `between`, e.g. `between date '2026-11-01' and date '2026-11-30'` (the analysis's
-- start_date and end_date vars; unset, it covers all history).
-- NULLs: total_cost_usd is NULL when no request of that model and day was priced (unknown,
-- not free): unpriced_requests counts the steps left out of it. Within a day, rows sort by
-- cost descending with NULL costs first (PostgreSQL's default for `desc`, as the analysis).
-- A model is never NULL here: tokens recorded without a model show as '(unknown)'.
with

daily_token_cost as (
    select * from analytics.fct_daily_token_cost
    where
        request_date between cast(current_timestamp at time zone 'UTC' as date) - 29
        and cast(current_timestamp at time zone 'UTC' as date)
),

cost_by_day_and_model as (
    select
        request_date,
        model,
        sum(requests) as requests,
        sum(input_tokens) as input_tokens,
        sum(cached_input_tokens) as cached_input_tokens,
        sum(output_tokens) as output_tokens,
        sum(total_cost_usd) as total_cost_usd,
        sum(unpriced_requests) as unpriced_requests
    from daily_token_cost
    group by request_date, model
)

select * from cost_by_day_and_model
order by request_date asc, total_cost_usd desc nulls first;


-- report: 02_latency_per_step
-- Latency per step with p50 / p95 / p99 (analyses/02_latency_per_step.sql): successful
-- requests, per day and step (nl_to_sql, sql_execution, response_generation, ttfb).
-- Percentiles do not add up across days: read one day at a time, or the daily series.
-- Window: the 30 days ending today (window_days = 30; the analysis has no upper bound, so a
-- day after today, from a skewed clock, would show too). Widen with e.g. `- 89` for 90 days.
-- NULLs: none in practice; a step with no successful request that day has no row at all.
with

daily_step_latency as (
    select * from analytics.fct_daily_step_latency
),

recent_days as (
    select *
    from daily_step_latency
    where request_date >= cast(current_timestamp at time zone 'UTC' as date) - 29
)

select
    request_date,
    step,
    requests,
    p50_ms,
    p95_ms,
    p99_ms,
    max_ms
from recent_days
order by request_date, step;


-- report: 03_error_breakdown
-- Error breakdown by type and failed step (analyses/03_error_breakdown.sql), with the rate
-- over all requests of the window.
-- Window: the 30 days ending today (both ends included), in both CTEs: edit them together.
-- NULLs: failed_step is 'unknown' when the writer did not record it (never NULL).
-- error_rate is NULL when the window has no request at all (division guarded by nullif,
-- never a division by zero); the report then has no row anyway.
with

daily_errors as (
    select * from analytics.fct_daily_errors
    where
        request_date between cast(current_timestamp at time zone 'UTC' as date) - 29
        and cast(current_timestamp at time zone 'UTC' as date)
),

daily_requests as (
    select * from analytics.fct_daily_off_topic
    where
        request_date between cast(current_timestamp at time zone 'UTC' as date) - 29
        and cast(current_timestamp at time zone 'UTC' as date)
),

window_requests as (
    select sum(requests) as requests from daily_requests
),

breakdown as (
    select
        daily_errors.error_type,
        daily_errors.failed_step,
        sum(daily_errors.errors) as errors,
        cast(sum(daily_errors.errors) as float8) / nullif(max(window_requests.requests), 0)
            as error_rate
    from daily_errors
    cross join window_requests
    group by daily_errors.error_type, daily_errors.failed_step
)

select * from breakdown
order by errors desc;


-- report: 04_user_usage_30d
-- Per-user usage over the last 30 days (analyses/04_user_usage_30d.sql): user ids only, no
-- personal data.
-- Window: the 30 days of rpt_user_usage_30d, fixed by the last `dbt build` (its columns
-- window_start_date and window_end_date); nothing to edit here.
-- NULLs: total_cost_usd is NULL when none of the user's steps was priced (unknown, not free);
-- those users sort last. total_tokens counts what was recorded.
with

user_usage as (
    select * from analytics.rpt_user_usage_30d
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
order by total_cost_usd desc nulls last, requests desc;


-- report: 05_top_sql_patterns
-- The 20 most frequent SQL patterns (analyses/05_top_sql_patterns.sql): fingerprints (one per
-- query up to whitespace and case) with their latest SQL, execution time and errors.
-- Window: all history (fct_sql_fingerprints keeps every day it built). Change `limit 20` for
-- more or fewer.
-- NULLs: avg_sql_execution_ms and avg_result_row_count are NULL when no request of the
-- pattern recorded them (e.g. every one failed before running the SQL).
with

sql_fingerprints as (
    select * from analytics.fct_sql_fingerprints
)

select
    sql_fingerprint,
    occurrences,
    errors,
    avg_sql_execution_ms,
    avg_result_row_count,
    last_seen_at,
    example_sql
from sql_fingerprints
order by occurrences desc
limit 20;


-- report: 06_off_topic_rate_over_time
-- Off-topic rate per day (analyses/06_off_topic_rate_over_time.sql).
-- Window: every day the marts hold. For the last 30 days only, add
-- `where request_date >= cast(current_timestamp at time zone 'UTC' as date) - 29`
-- to the CTE.
-- NULLs: none; a day without requests has no row.
with

daily_off_topic as (
    select * from analytics.fct_daily_off_topic
)

select
    request_date,
    requests,
    off_topic_requests,
    off_topic_rate
from daily_off_topic
order by request_date;


-- report: 07_model_comparison
-- Model comparison (analyses/07_model_comparison.sql): volume, errors, latency, tokens and
-- cost per pair of NL-to-SQL and response models.
-- Window: the 30 days of fct_model_comparison, fixed by the last `dbt build` (its columns
-- window_start_date and window_end_date); nothing to edit here.
-- NULLs: a model not recorded shows as '(none)'. The latency columns are NULL for a pair
-- without a successful request (nothing measured); avg_cost_usd is NULL when no request of
-- the pair had every step priced (unknown, not free).
with

model_comparison as (
    select * from analytics.fct_model_comparison
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
order by requests desc;

-- At most one row (rule telemetry_silence, subject 'all', severity error), dated the day dbt
-- runs in the reporting time zone: no telemetry row for at least silence_hours whole hours
-- that normally carry traffic. An hour of day (reporting time zone) normally carries traffic
-- when it had a row on at least silence_active_hour_share of the alert_baseline_days complete
-- days before today that had any row (at least alert_min_baseline_days of them), so a quiet
-- night is not silence. Hours are counted back from dbt's run start in whole hours after the
-- last row. Reads the retained requests (incremental, kept after a raw purge).
{%- set baseline_day_count = telemetry_var('alert_baseline_days') | int %}

with

retained_requests as (
    select
        created_at,
        request_date
    from {{ ref('int_requests_retained') }}
    where request_date >= {{ add_days(alert_run_date(), - baseline_day_count) }}
),

-- One pass over the requests: the hours of day with a row, per day, and each one's last
-- row (the two reads of the requests below share this aggregate; read twice, the requests
-- were scanned twice on Spark).
listed_hours as (
    select
        request_date,
        {{ local_hour('created_at', telemetry_var('reporting_timezone')) }} as hour_of_day,
        max(created_at) as last_row_at
    from retained_requests
    group by
        request_date,
        {{ local_hour('created_at', telemetry_var('reporting_timezone')) }}
),

found_last_row as (
    select max(last_row_at) as last_row_at
    from listed_hours
),

listed_baseline_hours as (
    select
        request_date,
        hour_of_day
    from listed_hours
    where request_date < {{ alert_run_date() }}
),

counted_baseline_days as (
    select count(distinct request_date) as baseline_days
    from listed_baseline_hours
),

selected_active_hours as (
    select listed_baseline_hours.hour_of_day
    from listed_baseline_hours
    cross join counted_baseline_days
    where counted_baseline_days.baseline_days >= {{ telemetry_var('alert_min_baseline_days') }}
    group by listed_baseline_hours.hour_of_day, counted_baseline_days.baseline_days
    having
        count(*)
        >= {{ telemetry_var('silence_active_hour_share') }} * counted_baseline_days.baseline_days
),

generated_hours_back as (
    {{ number_series(24 * baseline_day_count) }}
),

sliced_recent_hours as (
    select
        {{ add_hours(alert_run_started_at(), '- generated_number') }} as slot_start_at,
        {{ local_hour(
            add_hours(alert_run_started_at(), '0.5 - generated_number'),
            telemetry_var('reporting_timezone')
        ) }} as hour_of_day
    from generated_hours_back
),

counted_silent_hours as (
    select
        found_last_row.last_row_at,
        count(*) as silent_active_hours
    from sliced_recent_hours
    cross join found_last_row
    inner join selected_active_hours
        on sliced_recent_hours.hour_of_day = selected_active_hours.hour_of_day
    where
        found_last_row.last_row_at is null
        or sliced_recent_hours.slot_start_at >= found_last_row.last_row_at
    group by found_last_row.last_row_at
),

described as (
    select
        {{ alert_run_date() }} as alert_date,
        'telemetry_silence' as rule,  -- noqa: RF04
        'all' as subject,
        cast(silent_active_hours as {{ type_usd() }}) as observed,
        cast({{ telemetry_var('silence_hours') }} as {{ type_usd() }}) as expected,
        'error' as severity,
        coalesce(
            'No telemetry row since ' || {{ alert_timestamp_text('last_row_at') }} || ' ('
            || {{ alert_number(hours_between('last_row_at', alert_run_started_at()), 1) }}
            || ' hours before this build), ',
            'No telemetry row in the last '
            || cast({{ baseline_day_count }} as {{ dbt.type_string() }}) || ' days, '
        )
        || cast(silent_active_hours as {{ dbt.type_string() }})
        || ' whole hours of them normally carry traffic (threshold '
        || cast({{ telemetry_var('silence_hours') }} as {{ dbt.type_string() }})
        || '): check the writer.' as message
    from counted_silent_hours
    where silent_active_hours >= {{ telemetry_var('silence_hours') }}
)

select * from described

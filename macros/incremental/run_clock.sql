{#- The run's start instant (dbt's run_started_at, UTC) as a timestamptz. -#}
{% macro run_started_at_utc() -%}
    {{ return(adapter.dispatch('run_started_at_utc', 'chat_telemetry')()) }}
{%- endmacro %}

{#-
    The day the run started in the reporting time zone, as an expression: alert_run_date,
    run_today (asked of the engine) and as_of_date (while parsing) all date the run by it.
-#}
{% macro run_started_local_date() -%}
    {{ local_date(run_started_at_utc(), telemetry_var('reporting_timezone')) }}
{%- endmacro %}

{#- Seconds since the epoch: unambiguous whatever the session's time zone. -#}
{% macro run_started_at_epoch() -%}
    {{ run_started_at.replace(tzinfo=modules.pytz.utc).timestamp() }}
{%- endmacro %}

{% macro postgres__run_started_at_utc() -%}
    to_timestamp({{ run_started_at_epoch() }})
{%- endmacro %}

{% macro spark__run_started_at_utc() -%}
    timestamp_micros(cast({{ run_started_at_epoch() }} * 1000000 as bigint))
{%- endmacro %}

{#-
    Rows stamped later than this are from a skewed clock: no mart counts them (the test
    assert_no_telemetry_from_the_future warns about them), so that one row from 2099 cannot
    move the incremental start date past today.
-#}
{% macro latest_trusted_created_at() -%}
    ({{ run_started_at_utc() }} + {{ interval_hours(telemetry_var('future_tolerance_hours')) }})
{%- endmacro %}

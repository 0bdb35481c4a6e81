{#-
    The days and instants of the alert models (models/intermediate/alerts/int_alert_*.sql,
    models/marts/alerts/rpt_alerts.sql); their message text is in message_text.sql and
    anomaly_message.sql.
    The alert models call alert_run_date() and alert_run_started_at() directly, so that dbt unit
    tests can pin "today" and "now" with `overrides: macros:`.
-#}

{#- Today in the reporting time zone, from dbt's run start: days before it are complete. -#}
{% macro alert_run_date() -%}
    {{ run_started_local_date() }}
{%- endmacro %}

{#-
    The first day rpt_alerts reports: alert_window_days before as_of_date (today unless set,
    as for the windowed marts). The rules read alert_baseline_days more before it (the
    baseline of the window's first day), and nothing older, so a run reads the same few rows
    per day whatever the length of history.
-#}
{% macro alert_window_start_date() -%}
    {{ add_days(as_of_date(), - (telemetry_var('alert_window_days') | int)) }}
{%- endmacro %}

{% macro alert_input_start_date() -%}
    {{ add_days(
        as_of_date(), - (telemetry_var('alert_window_days') | int) - (telemetry_var('alert_baseline_days') | int)
    ) }}
{%- endmacro %}

{#- The instant telemetry silence is measured up to: dbt's run start (UTC). -#}
{% macro alert_run_started_at() -%}
    {{ run_started_at_utc() }}
{%- endmacro %}

{#-
    Pieces of the alert models (models/intermediate/alerts/int_alert_*.sql, models/marts/alerts/rpt_alerts.sql).
    The alert models call alert_run_date() and alert_run_started_at() directly, so that dbt unit
    tests can pin "today" and "now" with `overrides: macros:`.
-#}

{#- Today in the reporting time zone, from dbt's run start: days before it are complete. -#}
{% macro alert_run_date() -%}
    {{ local_date(run_started_at_utc(), telemetry_var('reporting_timezone')) }}
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

{#- The hour of day (0-23) of a timestamptz in an IANA time zone. -#}
{% macro local_hour(timestamp_column, timezone) -%}
    {{ return(adapter.dispatch('local_hour', 'chat_telemetry')(timestamp_column, timezone)) }}
{%- endmacro %}

{% macro postgres__local_hour(timestamp_column, timezone) -%}
    cast(extract(hour from ({{ timestamp_column }}) at time zone '{{ timezone }}') as integer)
{%- endmacro %}

{% macro spark__local_hour(timestamp_column, timezone) -%}
    hour(from_utc_timestamp({{ timestamp_column }}, '{{ timezone }}'))
{%- endmacro %}

{#- A timestamptz moved by a (possibly fractional, possibly negative) number of hours. -#}
{% macro add_hours(timestamp_expression, hours_expression) -%}
    {{ return(adapter.dispatch('add_hours', 'chat_telemetry')(timestamp_expression, hours_expression)) }}
{%- endmacro %}

{% macro postgres__add_hours(timestamp_expression, hours_expression) -%}
    (({{ timestamp_expression }}) + ({{ hours_expression }}) * interval '1 hour')
{%- endmacro %}

{% macro spark__add_hours(timestamp_expression, hours_expression) -%}
    timestamp_micros(
        unix_micros({{ timestamp_expression }})
        + cast(({{ hours_expression }}) * 3600000000 as bigint)
    )
{%- endmacro %}

{#- Hours from one timestamptz to a later one, as a float. -#}
{% macro hours_between(earlier, later) -%}
    {{ return(adapter.dispatch('hours_between', 'chat_telemetry')(earlier, later)) }}
{%- endmacro %}

{% macro postgres__hours_between(earlier, later) -%}
    (extract(epoch from ({{ later }}) - ({{ earlier }})) / 3600.0)
{%- endmacro %}

{% macro spark__hours_between(earlier, later) -%}
    ((unix_micros({{ later }}) - unix_micros({{ earlier }})) / 3600000000.0)
{%- endmacro %}

{#- A number rounded to `places` decimals, as text, for alert messages. -#}
{% macro alert_number(expression, places=2) -%}
    cast(round(cast({{ expression }} as numeric(38, 6)), {{ places }}) as {{ dbt.type_string() }})
{%- endmacro %}

{#- A relative change (0.5) as a signed percentage text (+50%), for alert messages. -#}
{#- A relative change of NULL (a median of 0) reads 'up from 0'. -#}
{% macro alert_percent(expression) -%}
    coalesce(
        case when ({{ expression }}) >= 0 then '+' else '' end
        || cast(round(cast(100 * ({{ expression }}) as numeric(38, 6)), 0) as {{ dbt.type_string() }})
        || '%',
        'up from 0'
    )
{%- endmacro %}

{#- The robust z-score in words: 'robust z 7.3', or 'MAD 0' when the baseline never varied. -#}
{% macro alert_robust_z_text(robust_z) -%}
    coalesce('robust z ' || {{ alert_number(robust_z, 1) }}, 'baseline MAD 0')
{%- endmacro %}

{#- A timestamptz as 'YYYY-MM-DD HH:MM UTC', for alert messages. -#}
{% macro alert_timestamp_text(timestamp_expression) -%}
    {{ return(adapter.dispatch('alert_timestamp_text', 'chat_telemetry')(timestamp_expression)) }}
{%- endmacro %}

{% macro postgres__alert_timestamp_text(timestamp_expression) -%}
    (to_char(({{ timestamp_expression }}) at time zone 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC')
{%- endmacro %}

{% macro spark__alert_timestamp_text(timestamp_expression) -%}
    (date_format({{ timestamp_expression }}, 'yyyy-MM-dd HH:mm') || ' UTC')
{%- endmacro %}

{#-
    How int_alert_daily_metrics is materialised: a view on Postgres (a few rows per day, read
    cheaply), a table on Spark, where a view is inlined into every one of its references in
    int_alert_anomalies (the day, its baseline days, the medians, the deviations) and each
    copy re-reads five marts: ~10 s a run at 1M rows on 2 cores, against ~1 s for the table.
-#}
{% macro alert_metrics_materialization() -%}
    {{ return(adapter.dispatch('alert_metrics_materialization', 'chat_telemetry')()) }}
{%- endmacro %}

{% macro default__alert_metrics_materialization() -%}
    {{ return('view') }}
{%- endmacro %}

{% macro spark__alert_metrics_materialization() -%}
    {{ return('table') }}
{%- endmacro %}

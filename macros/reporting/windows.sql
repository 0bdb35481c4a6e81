{#-
    The report day that windowed marts (and the alert windows) end on: var as_of_date, else
    the day the run started in the reporting time zone (run_today: dbt's run start, as
    alert_run_date and the rebuilt days), a date literal. Not the clock of each statement: a
    run that crosses midnight would end two windowed marts on different days, and the alert
    window (from as_of_date) and the alerts' run date would disagree by one. A stable view
    built on it (int_alert_daily_metrics on Postgres) is replaced on the first run of each
    day, when the literal changes (its window is the run's, as every mart's). Parsing (no
    query can run) gets the same day as an expression. `dbt compile --no-introspect` cannot
    run the query: pass as_of_date there.
-#}
{% macro as_of_date() -%}
    {%- set configured = telemetry_var('as_of_date') -%}
    {%- if configured -%}
        {{ date_literal(configured) }}
    {%- elif execute -%}
        {{ date_literal(run_today()) }}
    {%- else -%}
        {{ run_started_local_date() }}
    {%- endif -%}
{%- endmacro %}

{#- First day of the window_days-day window ending on as_of_date. -#}
{% macro window_start_date() -%}
    {{ add_days(as_of_date(), 1 - telemetry_var('window_days') | int) }}
{%- endmacro %}

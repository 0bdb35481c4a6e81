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

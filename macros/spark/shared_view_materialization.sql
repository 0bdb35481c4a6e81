{#-
    How a small intermediate model that several models read in one run is materialised: a
    view on Postgres (cheap to read again, and current with its parents' rows; a
    stable_view, replaced only when its definition changes), a table on Spark, where a
    view is planned and computed again inside every query that reads it. Used by
    int_token_prices_matched (read by the token sums, the priced views, the repriced-days
    comparison and the applied-prices record of every cost mart: ~0.8 s a read at 1M rows on
    2 cores) and int_alert_daily_metrics (inlined into each of its references in
    int_alert_anomalies, each copy re-reading five marts: ~10 s a run against ~1 s for the
    table). As a table it is as current as the run that built it: select it (or its `+`
    parents) together with the models that read it.
-#}
{% macro shared_view_materialization() -%}
    {{ return(adapter.dispatch('shared_view_materialization', 'chat_telemetry')()) }}
{%- endmacro %}

{% macro default__shared_view_materialization() -%}
    {{ return('stable_view') }}
{%- endmacro %}

{% macro spark__shared_view_materialization() -%}
    {{ return('table') }}
{%- endmacro %}

{#-
    dbt `grants` give the BI role SELECT on each mart; reading them also needs USAGE on the
    marts schema. The internal schema (staging, intermediate, seeds) gets nothing, and raw
    telemetry stays readable by service_role only.
-#}
{% macro grant_marts_schema_usage() -%}
    {{ return(adapter.dispatch('grant_marts_schema_usage', 'chat_telemetry')()) }}
{%- endmacro %}

{% macro default__grant_marts_schema_usage() -%}
    {%- if execute -%}
        grant usage on schema {{ adapter.quote(var('marts_schema')) }} to {{ adapter.quote(var('bi_role')) }}
    {%- endif -%}
{%- endmacro %}

{% macro spark__grant_marts_schema_usage() -%}
    select 1
{%- endmacro %}

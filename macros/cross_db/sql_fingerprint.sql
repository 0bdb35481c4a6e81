{#- The fingerprint the raw table's trigger computes: md5 of lowercased, space-folded SQL. -#}
{% macro sql_fingerprint(sql_column) -%}
    {{ return(adapter.dispatch('sql_fingerprint', 'chat_telemetry')(sql_column)) }}
{%- endmacro %}

{% macro postgres__sql_fingerprint(sql_column) -%}
    md5(lower(regexp_replace({{ sql_column }}, '\s+', ' ', 'g')))
{%- endmacro %}

{% macro spark__sql_fingerprint(sql_column) -%}
    md5(lower(regexp_replace({{ sql_column }}, '\\s+', ' ')))
{%- endmacro %}

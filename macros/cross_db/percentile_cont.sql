{#- Continuous percentile (linear interpolation) of the non-null values, as an aggregate. -#}
{% macro percentile_cont(column, fraction) -%}
    {{ return(adapter.dispatch('percentile_cont', 'chat_telemetry')(column, fraction)) }}
{%- endmacro %}

{% macro default__percentile_cont(column, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ column }})
{%- endmacro %}

{% macro spark__percentile_cont(column, fraction) -%}
    percentile({{ column }}, {{ fraction }})
{%- endmacro %}

{#-
    Several continuous percentiles of one column in one aggregate, as an array in the order of
    `fractions` (read them with array_element): one sort (Postgres) or one value map (Spark)
    per column instead of one per percentile. The same values as percentile_cont.
-#}
{% macro percentiles_cont(column, fractions) -%}
    {{ return(adapter.dispatch('percentiles_cont', 'chat_telemetry')(column, fractions)) }}
{%- endmacro %}

{% macro default__percentiles_cont(column, fractions) -%}
    percentile_cont(array[{{ fractions | join(', ') }}]) within group (order by {{ column }})
{%- endmacro %}

{% macro spark__percentiles_cont(column, fractions) -%}
    percentile({{ column }}, array({{ fractions | join(', ') }}))
{%- endmacro %}

{#- The element at a 0-based position of an array (Postgres counts from 1, Spark from 0). -#}
{% macro array_element(array_expression, position) -%}
    {{ return(adapter.dispatch('array_element', 'chat_telemetry')(array_expression, position)) }}
{%- endmacro %}

{% macro default__array_element(array_expression, position) -%}
    ({{ array_expression }})[{{ position + 1 }}]
{%- endmacro %}

{% macro spark__array_element(array_expression, position) -%}
    ({{ array_expression }})[{{ position }}]
{%- endmacro %}

{#-
    `column` is one of the values a subquery returns. On Postgres `= any(array(subquery))`:
    the subquery runs once, first, and its values reach an index on the column, also through
    a view's joins (an `in (subquery)` semi-join is planned after them). Elsewhere `in`.
-#}
{% macro one_of(column, subquery) -%}
    {{ return(adapter.dispatch('one_of', 'chat_telemetry')(column, subquery)) }}
{%- endmacro %}

{% macro default__one_of(column, subquery) -%}
    {{ column }} in ({{ subquery }})
{%- endmacro %}

{% macro postgres__one_of(column, subquery) -%}
    {{ column }} = any(array({{ subquery }}))
{%- endmacro %}

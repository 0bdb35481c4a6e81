{#- A date plus a number of days (negative to go back). -#}
{% macro add_days(date_expression, days) -%}
    {{ return(adapter.dispatch('add_days', 'chat_telemetry')(date_expression, days)) }}
{%- endmacro %}

{% macro postgres__add_days(date_expression, days) -%}
    cast(({{ date_expression }}) + ({{ days }}) as date)
{%- endmacro %}

{% macro spark__add_days(date_expression, days) -%}
    date_add({{ date_expression }}, {{ days }})
{%- endmacro %}

{#- A date literal. -#}
{% macro date_literal(iso_date) -%}
    {{ return(adapter.dispatch('date_literal', 'chat_telemetry')(iso_date)) }}
{%- endmacro %}

{% macro default__date_literal(iso_date) -%}
    cast('{{ iso_date }}' as date)
{%- endmacro %}

{#-
    Folder configs name a schema role (`marts` or `internal`), not a schema: the vars
    marts_schema and internal_schema say which schema each role lands in, with no target
    prefix, so BI tools always find the marts at the same name.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- elif custom_schema_name | trim == 'marts' -%}
        {{ var('marts_schema') }}
    {%- elif custom_schema_name | trim == 'internal' -%}
        {{ var('internal_schema') }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}

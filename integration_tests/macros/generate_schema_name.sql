{#- This project's own naming: custom schemas get a ci_ prefix, no target schema. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        ci_{{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}

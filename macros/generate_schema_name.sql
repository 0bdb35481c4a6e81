{#-
    Folder configs name a schema role (`marts` or `internal`), not a schema: the vars
    marts_schema and internal_schema say which schema each role lands in, with no target
    prefix, so BI tools always find the marts at the same name.

    Except on the `dev` target (profiles.yml), where dbt's convention applies: the target
    schema (`dev_<user>`) prefixes every schema, so a developer's build writes
    dev_<user>_analytics and dev_<user>_analytics_internal and never the schemas BI tools
    read. Every other target (default, a Spark one, any production target) keeps the
    unprefixed names.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {%- set schema = target.schema -%}
    {%- elif custom_schema_name | trim == 'marts' -%}
        {%- set schema = var('marts_schema') -%}
    {%- elif custom_schema_name | trim == 'internal' -%}
        {%- set schema = var('internal_schema') -%}
    {%- else -%}
        {%- set schema = custom_schema_name | trim -%}
    {%- endif -%}
    {%- if target.name == 'dev' -%}
        {{ dev_schema_prefix() }}{% if custom_schema_name is not none %}_{{ schema }}{% endif %}
    {%- else -%}
        {{ schema }}
    {%- endif -%}
{%- endmacro %}

{#- The dev target's schema as a safe identifier: lower case, [a-z0-9_] only. -#}
{% macro dev_schema_prefix() -%}
    {{- modules.re.sub('[^a-z0-9_]', '_', target.schema | trim | lower) -}}
{%- endmacro %}

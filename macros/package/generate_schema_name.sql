{#-
    Standalone (this project is the one dbt runs), folder configs name a schema role (`marts`
    or `internal`), not a schema: the vars marts_schema and internal_schema say which schema
    each role lands in, with no target prefix, so BI tools always find the marts at the same
    name. Except on the `dev` target (profiles.yml), where dbt's convention applies: the target
    schema (`dev_<user>`) prefixes every schema, so a developer's build writes
    dev_<user>_analytics and dev_<user>_analytics_internal and never the schemas BI tools read.

    Installed as a package, dbt would still call this macro for our models (a package's own
    generate_schema_name wins for its nodes): it hands over to the installing project's
    generate_schema_name, or dbt's default, so our models land where that project's naming
    puts a custom schema `marts` or `internal` (dbt's default: <target schema>_marts).
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if not is_standalone() -%}
        {%- set root = context.get(project_name) -%}
        {%- if root is not none and root.get('generate_schema_name') is not none -%}
            {{ return(root.generate_schema_name(custom_schema_name, node)) }}
        {%- endif -%}
        {{ return(dbt.default__generate_schema_name(custom_schema_name, node)) }}
    {%- endif -%}
    {%- if custom_schema_name is none -%}
        {%- set schema = target.schema -%}
    {%- elif custom_schema_name | trim == 'marts' -%}
        {%- set schema = telemetry_var('marts_schema') -%}
    {%- elif custom_schema_name | trim == 'internal' -%}
        {%- set schema = telemetry_var('internal_schema') -%}
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

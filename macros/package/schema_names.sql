{#- The schemas our marts land in under the installing project's naming (from the graph). -#}
{% macro marts_schemas() -%}
    {%- set schemas = [] -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.package_name == 'chat_telemetry' and node.resource_type == 'model'
            and 'marts' in node.fqn and node.schema not in schemas -%}
            {%- do schemas.append(node.schema) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(schemas) }}
{%- endmacro %}

{#- The schema of our staging and intermediate models (where our state tables live too). -#}
{% macro internal_schema_name() -%}
    {%- if is_standalone() or not execute -%}
        {{ return(generate_schema_name('internal', none) | trim) }}
    {%- endif -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.package_name == 'chat_telemetry' and node.resource_type == 'model'
            and 'staging' in node.fqn -%}
            {{ return(node.schema) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(generate_schema_name('internal', none) | trim) }}
{%- endmacro %}

{#-
    Where raw telemetry lives (the var raw_schema or CHAT_TELEMETRY_RAW_SCHEMA, as in
    models/staging/chat_telemetry/_chat_telemetry__sources.yml): public on Postgres,
    chat_telemetry_raw where Spark landing puts it.
-#}
{% macro raw_schema() -%}
    {{ return(telemetry_var('raw_schema') or env_var('CHAT_TELEMETRY_RAW_SCHEMA', '') or ('chat_telemetry_raw' if target.type in ('spark', 'databricks') else 'public')) }}
{%- endmacro %}

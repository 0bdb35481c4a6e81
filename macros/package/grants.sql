{#-
    The BI role gets SELECT on each mart (a post-hook of the marts folder) and USAGE on the
    marts schema (on-run-end); the internal schema (staging, intermediate, seeds) gets nothing,
    and raw telemetry stays readable by service_role only. Standalone the role is bi_role, else
    bi_reader; installed as a package, grants are made only when chat_telemetry__bi_role names
    a role (a warehouse without bi_reader must not fail on our grants).
-#}
{% macro bi_role() -%}
    {%- set role = telemetry_var('bi_role') -%}
    {%- if not role and is_standalone() -%}
        {%- set role = 'bi_reader' -%}
    {%- endif -%}
    {{ return(role or none) }}
{%- endmacro %}

{#- Post-hook of every mart: SELECT on it for the BI role (nothing on Spark, or without a role). -#}
{% macro grant_select_to_bi_role() -%}
    {{ return(adapter.dispatch('grant_select_to_bi_role', 'chat_telemetry')()) }}
{%- endmacro %}

{% macro default__grant_select_to_bi_role() -%}
    {%- set role = bi_role() -%}
    {%- if execute and role -%}
        grant select on {{ this }} to {{ adapter.quote(role) }}
    {%- endif -%}
{%- endmacro %}

{% macro spark__grant_select_to_bi_role() -%}
    {%- if execute and bi_role() -%}
        {{ log('grants skipped on Spark for ' ~ this ~ ': grant SELECT in your catalog', info=false) }}
    {%- endif -%}
{%- endmacro %}

{#- on-run-end: USAGE on the schemas of our marts for the BI role, when our models ran. -#}
{% macro grant_marts_schema_usage() -%}
    {{ return(adapter.dispatch('grant_marts_schema_usage', 'chat_telemetry')()) }}
{%- endmacro %}

{% macro default__grant_marts_schema_usage() -%}
    {%- set role = bi_role() -%}
    {%- if not execute or not role or not chat_telemetry_models_selected() -%}
        {{ return('') }}
    {%- endif -%}
    {%- if is_standalone() -%}
        {#- The production marts schema, also on the dev target (BI never reads dev schemas). -#}
        {%- set schemas = [telemetry_var('marts_schema')] -%}
    {%- else -%}
        {%- set schemas = marts_schemas() -%}
    {%- endif -%}
    {%- set statements = [] -%}
    {%- for schema in schemas -%}
        {#- A run that built no mart yet (`dbt seed` on a new database) has no schema. -#}
        {%- if adapter.check_schema_exists(target.database, schema) -%}
            {%- do statements.append(
                'grant usage on schema ' ~ adapter.quote(schema) ~ ' to ' ~ adapter.quote(role)
            ) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(statements | join(';\n') if statements else '') }}
{%- endmacro %}

{% macro spark__grant_marts_schema_usage() -%}
{%- endmacro %}

{#-
    Spark: SQL grants belong to the catalog (Unity Catalog on Databricks, Ranger or Lake
    Formation elsewhere), not to dbt-spark's session, and a local Hive metastore has none:
    the marts' `grants` config is skipped there (README: Running on Spark says what to grant).
-#}
{% macro spark__apply_grants(relation, grant_config, should_revoke=True) -%}
    {%- if grant_config -%}
        {{ log('grants skipped on Spark for ' ~ relation ~ ': grant SELECT in your catalog', info=false) }}
    {%- endif -%}
{%- endmacro %}

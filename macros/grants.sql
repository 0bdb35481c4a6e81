{#-
    dbt `grants` give the BI role SELECT on each mart; reading them also needs USAGE on the
    marts schema. The internal schema (staging, intermediate, seeds) gets nothing, and raw
    telemetry stays readable by service_role only.
-#}
{% macro grant_marts_schema_usage() -%}
    {{ return(adapter.dispatch('grant_marts_schema_usage', 'chat_telemetry')()) }}
{%- endmacro %}

{% macro default__grant_marts_schema_usage() -%}
    {#- A run that built no mart yet (`dbt seed` on a new database) has no schema to grant. -#}
    {%- if execute and adapter.check_schema_exists(target.database, var('marts_schema')) -%}
        grant usage on schema {{ adapter.quote(var('marts_schema')) }} to {{ adapter.quote(var('bi_role')) }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{% macro spark__grant_marts_schema_usage() -%}
    select 1
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
